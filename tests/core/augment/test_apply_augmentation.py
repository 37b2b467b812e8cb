"""``apply_augmentation``'s contract for every kind of augmentation: whether the image changed, the
coordinate grid a geometric one returns (float32), what a user's callable or transform may return
and the error that names it, the unrounded float of the adversarial table, and the one seed
formula every draw comes from."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from pytest_clipshift.core.augment import adversarial as adv
from pytest_clipshift.core.augment.augmentations import (
    apply_augmentation,
    draw_seed,
    get_augmentation,
    register_augmentation,
    unregister_augmentation,
)
from pytest_clipshift.core.augment.types import coordinate_grid
from pytest_clipshift.core.errors import ConfigError

IMAGE = np.random.default_rng(0).integers(0, 256, (16, 24, 3), dtype=np.uint8)


@pytest.fixture
def registered():
    names = []

    def register(name, transform, **kwargs):
        names.append(name)
        return register_augmentation(name, transform, **kwargs)

    yield register
    for name in names:
        unregister_augmentation(name)


def test_the_draw_seed_is_the_first_four_bytes_of_the_cases_sha256_little_endian_in_31_bits():
    for args, text in [
        ((0, "abc", "gaussian_noise", 3), "0|abc|gaussian_noise|3"),
        ((7, "abc", "gaussian_noise", "paper", 2), "7|abc|gaussian_noise|paper|draw2"),
    ]:
        digest = hashlib.sha256(text.encode()).digest()
        assert draw_seed(*args) == int.from_bytes(digest[:4], "little") % 2**31


def test_an_image_left_as_it_was_is_reported_unchanged_by_every_kind(registered):
    import albumentations as A

    symmetric = np.concatenate([IMAGE, IMAGE[:, ::-1]], axis=1)  # a left-right mirror of itself
    flipped = apply_augmentation("horizontal_flip", symmetric, 1, 0)
    assert not flipped.changed and flipped.coords is not None
    registered("test_noop", A.NoOp(p=1.0))
    assert not apply_augmentation("test_noop", IMAGE, 1, 0).changed
    registered("test_same", lambda image, rng: image)
    assert not apply_augmentation("test_same", IMAGE, 1, 0).changed
    assert apply_augmentation("horizontal_flip", IMAGE, 1, 0).changed
    assert apply_augmentation("gaussian_noise", IMAGE, 1, 0).changed


def unchanged(x, **_):
    return x


def as_float64(mask, **_):
    return mask.astype(np.float64)


def test_a_geometric_callable_returns_image_and_coords_as_float32(registered):
    def mirror(image, rng):
        coords = coordinate_grid(*image.shape[:2]).astype(np.float64)  # float64 from the user
        coords[..., 0] = image.shape[1] - 1 - coords[..., 0]
        return image[:, ::-1], coords

    registered("test_mirror", mirror, geometric=True)
    out = apply_augmentation("test_mirror", IMAGE, 1, 0)
    assert out.coords.dtype == np.float32 and out.changed
    np.testing.assert_array_equal(out.image, IMAGE[:, ::-1])
    import albumentations as A

    widened = A.Lambda(image=unchanged, mask=as_float64, p=1.0)
    registered("test_widened", widened, geometric=True)  # a transform handing the grid back as float64
    assert apply_augmentation("test_widened", IMAGE, 1, 0).coords.dtype == np.float32
    registered("test_three", lambda image, rng: (image, coordinate_grid(16, 24), None), geometric=True)
    with pytest.raises(ConfigError, match="'test_three' is geometric: its callable must return"):
        apply_augmentation("test_three", IMAGE, 1, 0)


def test_a_wrong_shape_is_an_error_naming_the_augmentation_on_every_path(registered):
    import albumentations as A

    registered("test_small_callable", lambda image, rng: image[:8])
    registered("test_small_transform", A.Resize(8, 8, p=1.0))
    registered("test_small_warp", A.Resize(8, 8, p=1.0), geometric=True)
    for name in ("test_small_callable", "test_small_transform", "test_small_warp"):
        with pytest.raises(ConfigError, match=f"augmentation '{name}' returned an image of shape"):
            apply_augmentation(name, IMAGE, 1, 0)


def test_random_sign_noise_stays_in_float_moved_by_exactly_eps():
    out = apply_augmentation(adv.PREFIX + "random_sign", np.full((8, 8, 3), 128, np.uint8), 1, 0)
    assert out.image.dtype == np.float32
    np.testing.assert_allclose(np.abs(out.image - 128.0), 0.5, rtol=1e-6)  # severity 1: 0.5/255, unrounded


def test_an_attack_cannot_be_applied_without_a_model():
    for name in ("embedding", "zero_shot"):
        with pytest.raises(ConfigError, match="attacks the model"):
            apply_augmentation(adv.PREFIX + name, IMAGE, 1, 0)


def test_the_adversarial_descriptions_state_their_budgets():
    budgets = ", ".join(f"{e:g}" for e in adv.EPS_255)
    for name in ("random_sign", "embedding", "zero_shot"):
        description = get_augmentation(adv.PREFIX + name).description
        assert description.endswith(f"l-inf budget eps = {budgets} (/255) at severities 1-5")
