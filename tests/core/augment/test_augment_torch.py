"""Augmentation on the device, exercised on CPU torch (no accelerator here): each batched
torch version moves pixels as much as the CPU reference does, and is seeded and reproducible."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pytest_clipshift.core.augment.augment_torch import TORCH_AUGMENTATIONS, has_device_version
from pytest_clipshift.core.augment.augmentations import apply_case, augmentation_for, draw_seed
from pytest_clipshift.core.augment.device_apply import apply_batch
from pytest_clipshift.core.cases import Case

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def photos():
    from PIL import Image

    from pytest_clipshift.core.data.images import load_image_set

    arrays = load_image_set("samples", max_images=3).arrays
    return np.stack([np.asarray(Image.fromarray(a).resize((224, 224), Image.BICUBIC)) for a in arrays])


@pytest.mark.parametrize("name", sorted(TORCH_AUGMENTATIONS))
def test_the_device_path_matches_the_reference_strength(name, photos):
    """Mean absolute pixel change within 25% of the CPU path's. The study's augmentations draw one
    strength per image (a heavy-tailed spread), so they get more draws, on smaller images."""
    study = not name.startswith("imagenet_c.")
    if study:
        photos = photos[:, ::2, ::2].copy()
    for severity in range(1, 6):
        case = Case(name, severity)
        aug, level = augmentation_for(case)
        mine, theirs = [], []
        for seed in range(40 if study else 4):
            keys = [f"{seed}-{i}" for i in range(len(photos))]
            seeds = [draw_seed(seed, k, aug.name, level) for k in keys]
            device = apply_batch(case, photos, seeds, CPU)[0].astype(float)
            reference = np.stack([apply_case(case, p, seed, k).image for p, k in zip(photos, keys)]).astype(float)
            mine.append(np.abs(device - photos).mean())
            theirs.append(np.abs(reference - photos).mean())
        ratio = np.mean(mine) / np.mean(theirs)
        assert 0.75 <= ratio <= 1.25, (name, severity, ratio)


@pytest.mark.parametrize("name", sorted(TORCH_AUGMENTATIONS))
def test_the_device_path_is_seeded(name, photos):
    case = Case(name, 4)
    first = apply_batch(case, photos, [1, 2, 3], CPU)[0]
    assert np.array_equal(first, apply_batch(case, photos, [1, 2, 3], CPU)[0])
    if name not in (
        "imagenet_c.gaussian_blur",
        "imagenet_c.contrast",
        "imagenet_c.zoom_blur",
        "imagenet_c.pixelate",
        "imagenet_c.defocus_blur",
        "imagenet_c.brightness",
        "imagenet_c.saturate",
        "horizontal_flip",
    ):  # these draw nothing
        assert not np.array_equal(first, apply_batch(case, photos, [4, 5, 6], CPU)[0])


def test_the_engine_augments_on_the_device_where_it_can(tiny_encoder, small_images, tmp_path):
    from pytest_clipshift.core.measure.cache import EmbeddingCache
    from pytest_clipshift.core.measure.engine import measure

    images = small_images.subset(max_images=3)
    kwargs = dict(severities=[3], metrics=["cosine", "patch_similarity", "attention_correlation"], seed=0)
    names = ["gaussian_noise", "horizontal_flip", "imagenet_c.jpeg_compression"]
    reference = measure(tiny_encoder, images, names, **kwargs)
    cache = EmbeddingCache(tmp_path / "cache")
    device = measure(tiny_encoder, images, names, augment_device=CPU, cache=cache, **kwargs)
    again = measure(tiny_encoder, images, names, augment_device=CPU, **kwargs)
    noise_ref, noise_dev = reference.get("gaussian_noise", 3), device.get("gaussian_noise", 3)
    assert not np.array_equal(noise_ref.values["patch_similarity"], noise_dev.values["patch_similarity"])  # other bytes
    assert abs(noise_ref.stat("patch_similarity", "mean") - noise_dev.stat("patch_similarity", "mean")) < 0.05
    assert np.array_equal(noise_dev.values["cosine"], again.get("gaussian_noise", 3).values["cosine"])  # reproducible
    # JPEG has no device version: the CPU path, the same bytes
    jpeg = "imagenet_c.jpeg_compression"
    assert np.array_equal(reference.get(jpeg, 3).values["cosine"], device.get(jpeg, 3).values["cosine"])
    # a flip is exact on both paths, and its grid aligns attention the same way
    flip_ref, flip_dev = reference.get("horizontal_flip", 3), device.get("horizontal_flip", 3)
    assert np.array_equal(flip_ref.values["cosine"], flip_dev.values["cosine"])
    np.testing.assert_allclose(
        flip_ref.values["attention_correlation"], flip_dev.values["attention_correlation"], atol=1e-6
    )
    # device-path entries are cached apart from the reference path's
    measure(tiny_encoder, images, ["gaussian_noise"], cache=cache, **kwargs)
    assert cache.misses > 0


GEOMETRIC = ("horizontal_flip", "shift_scale_rotate", "perspective", "elastic")


@pytest.mark.parametrize("name", GEOMETRIC)
def test_a_geometric_device_case_returns_the_grid_it_warped_along(name, photos):
    """Resampling the clean image along the returned coordinates gives the device output back: that
    grid is what the attention metrics align along (a grid taken before the border reflection, or
    from another draw, fails)."""
    import cv2

    out, coords = apply_batch(Case(name, 4), photos, [1, 2, 3], CPU)
    assert coords.shape == photos.shape[:3] + (3,) and coords.dtype == np.float32
    for image, warped, grid in zip(photos, out, coords):
        resampled = cv2.remap(
            image.astype(np.float32), grid[..., 0], grid[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        inside = grid[..., 2] > 0.999
        assert inside.mean() > 0.8
        assert np.abs(resampled[inside] - warped[inside].astype(np.float32)).mean() < 1.0, name
    if name != "horizontal_flip":
        assert not np.array_equal(coords, apply_batch(Case(name, 4), photos, [4, 5, 6], CPU)[1])


def test_the_engine_aligns_attention_on_the_device_path(tiny_encoder, small_images):
    """Aligned attention from the device path's grids agrees with the CPU path's on average (other
    draws, so other bytes, but the same alignment): with no grid the numbers fall apart."""
    from pytest_clipshift.core.measure.engine import measure

    images = small_images.subset(max_images=4)
    kwargs = dict(severities=[4], metrics=["attention_correlation"], seed=0)
    reference = measure(tiny_encoder, images, ["shift_scale_rotate"], **kwargs).get("shift_scale_rotate", 4)
    device = measure(tiny_encoder, images, ["shift_scale_rotate"], augment_device=CPU, **kwargs).get(
        "shift_scale_rotate", 4
    )
    assert abs(reference.stat("attention_correlation", "mean") - device.stat("attention_correlation", "mean")) < 0.1


def test_motion_blur_on_the_device_is_the_reference_filter():
    """Summed over the kernel's taps, the device motion blur equals OpenCV's filter2D with the same
    kernel and angle (to float rounding)."""
    from pytest_clipshift.core.augment.augment_torch import c_motion_blur
    from pytest_clipshift.core.augment.imagenet_c import _motion_blur

    x = torch.from_numpy(np.random.default_rng(0).uniform(0, 255, (3, 96, 128)).astype(np.float32))
    out = c_motion_blur(x, {"radius": 15, "sigma": 8}, torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(3)
    angle = float(-45 + 90 * torch.rand((), generator=gen))  # the draw c_motion_blur makes first
    scale = 96 / 224
    reference = _motion_blur(x.permute(1, 2, 0).numpy(), max(1, round(15 * scale)), 8 * scale, angle)
    np.testing.assert_allclose(out.permute(1, 2, 0).numpy(), reference, atol=1e-3)


def test_the_batched_device_path_equals_the_per_image_one():
    """Every augmentation with a batched form gives the per-image device path's bytes and grids: each
    image's draws still come from its own generator, in the same order; only the work is batched."""
    import torch
    from PIL import Image

    from pytest_clipshift.core.augment.augment_batched import BATCHED
    from pytest_clipshift.core.augment.device_apply import apply_batch
    from pytest_clipshift.core.cases import Case
    from pytest_clipshift.core.data.images import load_image_set

    images = load_image_set("demo-scenes", max_images=6)
    canvases = np.stack([np.asarray(Image.fromarray(a).resize((72, 64))) for a in images.arrays])  # not square
    seeds = [11, 12, 13, 14, 15, 16]
    for name in BATCHED:
        for severity in (1, 5):
            one, one_grid = apply_batch(Case(name, severity), canvases, seeds, torch.device("cpu"), batched=False)
            many, many_grid = apply_batch(Case(name, severity), canvases, seeds, torch.device("cpu"))
            assert np.abs(one.astype(int) - many).max() <= 1 and (one != many).mean() < 1e-4, (name, severity)
            if one_grid is not None:
                np.testing.assert_allclose(many_grid, one_grid, atol=1e-4, err_msg=name)
        reordered, _ = apply_batch(Case(name, 3), canvases[::-1], seeds[::-1], torch.device("cpu"))
        alone, _ = apply_batch(Case(name, 3), canvases, seeds, torch.device("cpu"))
        np.testing.assert_array_equal(reordered[::-1], alone)  # an image's draws are its own, in any batch


def test_the_device_path_counts_the_images_it_left_unchanged(tiny_encoder, small_images):
    from pytest_clipshift.core.data.images import ImageSet
    from pytest_clipshift.core.measure.engine import measure

    assert has_device_version(Case("horizontal_flip", 3))
    asymmetric = small_images.arrays[0]
    symmetric = np.concatenate([asymmetric[:, :32], asymmetric[:, :32][:, ::-1]], axis=1)  # a flip leaves it as is
    images = ImageSet(["symmetric.png", "asymmetric.png"], [symmetric, asymmetric], "synthetic")
    (flip,) = measure(tiny_encoder, images, [("horizontal_flip", 3)], augment_device=CPU, metrics=["cosine"]).results
    assert flip.unchanged_images == 1
