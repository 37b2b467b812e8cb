"""Drawing the report's figures warns about nothing."""

from __future__ import annotations

import warnings

import numpy as np

pytest_plugins = ["pytester"]


def test_drawing_the_report_figures_warns_about_nothing():
    from pytest_clipshift.core.runs.results import RunResult, ShiftResult
    from pytest_clipshift.report import figures as F

    rng = np.random.default_rng(0)
    results = [
        ShiftResult(
            augmentation=a, severity=3, image_names=list("abcd"), values={"cosine": rng.uniform(0.8, 1, 4)}, seed=0
        )
        for a in ("identity", "gaussian_blur")
    ]
    run = RunResult(
        model={"name": "m", "fingerprint": "f"},
        seed=0,
        image_names=list("abcd"),
        image_hash="h",
        image_source="s",
        results=results,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "vert: bool" deprecation used to print on every run
        assert F.distributions_png(run, 3)
