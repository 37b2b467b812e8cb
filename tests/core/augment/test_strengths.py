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
