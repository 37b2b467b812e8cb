"""What is done to an image: the study's augmentations and the registry (``augmentations``), the
ImageNet-C corruptions (``imagenet_c``), their batched torch versions (``augment_torch``, with
the pixel formulas they share in ``pixel_torch``)."""
