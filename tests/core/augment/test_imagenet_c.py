"""ImageNet-C's 19 corruptions: the reference's strength, its bytes where it is
deterministic, seeded like every augmentation, any size from 32 to 1024 px, the scale rule, the
elastic warp's coordinate grid, and the words ``imagenet-c`` and ``study``."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_clipshift.core.augment.augmentations import apply_augmentation, expand_names, warp_map
from pytest_clipshift.core.augment.imagenet_c import FAMILIES, NAMES, PREFIX, family_of

DETERMINISTIC = ("brightness", "contrast", "saturate", "pixelate", "jpeg_compression", "gaussian_blur")
DRAW_NOTHING = DETERMINISTIC + ("defocus_blur", "zoom_blur")  # no random draw, so no seed to vary


@pytest.fixture(scope="module")
def photos():
    """Three real photographs (scikit-image's, shipped in its wheel) at the reference's 224 px."""
    from PIL import Image

    from pytest_clipshift.core.data.images import load_image_set

    arrays = load_image_set("samples", max_images=3).arrays
    return [np.asarray(Image.fromarray(a).resize((224, 224), Image.BICUBIC)) for a in arrays]


@pytest.fixture(scope="module")
def reference():
    """The maintained ``imagecorruptions`` fork (a test-only dependency that .ci/run installs)."""
    return pytest.importorskip("imagecorruptions", reason="pip install --no-deps imagecorruptions-imaug numba")


def ours(name, image, severity, seed, key="img"):
    return apply_augmentation(PREFIX + name, image, severity, seed, key).image


def test_all_nineteen_with_hendrycks_names_in_four_families():
    assert len(NAMES) == 19 and set(NAMES) == {n for members in FAMILIES.values() for n in members}
    assert expand_names(["imagenet-c"]) == [PREFIX + n for n in NAMES]
    assert expand_names(["identity", "study", "imagenet-c"])[:10] == expand_names(["identity", "study"])


@pytest.mark.parametrize("name", NAMES)
def test_strength_matches_the_reference_at_every_severity(name, photos, reference):
    """Mean absolute pixel change within 25% of the reference's (3 photographs x 4 seeds), and the
    same bytes where the reference draws nothing at random."""
    for severity in range(1, 6):
        mine, theirs, same = [], [], True
        for i, image in enumerate(photos):
            for seed in (0, 1, 2, 3):
                np.random.seed(100 * seed + i)  # the reference draws from numpy's global state
                expected = reference.corrupt(image, severity, name)
                got = ours(name, image, severity, seed, str(i))
                theirs.append(np.abs(expected.astype(float) - image).mean())
                mine.append(np.abs(got.astype(float) - image).mean())
                same &= np.array_equal(expected, got)
        ratio = np.mean(mine) / np.mean(theirs)
        assert 0.75 <= ratio <= 1.25, (name, severity, ratio)
        if name in DETERMINISTIC:
            assert same, (name, severity)


@pytest.mark.parametrize("name", NAMES)
def test_seeded_any_size_and_the_image_keeps_its_shape(name):
    rng = np.random.default_rng(3)
    for h, w in ((32, 32), (57, 90), (300, 200), (1024, 1024)):
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        first = ours(name, image, 5, seed=7)
        assert first.shape == image.shape and first.dtype == np.uint8
        if h == 57:  # same seed: same bytes; another seed: other draws (for those that draw)
            assert np.array_equal(first, ours(name, image, 5, seed=7))
            if name not in DRAW_NOTHING:
                assert not np.array_equal(first, ours(name, image, 5, seed=8))


def test_lengths_scale_with_the_image_so_severity_means_the_same_at_any_size(photos):
    """At 448 px gaussian blur uses twice the reference's sigma: the same as the reference's blur at
    224 px, seen at twice the size."""
    from skimage.filters import gaussian

    big = np.repeat(np.repeat(photos[0], 2, axis=0), 2, axis=1)
    expected = np.uint8(np.clip(gaussian(big / 255.0, sigma=2 * 2, channel_axis=-1), 0, 1) * 255)
    assert np.array_equal(ours("gaussian_blur", big, 2, seed=0), expected)
    # and a blur at 448 px moves about as many grey levels as at 224 px
    small_change = np.abs(ours("defocus_blur", photos[0], 3, 0).astype(float) - photos[0]).mean()
    big_change = np.abs(ours("defocus_blur", big, 3, 0).astype(float) - big).mean()
    assert big_change == pytest.approx(small_change, rel=0.25)


def test_elastic_returns_where_each_pixel_came_from():
    """A smooth ramp warped by the elastic corruption: each output pixel is the input at its coords."""
    h = w = 224
    yy, xx = np.mgrid[0:h, 0:w]
    ramp = np.stack([xx * 255 // (w - 1), yy * 255 // (h - 1), np.full_like(xx, 128)], axis=-1).astype(np.uint8)
    result = apply_augmentation(PREFIX + "elastic_transform", ramp, 5, 0, "ramp")
    assert result.coords is not None and result.coords.shape == (h, w, 3)
    src_x, src_y = result.coords[..., 0], result.coords[..., 1]
    assert np.abs(src_x - xx).max() > 1  # it moved something
    inner = (slice(8, -8), slice(8, -8))
    assert np.abs(result.image[..., 0][inner] - src_x[inner] * 255 / (w - 1)).max() <= 3
    assert np.abs(result.image[..., 1][inner] - src_y[inner] * 255 / (h - 1)).max() <= 3
    # and warp_map accepts the grid, as for the study's geometric augmentations
    warped, coverage = warp_map(np.arange(49, dtype=np.float32).reshape(7, 7), result.coords)
    assert warped.shape == (7, 7) and coverage.min() > 0.9


def test_the_words_select_their_augmentations_wherever_augmentations_are_listed(tmp_path):
    from pytest_clipshift.core.measure.engine import expand_pairs
    from pytest_clipshift.gate.budgets import load_budgets
    from pytest_clipshift.integration.config import OPTIONS

    convert = next(o.convert for o in OPTIONS if o.name == "clipshift_augmentations")
    assert convert(["identity", "imagenet-c"], "--x") == ["identity"] + [PREFIX + n for n in NAMES]
    assert convert(["study"], "--x")[0] == "gaussian_noise" and len(convert(["study"], "--x")) == 9
    path = tmp_path / "b.toml"
    path.write_text('[settings]\naugmentations = ["imagenet-c"]\nseverities = [1, 5]\n')
    assert len(load_budgets(path).suite_pairs()) == 38
    assert len(expand_pairs(["imagenet-c"], [2])) == 19


def test_the_marker_and_the_ini_take_the_words(pytester, tiny_clip_dir):
    pytester.makeini(f"[pytest]\nclipshift_model = {tiny_clip_dir}\nclipshift_augmentations = identity study\n")
    pytester.makepyfile(
        test_words="""
        import pytest

        @pytest.mark.clipshift(augmentations=["imagenet-c"], severities=[1])
        def test_corrupted(augmentation):
            pass

        def test_default(augmentation):
            pass
    """
    )
    result = pytester.runpytest("--clipshift", "--collect-only", "-q")
    ids = [line for line in result.stdout.lines if "::" in line]
    assert sum("test_corrupted[imagenet_c." in i for i in ids) == 19
    assert sum("test_default[" in i for i in ids) == 10  # identity + the study's nine, at the default severity


def test_glass_blurs_pixel_loop_is_the_references_byte_for_byte(reference):
    """The reference's loop (compiled with numba, seeded through numpy's legacy generator), fed
    the same (dx, dy) draws in the same order, gives the same bytes as ``local_shuffle``."""
    from imagecorruptions.corruptions import _shuffle_pixels_njit_glass_blur as reference_loop

    from pytest_clipshift.core.augment.imagenet_c import local_shuffle

    rng = np.random.default_rng(5)
    for h, w, delta, iterations in ((20, 24, 2, 3), (32, 32, 4, 2), (17, 13, 1, 2), (40, 30, 3, 1)):
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        expected = reference_loop(h, w, image.copy(), (1.0, delta, iterations), 1234)
        legacy = np.random.RandomState(1234)
        steps = iterations * len(range(h - delta, delta, -1)) * len(range(w - delta, delta, -1))
        offsets = np.array([legacy.randint(-delta, delta, size=(2,)) for _ in range(steps)])
        assert np.array_equal(local_shuffle(image, offsets, delta, iterations), expected), (h, w, delta)


def test_glass_blur_matches_the_references_strength_on_smooth_images(reference):
    """Smooth images, where the old one-displacement-per-pixel version moved pixels 0.66-0.70 as far."""
    yy, xx = np.mgrid[0:224, 0:224] / 224.0
    smooth = [
        np.uint8(255 * np.dstack([xx, yy, 0.5 + 0.5 * np.sin(6 * xx + 4 * yy)])),
        np.uint8(255 * np.dstack([np.sin(3 * xx) ** 2, np.cos(5 * yy) ** 2, xx * yy])),
    ]
    for severity in (3, 5):
        mine, theirs = [], []
        for i, image in enumerate(smooth):
            for seed in range(3):
                np.random.seed(10 * seed + i)
                theirs.append(np.abs(reference.corrupt(image, severity, "glass_blur").astype(float) - image).mean())
                mine.append(np.abs(ours("glass_blur", image, severity, seed, str(i)).astype(float) - image).mean())
        ratio = np.mean(mine) / np.mean(theirs)
        assert 0.75 <= ratio <= 1.25, (severity, ratio)


@pytest.mark.parametrize("shape", [(2, 40, 3), (40, 2, 3)])
def test_glass_blur_on_a_strip_thinner_than_its_displacement_shuffles_nothing(shape):
    """The reference's loop visits rows and columns at least ``delta`` from the border: on a strip
    two pixels thin there is none, so no offset is drawn and only the two blurs act."""
    strip = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    out = ours("glass_blur", strip, 1, 0)
    assert out.shape == shape
    assert np.abs(out.astype(int) - strip).mean() < 40  # blurred, nothing moved further


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("gaussian_noise", "noise"),
        ("speckle_noise", "noise"),
        ("glass_blur", "blur"),
        ("gaussian_blur", "blur"),
        ("fog", "weather"),
        ("spatter", "weather"),
        ("elastic_transform", "digital"),
        ("saturate", "digital"),
    ],
)
def test_a_corruption_belongs_to_its_hendrycks_family_with_or_without_the_prefix(name, family):
    # the families of Hendrycks & Dietterich (2019), the extra four as in its appendix: the mCE
    # averages within them and the budgets' family names select by them
    assert family_of(PREFIX + name) == family_of(name) == family
