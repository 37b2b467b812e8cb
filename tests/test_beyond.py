"""Beyond the study: text-aligned shift, the direction probe, breaking points, hypothesis
strategies, layer budgets and paired comparison."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import find, given, settings

from pytest_clipshift.core.errors import ConfigError
from pytest_clipshift.core.models.textalign import TextScorer, TextSpec
from pytest_clipshift.gate.breaking import find_breaking_point, parse_rule_text
from pytest_clipshift.integration.strategies import augmentation_cases, strengths

pytest_plugins = ["pytester"]


class VectorTextEncoder:
    """encode_text returns fixed vectors: the probe's geometry is then known exactly."""

    name = "vectors"

    def __init__(self, table):
        self.table = table

    def encode_text(self, prompts):
        return np.stack([self.table[p] for p in prompts])


def probe_table(dim=64, seed=0):
    rng = np.random.default_rng(seed)
    table = {
        p: rng.normal(size=dim)
        for p in [
            "a photo of a a",
            "a photo of a b",
            "a photo",
            "a blurry photo",
            "a photo of a dog",
            "a photo at night",
            "a drawing of a house",
            "a photo of food",
        ]
    }
    return table


def test_direction_probe_known_answers():
    table = probe_table()
    scorer = TextScorer(VectorTextEncoder(table), TextSpec(["a", "b"]), ["x"])
    unit = lambda v: v / np.linalg.norm(v)
    direction = unit(unit(table["a blurry photo"]) - unit(table["a photo"]))
    rng = np.random.default_rng(1)
    clean = rng.normal(size=(1, 64))
    along = unit(clean[0]) + 0.3 * direction  # a shift exactly along the augmentation's text direction
    s = scorer.scores(clean, along[None], np.array([0]), ["gaussian_blur"])
    # the shift lies along the direction (cosine ~1), minus the controls' mean cosine with it
    expected = 1.0 - np.mean(scorer.controls @ direction)
    assert s["direction_probe"][0] == pytest.approx(expected, abs=0.01)
    randoms = [
        scorer.scores(
            clean, (unit(clean[0]) + 0.3 * unit(rng.normal(size=64)))[None], np.array([0]), ["gaussian_blur"]
        )["direction_probe"][0]
        for _ in range(50)
    ]
    assert abs(np.mean(randoms)) < 0.1
    unnamed = scorer.scores(clean, along[None], np.array([0]), ["identity"])
    assert np.isnan(unnamed["direction_probe"][0])  # no prompt names it: undefined, never 0


def test_zero_shot_flip_and_drop_known():
    table = {
        "a photo of a a": np.array([1.0, 0]),
        "a photo of a b": np.array([0, 1.0]),
        "a photo": np.array([1.0, 1.0]),
        "a blurry photo": np.array([0.5, 1.0]),
        **{
            p: np.array([0.3, -1.0])
            for p in ("a photo of a dog", "a photo at night", "a drawing of a house", "a photo of food")
        },
    }
    scorer = TextScorer(VectorTextEncoder(table), TextSpec(["a", "b"], image_labels=["a", "a"]), ["x", "y"])
    clean = np.array([[1.0, 0.1], [1.0, 0.1]])
    aug = np.array([[1.0, 0.2], [0.1, 1.0]])  # the second image now reads as "b"
    s = scorer.scores(clean, aug, np.array([0, 1]), ["gaussian_blur", "gaussian_blur"])
    assert s["zero_shot_flip"].tolist() == [0.0, 1.0]
    assert s["text_similarity_drop"][1] > 0.8 and abs(s["text_similarity_drop"][0]) < 0.02
    with pytest.raises(ConfigError, match="not among the label prompts"):
        TextScorer(VectorTextEncoder(table), TextSpec(["a", "b"], image_labels=["c"]), ["x"])


def test_zero_shot_flip_rate_on_the_demo_model():
    from pytest_clipshift import load_encoder, load_image_set, measure
    from pytest_clipshift.demo.scenes import LABELS

    enc = load_encoder("demo", device="cpu")
    images = load_image_set("demo-scenes", max_images=16)
    spec = TextSpec([f"{c} {s}" for c, s in LABELS], image_labels=images.labels)
    run = measure(
        enc,
        images,
        ["identity", "gaussian_noise"],
        severities=[1, 5],
        metrics=["cosine", "zero_shot_flip", "text_similarity_drop"],
        text=spec,
    )
    assert run.get("identity", 1).stat("zero_shot_flip", "mean") == 0.0
    assert run.get("gaussian_noise", 1).stat("zero_shot_flip", "mean") <= 0.1
    assert run.get("gaussian_noise", 5).stat("zero_shot_flip", "mean") >= 0.25
    assert run.get("gaussian_noise", 5).stat("text_similarity_drop", "mean") > 0.05


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


def test_paired_compare_fails_only_on_a_significant_regression(tiny_encoder, small_images):
    from pytest_clipshift import measure
    from pytest_clipshift.gate.compare import compare_runs, parse_compare_rule

    base = measure(tiny_encoder, small_images, ["gaussian_noise"], severities=[5], seed=0)
    cand = measure(tiny_encoder, small_images, ["gaussian_noise"], severities=[5], seed=0)
    values = cand.results[0].values["cosine"]
    rng = np.random.default_rng(0)
    cand.results[0].values["cosine"] = values + rng.normal(0, 0.05, values.shape)  # noise, no real change
    cand.results[0]._summaries.clear()
    rule = [parse_compare_rule("cosine.mean:0")]
    plain = compare_runs(base, cand, rule)
    paired = compare_runs(base, cand, rule, paired=True)
    worse_mean = [d for d in plain.deltas if d.metric == "cosine" and d.stat == "mean"][0]
    if worse_mean.worse_by > 0:
        assert plain.failures
    assert not paired.failures  # not significant: the paired gate does not flake
    cand.results[0].values["cosine"] = values - 0.05  # every image worse: a real regression
    cand.results[0]._summaries.clear()
    assert compare_runs(base, cand, rule, paired=True).failures
