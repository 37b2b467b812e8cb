"""Preprocessing parity with transformers' own CLIP image processor, on real photographs."""

import numpy as np
import pytest

from pytest_clipshift.core.data.images import load_image_set
from pytest_clipshift.core.models.preprocess import PreprocessSettings, to_canvas

# measured: identical to the last bit (max |difference| 0.0) at the processor's own input size
PARITY_ATOL = 1e-6


@pytest.mark.parametrize("size", [224, 64])
def test_parity_with_clip_image_processor(size):
    import torch
    from transformers import CLIPImageProcessor

    processor = CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
    settings = PreprocessSettings.from_processor_dict(processor.to_dict())
    images = load_image_set("samples", max_images=6).arrays
    from pytest_clipshift.core.models.preprocess import normalize_batch

    ours = normalize_batch(
        np.stack([to_canvas(im, settings) for im in images]), settings, torch.device("cpu"), torch.float32
    )
    theirs = processor(images=[im for im in images], return_tensors="pt")["pixel_values"]
    assert ours.shape == theirs.shape == (6, 3, size, size)
    assert float((ours - theirs).abs().max()) <= PARITY_ATOL


def test_canvas_larger_than_input_is_resized_in_torch():
    import torch
    from transformers import CLIPImageProcessor

    processor = CLIPImageProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64})
    settings = PreprocessSettings.from_processor_dict(processor.to_dict())
    image = load_image_set("samples", max_images=1).arrays[0]
    from pytest_clipshift.core.models.preprocess import normalize_batch

    big = to_canvas(image, settings, canvas=(224, 224))
    assert big.shape == (224, 224, 3)
    ours = normalize_batch(big[None], settings, torch.device("cpu"), torch.float32)
    theirs = processor(images=[image], return_tensors="pt")["pixel_values"]
    # two resizes (to the 224 canvas, then to 64) against one: close, not identical
    assert float((ours - theirs).abs().mean()) < 0.05


def test_siglip_style_exact_resize():
    settings = PreprocessSettings.from_processor_dict(
        {
            "do_resize": True,
            "size": {"height": 32, "width": 32},
            "resample": 2,
            "image_mean": [0.5] * 3,
            "image_std": [0.5] * 3,
        }
    )
    assert settings.input_size == (32, 32) and settings.crop is None
    assert to_canvas(np.zeros((50, 80, 3), np.uint8), settings).shape == (32, 32, 3)


def test_unsupported_processor_config():
    with pytest.raises(ValueError, match="unsupported 'size'"):
        PreprocessSettings.from_processor_dict({"size": {"longest_edge": 10}})


@pytest.mark.parametrize("resample", [3, 2], ids=["bicubic", "bilinear"])
def test_a_larger_canvas_is_resized_as_pil_resizes_with_the_configs_filter_to_whole_levels(resample):
    """The canvas-to-input step against PIL's own resize (the processor's): within one grey level with
    the config's filter and far from the other filter's, and whole grey levels (the processor resizes
    uint8 images)."""
    import torch
    from PIL import Image

    from pytest_clipshift.core.models.preprocess import normalize_batch

    canvas = np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8)  # detail: the filters differ
    settings = PreprocessSettings.from_processor_dict(
        {
            "size": {"shortest_edge": 40},
            "crop_size": {"height": 40, "width": 40},
            "do_center_crop": True,
            "resample": resample,
            "do_rescale": False,
            "do_normalize": False,
        }
    )
    ours = normalize_batch(canvas[None], settings, torch.device("cpu"), torch.float32)[0].permute(1, 2, 0).numpy()
    assert np.array_equal(ours, np.round(ours))
    other = 2 if resample == 3 else 3
    same = np.asarray(Image.fromarray(canvas).resize((40, 40), resample=resample), dtype=np.float32)
    different = np.asarray(Image.fromarray(canvas).resize((40, 40), resample=other), dtype=np.float32)
    assert np.abs(ours - same).max() <= 1.0
    assert np.abs(ours - different).max() > 10.0
