"""Calibration: the fit of accuracy drop against each shift metric, with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_clipshift.core.runs.calibration import calibrate
from pytest_clipshift.core.runs.results import RunResult, ShiftResult

NAMES = ["a", "b", "c", "d"]


def cell(aug, sev, cosine, drop, l2):
    values = {
        "cosine": np.full(4, cosine),
        "zero_shot_accuracy_drop": np.full(4, drop),
        "l2": np.full(4, l2),
        "zero_shot_flip": np.full(4, drop),
    }
    return ShiftResult(augmentation=aug, severity=sev, image_names=NAMES, values=values, seed=0)


def run(cells):
    return RunResult(model={"name": "m"}, seed=0, image_names=NAMES, image_hash="h", image_source="s", results=cells)


def test_an_exact_linear_relation_is_found_with_its_numbers():
    cosines = [0.99, 0.95, 0.9, 0.8]
    cells = [cell("identity", 3, 1.0, 0.0, 0.0)] + [
        cell(aug, 3, c, 2 * (1 - c), l2)
        for aug, c, l2 in zip(
            ("gaussian_noise", "gaussian_blur", "elastic", "perspective"), cosines, (0.5, 0.1, 0.4, 0.2)
        )
    ]
    cal = calibrate(run(cells))
    assert cal["best"] == "cosine" and len(cal["cells"]) == 4  # identity is left out
    fit = cal["fits"]["cosine"]
    assert fit["slope"] == pytest.approx(-2.0) and fit["intercept"] == pytest.approx(2.0)
    assert fit["r2"] == pytest.approx(1.0) and fit["spearman"] == pytest.approx(-1.0)
    assert fit["value_at_5_point_drop"] == pytest.approx(0.975)  # a 5-point drop at cosine 0.975
    assert "zero_shot_flip" not in cal["fits"]  # text metrics are not predictors
    assert abs(cal["fits"]["l2"]["spearman"]) < 1


def test_too_few_cells_or_no_accuracy_means_no_calibration():
    assert calibrate(run([cell("gaussian_noise", 1, 0.9, 0.1, 0.1), cell("gaussian_noise", 3, 0.8, 0.2, 0.2)])) is None
    no_accuracy = [
        ShiftResult(
            augmentation="gaussian_noise", severity=s, image_names=NAMES, values={"cosine": np.full(4, 0.9)}, seed=0
        )
        for s in (1, 2, 3)
    ]
    assert calibrate(run(no_accuracy)) is None


def fitted(cosines, drops, l2s=None):
    augs = ["gaussian_noise", "gaussian_blur", "elastic", "perspective", "color_jitter", "brightness_contrast"]
    l2s = l2s or [0.1 * (k + 1) for k in range(len(cosines))]
    return calibrate(run([cell(augs[k], 3, c, d, l2) for k, (c, d, l2) in enumerate(zip(cosines, drops, l2s))]))


def test_a_threshold_beyond_the_measured_cells_is_marked_extrapolated():
    """The drop reaches 5 points only below every measured cosine: the value is given, flagged, and
    the measured range is recorded beside it."""
    cal = fitted([0.99, 0.98, 0.97, 0.96, 0.95], [0.0, 0.002, 0.004, 0.006, 0.008])
    fit = cal["fits"]["cosine"]
    assert fit["value_at_5_point_drop"] == pytest.approx(0.74) and fit["extrapolated"]
    assert fit["measured_range"] == pytest.approx([0.95, 0.99]) and not fit["outside_bounds"]
    inside = fitted([1.0, 0.95, 0.9, 0.85, 0.8], [0.0, 0.02, 0.04, 0.06, 0.08])["fits"]["cosine"]
    assert inside["value_at_5_point_drop"] == pytest.approx(0.875) and not inside["extrapolated"]


def test_a_threshold_no_value_of_the_metric_can_take_is_not_given():
    """A nearly flat line crosses a 5-point drop at a cosine far below -1: no value, and the flag."""
    cal = fitted([1.0, 0.95, 0.9, 0.85, 0.8], [0.0, 0.0001, 0.0002, 0.0003, 0.0004])
    fit = cal["fits"]["cosine"]
    assert fit["value_at_5_point_drop"] is None and fit["outside_bounds"] and not fit["extrapolated"]
    assert fit["slope"] == pytest.approx(-0.002)  # the fit itself is still reported


@pytest.mark.parametrize(
    "cosines, drops, weak",
    [
        ([1.0, 0.95, 0.9, 0.85, 0.8], [0.0, 0.02, 0.04, 0.06, 0.08], False),  # R^2 1 over 5 cells
        ([1.0, 0.95, 0.9, 0.85], [0.0, 0.02, 0.04, 0.06], True),  # 4 cells
        ([1.0, 0.95, 0.9, 0.85, 0.8], [0.05, 0.0, 0.08, 0.01, 0.06], True),  # R^2 below 0.5
    ],
)
def test_a_fit_over_few_cells_or_with_a_low_r2_is_weak(cosines, drops, weak):
    fit = fitted(cosines, drops)["fits"]["cosine"]
    assert fit["weak"] is weak
    assert fit["r2"] < 0.5 or len(cosines) < 5 or not weak


def test_the_terminal_says_when_a_fit_is_weak_or_extrapolated():
    from pytest_clipshift.report.terminal import _calibration

    class Lines:
        def __init__(self):
            self.lines = []

        def write_line(self, text, **markup):
            self.lines.append(text)

    tr = Lines()
    _calibration(tr, fitted([0.99, 0.98, 0.97, 0.96], [0.0, 0.002, 0.004, 0.006]))
    assert "a weak fit" in tr.lines[0] and "outside the measured cells, 0.9600 to 0.9900" in tr.lines[0]
    tr = Lines()
    _calibration(tr, fitted([1.0, 0.95, 0.9, 0.85, 0.8], [0.0, 0.0001, 0.0002, 0.0003, 0.0004]))
    assert "no value of cosine.mean predicts a 5-point drop" in tr.lines[0]


def cells_with(columns: dict[str, list[float]], drops: list[float]):
    augs = ["gaussian_noise", "gaussian_blur", "elastic", "perspective", "color_jitter", "brightness_contrast"]
    out = []
    for k, drop in enumerate(drops):
        values = {name: np.full(4, column[k]) for name, column in columns.items()}
        values["zero_shot_accuracy_drop"] = np.full(4, drop)
        out.append(ShiftResult(augmentation=augs[k], severity=3, image_names=NAMES, values=values, seed=0))
    return run(out)


def test_the_record_holds_exactly_its_documented_fields():
    cal = fitted([1.0, 0.95, 0.9, 0.85, 0.8], [0.0, 0.02, 0.04, 0.06, 0.08])
    assert list(cal) == ["target", "cells", "fits", "best"]
    assert cal["target"] == "zero_shot_accuracy_drop" and cal["cells"] == [
        "gaussian_noise[s3]",
        "gaussian_blur[s3]",
        "elastic[s3]",
        "perspective[s3]",
        "color_jitter[s3]",
    ]
    assert list(cal["fits"]["cosine"]) == [
        "slope",
        "intercept",
        "r2",
        "spearman",
        "value_at_5_point_drop",
        "measured_range",
        "extrapolated",
        "outside_bounds",
        "weak",
    ]
    flat = fitted([1.0, 0.95, 0.9, 0.85, 0.8], [0.03] * 5)
    assert list(flat) == ["target", "cells", "fits", "best", "note"] and flat["fits"] == {} and flat["best"] is None
    assert flat["target"] == "zero_shot_accuracy_drop" and len(flat["cells"]) == 5
    assert flat["note"] == "the accuracy drop is 0.0300 in every cell: nothing to calibrate against"


def test_layer_metrics_unknown_names_and_constant_metrics_are_not_predictors_and_do_not_stop_the_rest():
    drops = [0.0, 0.02, 0.04, 0.06, 0.08]
    cal = calibrate(
        cells_with(
            {
                "unregistered": [0.1, 0.2, 0.3, 0.4, 0.5],  # unknown to the registry
                "l2": [0.3] * 5,  # constant: nothing to fit, and the next metric is still fitted
                "layer_cosine@3": [0.9, 0.8, 0.7, 0.6, 0.5],
                "cosine": [1.0, 0.95, 0.9, 0.85, 0.8],
            },
            drops,
        )
    )
    assert list(cal["fits"]) == ["cosine"] and cal["best"] == "cosine"
    none_fitted = calibrate(cells_with({"l2": [0.3] * 5}, drops))
    assert none_fitted["fits"] == {} and none_fitted["best"] is None


def test_the_best_predictor_ranks_by_abs_spearman_then_r2_not_by_name():
    drops = [0.0, 0.02, 0.04, 0.06, 0.08]
    # both monotone (|Spearman| 1); l2 is exactly linear, cosine bends: R^2 decides, for l2
    cal = calibrate(cells_with({"cosine": [1.0, 0.99, 0.97, 0.9, 0.5], "l2": [0.1, 0.2, 0.3, 0.4, 0.5]}, drops))
    assert abs(cal["fits"]["cosine"]["spearman"]) == abs(cal["fits"]["l2"]["spearman"]) == pytest.approx(1.0)
    assert cal["fits"]["l2"]["r2"] > cal["fits"]["cosine"]["r2"] and cal["best"] == "l2"
    # cosine monotone but bent (|rho| 1, lower R^2) against l2 nearly linear with one swap (|rho| < 1,
    # higher R^2): Spearman comes first
    drops = [0.0, 0.01, 0.02, 0.03, 0.2]
    cal = calibrate(cells_with({"cosine": [1.0, 0.99, 0.98, 0.97, 0.96], "l2": [0.0, 0.011, 0.009, 0.03, 0.2]}, drops))
    fits = cal["fits"]
    assert abs(fits["cosine"]["spearman"]) > abs(fits["l2"]["spearman"]) and fits["l2"]["r2"] > fits["cosine"]["r2"]
    assert cal["best"] == "cosine"


def test_r2_when_the_drops_sum_of_squares_is_exactly_one():
    cal = calibrate(cells_with({"cosine": [0.9, 0.5, 0.8, 0.4]}, [0.0, 1.0, 0.0, 1.0]))
    fit = cal["fits"]["cosine"]
    x, y = np.array([0.9, 0.5, 0.8, 0.4]), np.array([0.0, 1.0, 0.0, 1.0])
    slope, intercept = np.polyfit(x, y, 1)
    assert fit["r2"] == pytest.approx(1 - ((y - slope * x - intercept) ** 2).sum())
