"""A clipshift item's key numbers as test properties (``record_property``'s form, which pytest's
JUnit XML writes under xdist too): the cell, its verdict, each rule judged on it with its value and
threshold, and, when a baseline is compared, the delta of each judged statistic against it."""

from __future__ import annotations

import math


def _num(v) -> str:
    return "undefined" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.6g}"


def cell_properties(result, checks, verdict: str, baseline_cell=None, compared=()) -> list[tuple[str, str]]:
    """``checks``: the recorded checks on ``result``'s cell; ``compared``: (metric, stat) pairs the
    compare rules gate, whose deltas are recorded beside those of the checked rules."""
    props = [("clipshift_cell", result.key), ("clipshift_verdict", verdict or "measured")]
    for c in checks:
        outcome = "PASS" if c.passed else "FAIL"
        props.append((f"clipshift.{c.metric}.{c.stat}", f"{_num(c.value)} ({c.op} {c.threshold:g}: {outcome})"))
    if baseline_cell is not None:
        stats = dict.fromkeys([(c.metric, c.stat) for c in checks] + list(compared))
        for metric, stat in stats:
            if metric in result.values and metric in baseline_cell.values:
                delta = result.stat(metric, stat) - baseline_cell.stat(metric, stat)
                props.append((f"clipshift.{metric}.{stat}.delta", _num(delta)))
    return props
