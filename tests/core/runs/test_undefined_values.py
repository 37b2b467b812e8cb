"""Undefined statistics are null in the results, never a number."""

from __future__ import annotations

import json

import numpy as np

from pytest_clipshift.core import metrics as M


def test_undefined_std_and_ci_of_one_value_are_null(tmp_path):
    s = M.summarize(np.array([0.7]), seed=0)
    assert s["mean"] == 0.7 and s["n"] == 1
    assert np.isnan(s["std"]) and np.isnan(s["ci95_low"]) and np.isnan(s["ci95_high"])
    from pytest_clipshift.core.runs.results import ShiftResult

    d = ShiftResult(
        augmentation="gaussian_noise", severity=3, image_names=["a.png"], values={"cosine": np.array([0.7])}, seed=0
    ).to_dict()
    assert d["metrics"]["cosine"]["std"] is None and d["metrics"]["cosine"]["ci95"] == [None, None]
    assert json.loads(json.dumps(d, allow_nan=False))["metrics"]["cosine"]["mean"] == 0.7
