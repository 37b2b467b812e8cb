"""Augmentations: registry, severities, determinism (in process and across processes), replayed
warps, user registration and the unchanged-image flag."""

import subprocess
import sys

import numpy as np
import pytest

from pytest_clipshift.core.augment.augmentations import (
    PAPER,
    SEVERITIES,
    STUDY_AUGMENTATIONS,
    apply_augmentation,
    get_augmentation,
    register_augmentation,
    registry,
    unregister_augmentation,
    warp_map,
)
from pytest_clipshift.core.errors import ConfigError


def canvas(seed=0, size=96):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    base = np.stack([xx * 2, yy * 2, (xx * yy) % 256], -1) % 256
    return np.clip(base + rng.integers(-15, 15, base.shape), 0, 255).astype(np.uint8)


def test_registry_holds_the_study_nine_and_identity():
    assert set(STUDY_AUGMENTATIONS) | {"identity"} <= set(registry())
    for name in STUDY_AUGMENTATIONS:
        aug = get_augmentation(name)
        assert set(aug.params) == {*SEVERITIES, PAPER}


def study_calls():
    """The study's nine calls as its reference code wrote them (shared/PAPER.md; main.py of
    ashimdahal/clip-shift-analysis), built from plain albumentations, sharing nothing with ours."""
    import albumentations as A

    return {
        "gaussian_noise": A.GaussNoise(std_range=(0.44, 0.88), p=1.0),
        "gaussian_blur": A.GaussianBlur(blur_limit=(3, 7), p=1.0),
        "color_jitter": A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.2, p=1.0),
        "shift_scale_rotate": A.ShiftScaleRotate(shift_limit=0.0625, scale_limit=0.1, rotate_limit=15, p=1.0),
        "horizontal_flip": A.HorizontalFlip(p=1.0),
        "elastic": A.ElasticTransform(p=1.0, alpha=30, sigma=60),
        "perspective": A.Perspective(scale=(0.05, 0.1), p=1.0),
        "brightness_contrast": A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.2, p=1.0),
        "coarse_dropout": A.CoarseDropout(
            p=1, num_holes_range=(6, 8), fill="random", hole_height_range=(16, 16), hole_width_range=(16, 16)
        ),
    }


@pytest.mark.parametrize("name", STUDY_AUGMENTATIONS)
def test_paper_preset_is_byte_identical_to_the_study_call(name):
    import albumentations as A

    from pytest_clipshift.core.augment.augmentations import draw_seed
    from pytest_clipshift.core.data.images import image_hash

    reference = study_calls()[name]
    for image_seed in (0, 1, 2):
        img = canvas(image_seed, size=224)  # the study squashed every image to 224 px
        for seed in (0, 5):
            ours = apply_augmentation(name, img, PAPER, seed=seed).image
            draw = draw_seed(seed, image_hash(img), name, PAPER)
            theirs = A.Compose([reference], seed=draw)(image=img)["image"]
            assert np.array_equal(ours, theirs), (
                f"{name}[paper] differs from the study's call (image {image_seed}, seed {seed})"
            )


def test_paper_borders_are_black_as_in_the_study_and_severities_reflect():
    img = np.full((224, 224, 3), 200, np.uint8)
    paper = apply_augmentation("shift_scale_rotate", img, PAPER, seed=3).image
    severity3 = apply_augmentation("shift_scale_rotate", img, 3, seed=3).image
    assert (paper.max(axis=-1) == 0).mean() > 0.01  # the study's constant black border
    assert (severity3.max(axis=-1) == 0).mean() == 0  # severities 1-5 reflect: no black canvas


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ConfigError, match="unknown augmentation 'gausian_noise'; valid: .*gaussian_noise"):
        get_augmentation("gausian_noise")
    with pytest.raises(ConfigError, match="no severity 7"):
        get_augmentation("gaussian_blur").parameters(7)


@pytest.mark.parametrize("name", ["identity", *STUDY_AUGMENTATIONS])
def test_same_inputs_give_the_same_bytes(name):
    img = canvas()
    a = apply_augmentation(name, img, 3, seed=11)
    b = apply_augmentation(name, img, 3, seed=11)
    assert a.image.dtype == np.uint8 and a.image.shape == img.shape
    assert np.array_equal(a.image, b.image)
    if name not in ("identity", "horizontal_flip"):
        c = apply_augmentation(name, img, 3, seed=12)
        assert not np.array_equal(a.image, c.image), "a different seed must draw differently"
    assert a.changed == (name != "identity")


@pytest.mark.whole_run  # fresh interpreters: minutes under mutation testing
def test_determinism_across_processes():
    code = (
        "import hashlib, numpy as np\n"
        "from pytest_clipshift.core.augment.augmentations import apply_augmentation, STUDY_AUGMENTATIONS\n"
        "rng = np.random.default_rng(0); img = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)\n"
        "h = hashlib.sha256()\n"
        "for n in STUDY_AUGMENTATIONS:\n"
        "    for s in (1, 5, 'paper'): h.update(apply_augmentation(n, img, s, 7).image.tobytes())\n"
        "print(h.hexdigest())\n"
    )
    outs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        for _ in range(2)
    ]
    assert outs[0] == outs[1] and len(outs[0]) == 64


@pytest.mark.parametrize(
    "name",
    [
        "gaussian_noise",
        "gaussian_blur",
        "shift_scale_rotate",
        "elastic",
        "perspective",
        "coarse_dropout",
        "color_jitter",
        "brightness_contrast",
    ],
)
def test_severity_increases_the_change(name):
    """Averaged over draws, a higher severity moves the pixels more."""
    img = canvas(1)

    def change(sev):
        return np.mean(
            [np.abs(apply_augmentation(name, img, sev, seed).image.astype(float) - img).mean() for seed in range(12)]
        )

    levels = [change(s) for s in (1, 3, 5)]
    assert levels[0] < levels[1] < levels[2], levels


def test_flip_warp_mirrors_a_heat_map_exactly():
    img = canvas(2, size=70)
    heat = np.arange(49, dtype=np.float32).reshape(7, 7)
    out = apply_augmentation("horizontal_flip", img, 1, 0)
    warped, valid = warp_map(heat, out.coords)
    np.testing.assert_array_equal(warped, heat[:, ::-1])
    assert valid.min() == 1.0


@pytest.mark.parametrize("name", ["shift_scale_rotate", "perspective", "elastic", "horizontal_flip"])
def test_warp_replays_the_same_geometry_as_the_image(name):
    """The replayed coordinate grid says where each augmented pixel came from: reading the clean
    image there reproduces the augmented image."""
    yy, xx = np.mgrid[0:112, 0:112]
    img = np.stack([xx * 2, yy * 2, xx + yy], -1).astype(np.uint8)
    out = apply_augmentation(name, img, 4, seed=3)
    valid = out.coords[..., 2] > 0.99
    sx = np.clip(np.rint(out.coords[..., 0]).astype(int), 0, 111)
    sy = np.clip(np.rint(out.coords[..., 1]).astype(int), 0, 111)
    err = np.abs(img[sy, sx].astype(int) - out.image.astype(int))[valid]
    assert valid.mean() > 0.5
    assert np.percentile(err, 95) <= 2


@pytest.mark.parametrize("severity", [4, PAPER])
@pytest.mark.parametrize("name", ["shift_scale_rotate", "perspective", "elastic"])
def test_the_coordinate_grid_is_interpolated_as_the_image_is(name, severity):
    """The grid goes through the warp with linear interpolation, as the pixels do: a rotated or
    bent pixel comes from between pixels (with nearest-neighbour masks every coordinate would be whole)."""
    yy, xx = np.mgrid[0:112, 0:112]
    img = np.stack([xx * 2, yy * 2, xx + yy], -1).astype(np.uint8)
    coords = apply_augmentation(name, img, severity, seed=3).coords
    valid = coords[..., 2] > 0.99
    fractional = np.abs(coords[..., :2] - np.rint(coords[..., :2])) > 1e-3
    assert fractional[valid].mean() > 0.5


def test_pixel_augmentations_carry_no_warp():
    out = apply_augmentation("gaussian_noise", canvas(), 2, 0)
    assert out.coords is None


def test_user_albumentations_transform():
    import albumentations as A

    try:
        aug = register_augmentation("test_invert", A.InvertImg(p=1.0), description="invert")
        img = canvas()
        out = apply_augmentation("test_invert", img, 1, 0)
        assert np.array_equal(out.image, 255 - img)
        with pytest.raises(ConfigError, match="already registered"):
            register_augmentation("test_invert", A.InvertImg(p=1.0))
        assert aug.kind == "albumentations"
    finally:
        unregister_augmentation("test_invert")


def test_a_registration_keeps_its_name_kind_description_and_levels():
    """A callable whose second parameter is ``rng`` is applied as ``f(image, rng, **params)``; any
    other callable is an albumentations factory ``f(**params)``; names take letters, digits, _ and -."""
    import albumentations as A

    def noise(image, rng, amount=1):
        return image

    def factory(p, always_apply=None):
        return A.InvertImg(p=p)

    try:
        mine = register_augmentation("test-own_1", noise, description="mine")
        assert (mine.name, mine.kind, mine.description, mine.geometric) == ("test-own_1", "callable", "mine", False)
        assert sorted(mine.params, key=str) == sorted((1, 2, 3, 4, 5, "paper"), key=str)
        made = register_augmentation("test_factory", factory, severities={1: {"p": 1.0}})
        assert (made.kind, made.description, made.params) == ("albumentations", "", {1: {"p": 1.0}})
        one = register_augmentation("test_one", lambda p: A.InvertImg(p=p), severities={1: {"p": 1.0}})
        assert one.kind == "albumentations"
        img = canvas()
        assert np.array_equal(apply_augmentation("test_factory", img, 1, 0).image, 255 - img)
        for bad in ("test own", "test.own", "test/own", "tést!"):
            with pytest.raises(ConfigError, match="must be letters, digits, '_' or '-'"):
                register_augmentation(bad, noise)
    finally:
        for name in ("test-own_1", "test_factory", "test_one"):
            unregister_augmentation(name)


@pytest.mark.parametrize(
    "returned, expected",
    [
        # floats in [0, 1], up to exactly 1.0, are scaled to 0-255 and rounded
        (np.array([0.0, 0.5 / 255 + 1e-9, 100.4 / 255, 1.0]), [0, 1, 100, 255]),
        # floats with a maximum above 1 are grey levels already: rounded, then clipped to 0-255
        (np.array([-3.0, 1.5, 200.7, 300.0]), [0, 2, 201, 255]),
        (np.array([0.0, 0.4, 1.2, 2.0]), [0, 0, 1, 2]),  # a maximum just above 1: levels, not scaled
        # float32, as torch and most image code hand back: the same rules as float64
        (np.array([0.0, 0.5 / 255 + 1e-6, 100.4 / 255, 1.0], np.float32), [0, 1, 100, 255]),
        (np.array([-3.0, 1.5, 200.7, 300.0], np.float32), [0, 2, 201, 255]),
        # integers are grey levels: clipped, never scaled (a 0/1 mask stays 0/1)
        (np.array([-5, 0, 1, 300], np.int16), [0, 0, 1, 255]),
        (np.array([0, 1, 1, 0], np.int64), [0, 1, 1, 0]),
    ],
)
def test_a_callable_returning_another_dtype_is_read_as_grey_levels(returned, expected):
    image = np.zeros((2, 2, 3), np.uint8)
    try:
        register_augmentation("test_dtype", lambda image, rng: np.repeat(returned.reshape(2, 2, 1), 3, axis=2))
        out = apply_augmentation("test_dtype", image, 1, 0).image
        assert out.dtype == np.uint8
        np.testing.assert_array_equal(out[..., 0].ravel(), expected)
    finally:
        unregister_augmentation("test_dtype")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_callable_returning_nan_or_infinity_is_an_error_naming_it(bad):
    try:
        register_augmentation("test_nan", lambda image, rng: np.full(image.shape, bad))
        with pytest.raises(ConfigError, match="augmentation 'test_nan' returned NaN or infinite pixel values"):
            apply_augmentation("test_nan", np.zeros((4, 4, 3), np.uint8), 1, 0)
    finally:
        unregister_augmentation("test_nan")


def test_an_unregistered_augmentation_is_gone_and_unregistering_twice_is_harmless():
    from pytest_clipshift.core.augment.augmentations import get_augmentation

    register_augmentation("test_gone", lambda image, rng: image)
    unregister_augmentation("test_gone")
    with pytest.raises(ConfigError, match="unknown augmentation 'test_gone'"):
        get_augmentation("test_gone")
    unregister_augmentation("test_gone")  # no error: it is already gone
    register_augmentation("test_gone", lambda image, rng: image)  # and the name is free again
    unregister_augmentation("test_gone")


def test_user_callable_with_seeded_generator_and_levels():
    def salt(image, rng, amount=0.01):
        out = image.copy()
        mask = rng.random(image.shape[:2]) < amount
        out[mask] = 255
        return out

    try:
        register_augmentation("test_salt", salt, severities={1: {"amount": 0.01}, 5: {"amount": 0.2}})
        img = canvas()
        a = apply_augmentation("test_salt", img, 5, 4)
        assert np.array_equal(a.image, apply_augmentation("test_salt", img, 5, 4).image)
        assert (a.image == 255).all(-1).mean() > (apply_augmentation("test_salt", img, 1, 4).image == 255).all(
            -1
        ).mean()
        with pytest.raises(ConfigError, match="no severity 3"):
            apply_augmentation("test_salt", img, 3, 0)
    finally:
        unregister_augmentation("test_salt")


def test_augmentation_that_changes_nothing_is_flagged():
    try:
        register_augmentation("test_noop", lambda image, rng: image)
        out = apply_augmentation("test_noop", canvas(), 1, 0)
        assert out.changed is False
    finally:
        unregister_augmentation("test_noop")


def test_augmentation_that_changes_shape_is_rejected():
    try:
        register_augmentation("test_crop", lambda image, rng: image[:10])
        with pytest.raises(ConfigError, match="must keep the input shape"):
            apply_augmentation("test_crop", canvas(), 1, 0)
    finally:
        unregister_augmentation("test_crop")


def test_a_geometric_callable_returns_its_coordinate_grid(tmp_path):
    """A user's own warp (a mirror written as a callable) carries its coordinates like the built-in
    flip does, so attention and tokens are compared aligned; a wrong return names the augmentation."""
    from pytest_clipshift.core.augment.augmentations import (
        apply_augmentation,
        coordinate_grid,
        register_augmentation,
        unregister_augmentation,
    )
    from pytest_clipshift.core.errors import ConfigError

    def mirror(image, rng):
        return image[:, ::-1].copy(), coordinate_grid(*image.shape[:2])[:, ::-1].copy()

    image = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    try:
        register_augmentation("my_mirror", mirror, geometric=True, replace=True)
        mine = apply_augmentation("my_mirror", image, 3, 0, "x")
        builtin = apply_augmentation("horizontal_flip", image, 3, 0, "x")
        assert np.array_equal(mine.image, builtin.image) and np.allclose(mine.coords, builtin.coords)
        register_augmentation("my_mirror", lambda image, rng: image[:, ::-1].copy(), geometric=True, replace=True)
        with pytest.raises(ConfigError, match="'my_mirror' is geometric: its callable must return \\(image, coords\\)"):
            apply_augmentation("my_mirror", image, 3, 0, "x")
    finally:
        unregister_augmentation("my_mirror")
