"""A recorded check as the results file holds it: every field, an undefined value as null (never
NaN, which strict JSON readers refuse), and read back equal."""

from __future__ import annotations

import json
import math

import pytest

from pytest_clipshift.core.runs.checks import RecordedCheck


def recorded(**change):
    fields = dict(
        test="test_x",
        augmentation="fog",
        severity="paper",
        metric="cosine",
        stat="p05",
        op=">=",
        threshold=0.8,
        value=0.75,
        point=0.77,
        interval=(0.7, 0.8),
        passed=False,
    )
    return RecordedCheck(**{**fields, **change})


def test_every_field_is_written_and_read_back():
    check = recorded()
    written = check.to_dict()
    assert written == {
        "test": "test_x",
        "augmentation": "fog",
        "severity": "paper",
        "metric": "cosine",
        "stat": "p05",
        "op": ">=",
        "threshold": 0.8,
        "value": 0.75,
        "point": 0.77,
        "interval": [0.7, 0.8],
        "passed": False,
    }
    assert RecordedCheck.from_dict(json.loads(json.dumps(written))) == check
    assert check.rule_text == "cosine.p05 >= 0.8"
    assert check.key == ("fog", "paper", "cosine", "p05", ">=", 0.8)


@pytest.mark.parametrize("undefined", [None, math.nan])
def test_an_undefined_value_is_written_as_null(undefined):
    written = recorded(value=undefined, point=undefined, interval=(undefined, 0.9)).to_dict()
    assert written["value"] is None and written["point"] is None and written["interval"] == [None, 0.9]
    json.dumps(written, allow_nan=False)  # strict JSON: no NaN left


def test_numbers_are_written_as_plain_floats_and_no_interval_as_null():
    import numpy as np

    written = recorded(value=np.float32(0.5), point=1, interval=None, severity=3).to_dict()
    assert type(written["value"]) is float and type(written["point"]) is float and written["point"] == 1.0
    assert written["interval"] is None and written["severity"] == 3
    back = RecordedCheck.from_dict(written)
    assert back.severity == 3 and back.passed is False
    assert RecordedCheck.from_dict(recorded(passed=True).to_dict()).passed is True
