"""Every built-in augmentation and ImageNet-C corruption, at every severity, on six fixed images (224
px, 112 px so the length scale acts, a non-square 96x160, 128 and 129 px so a height map rounded to
the wrong power of two shows, and 32x48, the smallest side, where scaled radii round to 1), does
what it did when the pins were recorded: the mean change, the output's channel means, where in the
image the change falls (3x3 blocks) and the coordinate grid a geometric one returns. A baseline
recorded by one version is compared with a candidate measured by the next only if the same seed
gives the same pixels; a severity row copied from its neighbour, a length scale from the long side,
a noise 20% too strong, a formula constant off by one all move these numbers. With the libraries the
pins were recorded with (numpy, OpenCV, albumentations, SciPy, scikit-image, Pillow, the machine's
architecture) the bytes must be the same too, so a change of one grey level in a few pixels (a
float32 step, a threshold moved by one) fails as well; with other versions a few pixels may round
otherwise, and only the tolerances hold. An intended change re-pins with ``python
scripts/pin_augmentations.py`` (and the release notes say baselines must be re-measured)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pytest_clipshift.core.augment.augmentations import expand_names
from tests.core.augment.pins import PINS_FILE, SEED, SIZES, pin_images, pixel_toolchain, signature

PINS = json.loads((Path(__file__).with_name(PINS_FILE)).read_text(encoding="utf-8"))
NAMES = expand_names(["study", "imagenet-c"])
# a few changed pixels (another OpenCV's rounding) move a mean by far less than these; a changed
# formula, severity row or seed by far more (the planted bugs of the mutation audit move them by 0.3 or more)
TOLERANCE = {"change": 0.02, "channels": 0.05, "blocks": 0.1, "coords": 0.01}
RECORDED_TOOLCHAIN = {k: v for k, v in PINS["recorded_with"].items() if k != "python"}
EXACT = pixel_toolchain() == RECORDED_TOOLCHAIN
# every built-in runs warning-free: a user's run with -W error (or a NaN cast to a byte, which warns)
# must not fail or round differently on an augmentation
pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture(scope="module")
def images():
    return pin_images()


def test_the_exact_bytes_are_checked_where_the_pins_were_recorded():
    """CI's fresh environment resolves the libraries the pins were recorded with; when it no longer
    does, this says so (re-pin with scripts/pin_augmentations.py after reading what moved)."""
    if not EXACT:
        pytest.skip(f"pixel libraries {pixel_toolchain()} differ from the recorded {RECORDED_TOOLCHAIN}")
    assert all(len(p["bytes"]) == 16 for by in PINS["pins"].values() for ps in by.values() for p in ps)


def test_every_built_in_is_pinned_at_every_severity_on_the_recorded_images():
    assert PINS["seed"] == SEED and [tuple(s) for s in PINS["sizes"]] == list(SIZES)
    assert sorted(PINS["pins"]) == sorted(NAMES)
    assert all(sorted(by_severity) == ["1", "2", "3", "4", "5"] for by_severity in PINS["pins"].values())


@pytest.mark.parametrize("name", NAMES)
def test_the_augmented_pixels_are_the_pinned_ones(name, images):
    moved = []
    for severity in range(1, 6):
        for i, (image, pinned) in enumerate(zip(images, PINS["pins"][name][str(severity)])):
            got = signature(name, severity, image, f"pin-{i}")
            if got["changed"] != pinned["changed"] or ("coords" in got) != ("coords" in pinned):
                moved.append(f"s{severity} image {i}: changed={got['changed']} (pinned {pinned['changed']})")
                continue
            for field, tol in TOLERANCE.items():
                if field in pinned and not np.allclose(got[field], pinned[field], atol=tol, rtol=0):
                    moved.append(f"s{severity} image {i} {SIZES[i]}: {field} {got[field]} (pinned {pinned[field]})")
            for field in ("bytes", "coords_bytes"):
                if EXACT and got.get(field) != pinned.get(field):
                    moved.append(f"s{severity} image {i} {SIZES[i]}: other {field} under the recorded libraries")
    assert not moved, (
        f"{name}: the augmented pixels moved ({len(moved)} of 15): a baseline recorded before this change is "
        f"not comparable; if the change is meant, run scripts/pin_augmentations.py\n" + "\n".join(moved[:6])
    )
