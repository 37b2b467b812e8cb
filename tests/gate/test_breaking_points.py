"""Breaking points: bisection for the mildest failing strength, hypothesis shrinking to it, continuous
strengths, and budgets on the new metrics through the plugin."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import find, given, settings

from pytest_clipshift.core.errors import ConfigError
from pytest_clipshift.gate.breaking import find_breaking_point, parse_rule_text
from pytest_clipshift.integration.strategies import augmentation_cases, strengths

pytest_plugins = ["pytester"]


def test_bisection_on_a_synthetic_monotone_metric():
    point = find_breaking_point(lambda t: 1.0 - t, "noise", "cosine.mean >= 0.7", tolerance=0.01)
    assert point.strength == pytest.approx(0.3, abs=0.01) and point.holds_at <= 0.3 <= point.strength
    assert len(point.steps) <= 11
    never = find_breaking_point(lambda t: 1.0, "noise", "cosine.mean >= 0.7")
    assert never.strength is None and len(never.steps) == 1
    with pytest.raises(ConfigError, match="expected METRIC.STAT OP NUMBER"):
        parse_rule_text("cosine is high")


def test_hypothesis_shrinks_to_the_minimal_failing_strength():
    # a synthetic metric that breaks above 0.42: hypothesis' shrinking finds the smallest failing strength
    minimal = find(strengths(), lambda t: 1.0 - t < 0.58)
    assert minimal == pytest.approx(0.421)  # the first grid step past 0.42


@settings(max_examples=20, deadline=None)  # the first example imports albumentations
@given(augmentation_cases())
def test_every_continuous_strength_is_a_valid_augmentation(case):
    from pytest_clipshift.core.augment.augmentations import apply_case
    from pytest_clipshift.core.cases import Case

    name, t = case
    img = np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    out = apply_case(Case(name, strength=t), img, seed=0)
    assert out.image.shape == img.shape and out.image.dtype == np.uint8


def test_breaking_points_through_the_plugin_and_new_metric_budgets(pytester):
    pytester.makefile(
        ".toml",
        budgets="""
        [settings]
        augmentations = ["identity", "gaussian_noise"]
        severities = [1, 5]
        [defaults]
        "zero_shot_flip.mean" = "<= 0.2"
        "layer_cka@1.mean" = ">= 0.5"
        [augmentations.gaussian_noise]
        "direction_probe.mean" = "> -1"   # undefined for identity (no shift): a budget there would fail
    """.replace("\n        ", "\n"),
    )
    pytester.makepyfile(
        test_bp="""
        def test_noise_breaking_point(clipshift):
            point = clipshift.breaking_point("gaussian_noise", "cosine.mean >= 0.9", max_steps=4)
            assert point.strength is not None and 0 < point.strength <= 1
    """
    )
    result = pytester.runpytest(
        "--clipshift",
        "--clipshift-model=demo",
        "--clipshift-max-images=8",
        "--clipshift-budgets=budgets.toml",
        "--clipshift-json=r.json",
        "--clipshift-no-cache",
    )
    data = json.loads((pytester.path / "r.json").read_text())
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 3
    noise5 = [
        c
        for c in data["budgets"]
        if c["augmentation"] == "gaussian_noise" and c["severity"] == 5 and c["metric"] == "zero_shot_flip"
    ][0]
    assert noise5["passed"] is False  # strong noise flips many demo scenes' labels
    assert data["extra"]["breaking_points"][0]["augmentation"] == "gaussian_noise"
    assert not any("@" in r["augmentation"] for r in data["results"])  # probes stay out of the table
    metrics = data["results"][0]["metrics"]
    assert {"zero_shot_flip", "layer_cka@1", "direction_probe"} <= set(metrics)
