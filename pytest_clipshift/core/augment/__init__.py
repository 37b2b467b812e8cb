"""What is done to an image: the study's augmentations and the registry (``augmentations``), the
ImageNet-C corruptions (``imagenet_c``), their torch versions for the device: one image at a time
(``augment_torch``), whole batches (``augment_batched``), the dispatcher between them
(``device_apply``), with the draws and grids they share in ``tensor_ops`` and the pixel formulas in
``pixel_torch``."""
