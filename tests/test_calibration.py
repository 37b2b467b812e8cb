"""Calibration (issue 14): the fit of accuracy drop against each shift metric, with known answers."""

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
    return ShiftResult(aug, sev, NAMES, values, 0)


def run(cells):
    return RunResult({"name": "m"}, 0, NAMES, "h", "s", cells)


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
    no_accuracy = [ShiftResult("gaussian_noise", s, NAMES, {"cosine": np.full(4, 0.9)}, 0) for s in (1, 2, 3)]
    assert calibrate(run(no_accuracy)) is None
