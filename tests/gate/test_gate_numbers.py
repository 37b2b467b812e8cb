"""Corruption error, calibration and the labelled sample against numbers computed here, by hand or by
scipy, on runs built cell by cell. Each input is chosen so that the plausible wrong formula (a sum
for a mean, Pearson for Spearman, R^2 about zero, the remainder rule reversed) gives another number."""

from __future__ import annotations

import collections

import numpy as np
import pytest
from scipy import stats

from pytest_clipshift.core.data.sampling import stratified_sample
from pytest_clipshift.core.runs.calibration import calibrate
from pytest_clipshift.core.runs.results import RunResult, ShiftResult
from pytest_clipshift.gate.corruption_error import corruption_errors, family_curves

NAMES = ["a", "b", "c", "d"]


def cell(aug, sev, **means):
    return ShiftResult(
        augmentation=aug, severity=sev, image_names=NAMES, values={m: np.full(4, v) for m, v in means.items()}, seed=0
    )


def run(cells):
    return RunResult(model={"name": "m"}, seed=0, image_names=NAMES, image_hash="h", image_source="s", results=cells)


# ----------------------------------------------------------------------------- corruption error
def two_noise_runs():
    """gaussian and shot noise (family noise) and fog (weather) at s1 and s2, identity floors 0.02/0.01."""
    base = run(
        [
            cell("identity", 3, cosine=0.98),
            cell("imagenet_c.gaussian_noise", 1, cosine=0.9),
            cell("imagenet_c.gaussian_noise", 2, cosine=0.7),
            cell("imagenet_c.shot_noise", 1, cosine=0.8),
            cell("imagenet_c.shot_noise", 2, cosine=0.6),
            cell("imagenet_c.fog", 1, cosine=0.9),
            cell("imagenet_c.fog", 2, cosine=0.8),
        ]
    )
    cand = run(
        [
            cell("identity", 3, cosine=0.99),
            cell("imagenet_c.gaussian_noise", 1, cosine=0.95),
            cell("imagenet_c.gaussian_noise", 2, cosine=0.85),
            cell("imagenet_c.shot_noise", 1, cosine=0.7),
            cell("imagenet_c.shot_noise", 2, cosine=0.5),
            cell("imagenet_c.fog", 1, cosine=0.9),
            cell("imagenet_c.fog", 2, cosine=0.8),
        ]
    )
    return base, cand


def test_family_numbers_are_means_of_their_corruptions_and_relative_is_its_own():
    base, cand = two_noise_runs()
    e = corruption_errors(base, cand)
    ce_gauss = (0.05 + 0.15) / (0.1 + 0.3)
    ce_shot = (0.3 + 0.5) / (0.2 + 0.4)
    rel_gauss = ((0.05 - 0.01) + (0.15 - 0.01)) / ((0.1 - 0.02) + (0.3 - 0.02))
    rel_shot = ((0.3 - 0.01) + (0.5 - 0.01)) / ((0.2 - 0.02) + (0.4 - 0.02))
    ce_fog = (0.1 + 0.2) / (0.1 + 0.2)
    rel_fog = ((0.1 - 0.01) + (0.2 - 0.01)) / ((0.1 - 0.02) + (0.2 - 0.02))
    assert e.corruptions["gaussian_noise"]["ce"] == pytest.approx(ce_gauss)
    assert e.corruptions["shot_noise"]["relative_ce"] == pytest.approx(rel_shot)
    assert e.families["noise"]["mce"] == pytest.approx((ce_gauss + ce_shot) / 2)
    assert e.families["noise"]["relative_mce"] == pytest.approx((rel_gauss + rel_shot) / 2)
    assert e.families["weather"]["relative_mce"] == pytest.approx(rel_fog)
    assert e.families["noise"]["corruptions"] == ["gaussian_noise", "shot_noise"]
    assert e.mce == pytest.approx((ce_gauss + ce_shot + ce_fog) / 3)
    assert e.relative_mce == pytest.approx((rel_gauss + rel_shot + rel_fog) / 3)
    assert e.clean_error == pytest.approx(0.01) and e.baseline_clean_error == pytest.approx(0.02)
    assert e.corruptions["fog"]["errors"] == pytest.approx([0.1, 0.2])
    assert e.corruptions["fog"]["baseline_errors"] == pytest.approx([0.1, 0.2])
    assert e.corruptions["shot_noise"]["family"] == "noise" and e.corruptions["shot_noise"]["in_mce"]
    assert e.to_dict()["families"]["noise"]["mce"] == pytest.approx((ce_gauss + ce_shot) / 2)
    assert e.to_dict()["relative_mce"] == pytest.approx(e.relative_mce)


def test_a_family_curve_is_the_mean_error_of_its_corruptions_at_each_severity():
    base, _ = two_noise_runs()
    curves = family_curves(base, "cosine")
    assert curves["noise"] == pytest.approx({1: (0.1 + 0.2) / 2, 2: (0.3 + 0.4) / 2})
    assert curves["weather"] == pytest.approx({1: 0.1, 2: 0.2}) and list(curves["noise"]) == [1, 2]
    assert set(curves) == {"noise", "weather"}  # identity is no family


def test_the_other_metric_and_subsets_are_not_mixed_in():
    base, cand = two_noise_runs()
    subset = cell("imagenet_c.fog", 1, cosine=0.1)
    subset.subset = "label=cat"
    base.results.append(subset)
    assert corruption_errors(base, cand).corruptions["fog"]["ce"] == pytest.approx(1.0)
    assert "weather" in family_curves(base, "cosine") and family_curves(base, "cosine")["weather"][1] == pytest.approx(
        0.1
    )
    assert corruption_errors(base, cand, "l2") is None and family_curves(base, "l2") == {}


# ----------------------------------------------------------------------------- calibration
def calibration_run():
    """Four cells: the drop rises with 1 - cosine, convex (Spearman -1, Pearson above -1); l2 ranks
    them with one swap."""
    cosines = [0.95, 0.9, 0.8, 0.6]
    drops = [0.01, 0.03, 0.1, 0.4]
    l2 = [0.1, 0.3, 0.2, 0.9]
    cells = [cell("identity", 3, cosine=1.0, zero_shot_accuracy_drop=0.0, l2=0.0)]
    cells += [
        cell(a, 3, cosine=c, zero_shot_accuracy_drop=d, l2=x)
        for a, c, d, x in zip(("gaussian_noise", "gaussian_blur", "elastic", "perspective"), cosines, drops, l2)
    ]
    return run(cells), np.array(cosines), np.array(drops), np.array(l2)


def test_calibration_numbers_are_scipys():
    r, x, y, l2 = calibration_run()
    cal = calibrate(r)
    fit = stats.linregress(x, y)
    cosine = cal["fits"]["cosine"]
    assert cosine["slope"] == pytest.approx(fit.slope) and cosine["intercept"] == pytest.approx(fit.intercept)
    assert cosine["r2"] == pytest.approx(fit.rvalue**2)
    assert cosine["spearman"] == pytest.approx(-1.0) and fit.rvalue > -0.99  # Pearson would say otherwise
    assert cosine["value_at_5_point_drop"] == pytest.approx((0.05 - fit.intercept) / fit.slope)
    other = stats.linregress(l2, y)
    assert cal["fits"]["l2"]["r2"] == pytest.approx(other.rvalue**2)
    assert cal["fits"]["l2"]["spearman"] == pytest.approx(stats.spearmanr(l2, y).statistic)
    assert cal["best"] == "cosine"  # |Spearman| 1 beats 0.8, whatever the sign
    assert cal["cells"] == ["gaussian_noise[s3]", "gaussian_blur[s3]", "elastic[s3]", "perspective[s3]"]
    assert cal["target"] == "zero_shot_accuracy_drop"


def test_ties_in_spearman_go_to_the_larger_r2():
    x = np.array([0.9, 0.8, 0.7, 0.5])
    y = np.array([0.01, 0.05, 0.06, 0.2])
    cells = [
        cell(a, 2, cosine=c, l2=1 - c**3, zero_shot_accuracy_drop=d)
        for a, c, d in zip(("gaussian_noise", "gaussian_blur", "elastic", "perspective"), x, y)
    ]
    cal = calibrate(run(cells))
    assert cal["fits"]["cosine"]["spearman"] == pytest.approx(-cal["fits"]["l2"]["spearman"])
    best = max(("cosine", "l2"), key=lambda m: cal["fits"][m]["r2"])
    assert cal["best"] == best


def test_a_constant_metric_or_constant_drop_is_no_fit():
    cells = [
        cell(a, 3, cosine=c, l2=0.5, zero_shot_accuracy_drop=d)
        for a, c, d in zip(("gaussian_noise", "gaussian_blur", "elastic"), (0.9, 0.8, 0.7), (0.1, 0.2, 0.4))
    ]
    cal = calibrate(run(cells))
    assert "l2" not in cal["fits"] and cal["best"] == "cosine"
    flat = [
        cell(a, 3, cosine=c, zero_shot_accuracy_drop=0.02)
        for a, c in zip(("gaussian_noise", "gaussian_blur", "elastic"), (0.9, 0.8, 0.7))
    ]
    cal = calibrate(run(flat))
    assert cal["best"] is None and cal["fits"] == {} and "0.0200" in cal["note"]


# ----------------------------------------------------------------------------- labelled sample
def test_the_largest_remainder_goes_to_the_largest_fraction():
    """6 cats, 3 dogs, 1 owl, 4 drawn: exact shares 2.4, 1.2, 0.4; floors 2, 1, 0; the one left goes
    to the owl (remainder 0.4), not the cat or the dog (0.4 > 0.2)."""
    labels = ["cat"] * 6 + ["dog"] * 3 + ["owl"]
    for seed in range(5):
        picked = stratified_sample(labels, 4, seed)
        assert collections.Counter(labels[i] for i in picked) == {"cat": 2, "dog": 1, "owl": 1}
        assert picked == sorted(picked) and len(set(picked)) == 4


def test_two_remainders_are_given_in_order_of_size():
    """5 a, 4 b, 1 c, 7 drawn: exact 3.5, 2.8, 0.7; floors 3, 2, 0; two left: b (0.8) then c (0.7)."""
    labels = ["a"] * 5 + ["b"] * 4 + ["c"]
    picked = stratified_sample(labels, 7, 0)
    assert collections.Counter(labels[i] for i in picked) == {"a": 3, "b": 3, "c": 1}


def test_the_sample_is_seeded_and_draws_within_each_label():
    labels = ["x"] * 50 + ["y"] * 50
    a, b = stratified_sample(labels, 10, 1), stratified_sample(labels, 10, 2)
    assert a == stratified_sample(labels, 10, 1) and a != b
    assert sum(i < 50 for i in a) == 5
    assert stratified_sample(labels, 100, 0) == list(range(100)) and stratified_sample(labels, 200, 0) == list(
        range(100)
    )
    unlabelled = [None, None, "x", "x"]
    assert collections.Counter(unlabelled[i] for i in stratified_sample(unlabelled, 2, 0)) == {None: 1, "x": 1}
