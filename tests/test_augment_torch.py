"""Augmentation on the device (issue 15), exercised on CPU torch (no accelerator here): each batched
torch version moves pixels as much as the CPU reference does, and is seeded and reproducible."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pytest_clipshift.core.augment_torch import TORCH_AUGMENTATIONS, apply_batch
from pytest_clipshift.core.augmentations import apply_case, augmentation_for, draw_seed
from pytest_clipshift.core.cases import Case

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def photos():
    from PIL import Image

    from pytest_clipshift.core.images import load_image_set

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
            device = apply_batch(case, photos, seeds, CPU).astype(float)
            reference = np.stack([apply_case(case, p, seed, k).image for p, k in zip(photos, keys)]).astype(float)
            mine.append(np.abs(device - photos).mean())
            theirs.append(np.abs(reference - photos).mean())
        ratio = np.mean(mine) / np.mean(theirs)
        assert 0.75 <= ratio <= 1.25, (name, severity, ratio)


@pytest.mark.parametrize("name", sorted(TORCH_AUGMENTATIONS))
def test_the_device_path_is_seeded(name, photos):
    case = Case(name, 4)
    first = apply_batch(case, photos, [1, 2, 3], CPU)
    assert np.array_equal(first, apply_batch(case, photos, [1, 2, 3], CPU))
    if name not in ("imagenet_c.gaussian_blur", "imagenet_c.contrast", "imagenet_c.zoom_blur", "imagenet_c.pixelate",
                    "imagenet_c.defocus_blur", "imagenet_c.brightness", "imagenet_c.saturate"):  # these draw nothing
        assert not np.array_equal(first, apply_batch(case, photos, [4, 5, 6], CPU))


def test_the_engine_augments_on_the_device_where_it_can(tiny_encoder, small_images, tmp_path):
    from pytest_clipshift.core.cache import EmbeddingCache
    from pytest_clipshift.core.engine import measure

    images = small_images.subset(max_images=3)
    kwargs = dict(severities=[3], metrics=["cosine", "patch_similarity"], seed=0)
    reference = measure(tiny_encoder, images, ["gaussian_noise", "horizontal_flip"], **kwargs)
    cache = EmbeddingCache(tmp_path / "cache")
    device = measure(tiny_encoder, images, ["gaussian_noise", "horizontal_flip"], augment_device=CPU, cache=cache, **kwargs)
    again = measure(tiny_encoder, images, ["gaussian_noise", "horizontal_flip"], augment_device=CPU, **kwargs)
    noise_ref, noise_dev = reference.get("gaussian_noise", 3), device.get("gaussian_noise", 3)
    assert not np.array_equal(noise_ref.values["patch_similarity"], noise_dev.values["patch_similarity"])  # other bytes
    assert abs(noise_ref.stat("patch_similarity", "mean") - noise_dev.stat("patch_similarity", "mean")) < 0.05
    assert np.array_equal(noise_dev.values["cosine"], again.get("gaussian_noise", 3).values["cosine"])  # reproducible
    # a geometric case has no device version: the CPU path, the same bytes
    assert np.array_equal(reference.get("horizontal_flip", 3).values["cosine"], device.get("horizontal_flip", 3).values["cosine"])
    # device-path entries are cached apart from the reference path's
    measure(tiny_encoder, images, ["gaussian_noise"], cache=cache, **kwargs)
    assert cache.misses > 0
