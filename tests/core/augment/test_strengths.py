"""The continuous strengths of breaking points and hypothesis probes, read against the table a user
reads (docs/augmentations.md): every augmentation's parameters at several strengths."""

from __future__ import annotations

import pytest

from pytest_clipshift.core.augment.augmentations import CONTINUOUS, augmentation_for
from pytest_clipshift.core.cases import Case
from tests.readme_tables import readme_table


def documented() -> dict[str, str]:
    rows = readme_table("| augmentation | parameters at strength t |")
    return {name.strip("`"): expr.strip("`") for name, expr in rows}


def test_the_table_names_every_continuous_augmentation():
    assert sorted(documented()) == sorted(CONTINUOUS)


@pytest.mark.parametrize("t", [0.0, 0.01, 0.2, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("name", CONTINUOUS)
def test_a_probe_has_the_documented_parameters(name, t):
    expected = eval(documented()[name], {"max": max, "min": min, "round": round}, {"t": t})  # the docs' expression
    aug, level = augmentation_for(Case(name, strength=t))
    assert level == 1 and aug.params == {1: expected}
    assert aug.geometric == augmentation_for(Case(name, 3))[0].geometric


def test_each_strength_is_its_own_probe():
    a, _ = augmentation_for(Case("gaussian_noise", strength=0.3))
    b, _ = augmentation_for(Case("gaussian_noise", strength=0.30001))
    assert a.name == "gaussian_noise@0.30000" and b.name == "gaussian_noise@0.30001" and a.params != b.params


@pytest.mark.parametrize("name", CONTINUOUS)
def test_a_probe_is_its_augmentation_run_at_the_strengths_parameters(name):
    """A probe keeps its augmentation's factory and kind: applied, it is the registered augmentation
    with the probe's parameters, drawn from the probe's own seed label."""
    import numpy as np

    from pytest_clipshift.core.augment.augmentations import apply_augmentation, apply_case, get_augmentation
    from pytest_clipshift.core.augment.types import Augmentation

    image = np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    probe, _ = augmentation_for(Case(name, strength=0.6))
    base = get_augmentation(name)
    assert probe.factory is base.factory and probe.kind == base.kind
    by_hand = Augmentation(probe.name, base.factory, probe.params, base.geometric, "", base.kind)
    got = apply_case(Case(name, strength=0.6), image, seed=5, image_hash="h")
    np.testing.assert_array_equal(got.image, apply_augmentation(by_hand, image, 1, 5, "h").image)
    assert got.changed


def test_a_case_is_applied_with_its_seed_image_and_draw():
    """apply_case passes the run's seed, the image's hash and the case's draw on: each is part of
    the random draw, so changing any one changes the noise."""
    import numpy as np

    from pytest_clipshift.core.augment.augmentations import apply_augmentation, apply_case

    image = np.full((48, 48, 3), 128, np.uint8)
    for draw in (0, 2):
        case = Case("gaussian_noise", 3, draw=draw)
        got = apply_case(case, image, seed=7, image_hash="cat").image
        np.testing.assert_array_equal(got, apply_augmentation("gaussian_noise", image, 3, 7, "cat", draw).image)
    variants = [
        apply_case(Case("gaussian_noise", 3, draw=d), image, seed=s, image_hash=h).image
        for d, s, h in [(0, 7, "cat"), (1, 7, "cat"), (0, 8, "cat"), (0, 7, "dog")]
    ]
    assert all(not np.array_equal(variants[0], other) for other in variants[1:])
