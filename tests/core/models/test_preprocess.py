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


@pytest.mark.parametrize("shape", [(40, 30), (30, 40), (35, 35), (33, 50), (50, 33), (24, 61)])
def test_parity_with_clip_image_processor_on_portrait_landscape_and_square_images(shape):
    # odd margins on either side: transformers' crop offsets, and the long side scaled as it scales it
    import torch
    from transformers import CLIPImageProcessor

    from pytest_clipshift.core.models.preprocess import normalize_batch

    processor = CLIPImageProcessor(size={"shortest_edge": 24}, crop_size={"height": 24, "width": 24})
    settings = PreprocessSettings.from_processor_dict(processor.to_dict())
    image = np.random.default_rng(sum(shape)).integers(0, 256, (*shape, 3), dtype=np.uint8)
    ours = normalize_batch(to_canvas(image, settings)[None], settings, torch.device("cpu"), torch.float32)
    theirs = processor(images=[image], return_tensors="pt")["pixel_values"]
    assert float((ours - theirs).abs().max()) <= PARITY_ATOL


def test_center_crop_pads_and_crops_as_transformers_does_and_keeps_uint8():
    from transformers.image_transforms import center_crop as transformers_crop

    from pytest_clipshift.core.models.preprocess import center_crop

    rng = np.random.default_rng(0)
    for shape, size in (((10, 30), (20, 20)), ((30, 9), (20, 20)), ((7, 8), (12, 11)), ((25, 26), (20, 20))):
        arr = rng.integers(1, 256, (*shape, 3), dtype=np.uint8)  # no zero: padding shows
        ours = center_crop(arr, *size)
        assert ours.dtype == np.uint8 and ours.shape == (*size, 3)
        np.testing.assert_array_equal(ours, transformers_crop(arr, size, data_format="channels_last"))
    # "round" (torchvision's offsets): an odd margin puts the extra pixel last when padding, first when cropping
    arr = rng.integers(1, 256, (7, 8, 3), dtype=np.uint8)
    padded = center_crop(arr, 10, 10, "round")
    assert padded.dtype == np.uint8
    np.testing.assert_array_equal(padded[1:8, 1:9], arr)
    assert not padded[0].any() and not padded[8:].any() and not padded[:, 0].any() and not padded[:, 9].any()
    np.testing.assert_array_equal(center_crop(arr, 4, 5, "round"), arr[2:6, 2:7])  # round(1.5) = 2, round(1.5) = 2
    np.testing.assert_array_equal(center_crop(arr, 4, 5), arr[1:5, 1:6])  # transformers: int(1.5) = 1


def test_without_a_resize_or_a_centre_crop_the_image_is_still_cut_to_the_input_size():
    from pytest_clipshift.core.models.preprocess import center_crop

    settings = PreprocessSettings.from_processor_dict({"size": {"height": 24, "width": 24}, "do_resize": False})
    assert settings.crop is None and settings.resize_mode == "none"
    image = np.random.default_rng(1).integers(0, 256, (30, 45, 3), dtype=np.uint8)
    np.testing.assert_array_equal(to_canvas(image, settings), center_crop(image, 24, 24))
    np.testing.assert_array_equal(to_canvas(image[:24, :24], settings), image[:24, :24])  # the right size: as is


def test_a_larger_canvas_scales_each_resize_from_the_models_input_size():
    # the canvas is twice the input: a shortest-edge resize to twice the edge, an exact resize to twice
    # each side, as PIL resizes
    from PIL import Image

    image = np.random.default_rng(2).integers(0, 256, (30, 45, 3), dtype=np.uint8)
    clip = PreprocessSettings.from_processor_dict(
        {"size": {"shortest_edge": 12}, "do_center_crop": True, "crop_size": {"height": 12, "width": 12}, "resample": 3}
    )
    big = np.asarray(Image.fromarray(image).resize((36, 24), resample=3))
    np.testing.assert_array_equal(to_canvas(image, clip, canvas=(24, 24)), big[:, 6:30])
    siglip = PreprocessSettings.from_processor_dict({"size": {"height": 12, "width": 10}, "resample": 2})
    exact = np.asarray(Image.fromarray(image).resize((20, 24), resample=2))
    np.testing.assert_array_equal(to_canvas(image, siglip, canvas=(24, 20)), exact)


def test_a_float_tensor_keeps_its_gradient_and_any_array_layout_is_read():
    import warnings

    import torch

    from pytest_clipshift.core.models.preprocess import normalize_batch

    settings = PreprocessSettings.from_processor_dict({"size": {"height": 8, "width": 8}})
    canvases = np.random.default_rng(3).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    expected = normalize_batch(canvases.copy(), settings, torch.device("cpu"), torch.float32)
    mirrored = canvases[:, :, ::-1]  # negative strides, read-only: copied as the input needs
    mirrored.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = normalize_batch(mirrored, settings, torch.device("cpu"), torch.float32)
    torch.testing.assert_close(got, expected.flip(-1))
    x = torch.tensor(canvases, dtype=torch.float32, requires_grad=True)
    normalize_batch(x, settings, torch.device("cpu"), torch.float32).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_a_uint8_canvas_is_resized_to_whole_grey_levels_in_range_and_a_float_one_is_not_rounded():
    # a sharp 0/255 pattern: the bicubic filter overshoots both ends, and the processor's uint8 result clips
    import torch
    import torch.nn.functional as F

    from pytest_clipshift.core.models.preprocess import normalize_batch

    raw = {"size": {"height": 12, "width": 12}, "resample": 3, "do_rescale": False, "do_normalize": False}
    settings = PreprocessSettings.from_processor_dict(raw)
    checker = (np.indices((16, 16)).sum(axis=0) // 4 % 2 * 255).astype(np.uint8)
    canvases = np.repeat(checker[None, :, :, None], 3, axis=3)
    unclipped = F.interpolate(
        torch.tensor(canvases, dtype=torch.float32).permute(0, 3, 1, 2), size=(12, 12), mode="bicubic", antialias=True
    )
    assert unclipped.min() < -0.5 and unclipped.max() > 255.5  # the overshoot is there to clip
    got = normalize_batch(canvases, settings, torch.device("cpu"), torch.float32)
    torch.testing.assert_close(got, unclipped.round().clamp(0, 255), rtol=0, atol=0)
    assert got.min() == 0 and got.max() == 255
    fractional = canvases.astype(np.float32) * 0.37  # an attack's float canvas: resized, not rounded
    exact = normalize_batch(fractional, settings, torch.device("cpu"), torch.float32)
    torch.testing.assert_close(exact, unclipped * 0.37, rtol=0, atol=1e-4)
