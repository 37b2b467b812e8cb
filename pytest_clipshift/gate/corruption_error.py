"""What the robustness field reports for ImageNet-C: corruption error (CE), mean CE (mCE) and relative
mCE of a run against a baseline run (Hendrycks & Dietterich, ICLR 2019, section 3).

The field's error is top-1 classification error and its baseline AlexNet. Here the baseline is any
saved run, and the error of a cell is read from a shift metric (``--clipshift-ce-metric``, default
``cosine``): 1 - mean for a similarity, the mean itself for a distance or an error rate (such as
``zero_shot_flip``). With E(c, s) that error for corruption c at severity s:

* CE_c = sum_s E(c, s) / sum_s E_baseline(c, s);
* relative CE_c = sum_s (E(c, s) - E_clean) / sum_s (E_baseline(c, s) - E_baseline_clean), E_clean
  being the ``identity`` cell's error (preprocessing alone: the noise floor);
* mCE and relative mCE: their means over the 15 common corruptions measured (the four extra ones,
  speckle noise, gaussian blur, spatter and saturate, are reported but, as in the paper, not in mCE),
  and per family the mean over the family's measured corruptions.

Below 100% the candidate moves less than the baseline under corruption. A CE needs both runs to
hold the same severities of the corruption; a zero denominator leaves it undefined (None), never 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.augment.imagenet_c import COMMON, FAMILIES, PREFIX, family_of
from ..core.metrics import metric_info


def cell_error(result, metric: str) -> float:
    """The error one cell stands for: 1 - mean of a similarity, the mean of a distance."""
    mean = result.stat(metric, "mean")
    return 1.0 - mean if metric_info(metric).higher_is_better else mean


def family_curves(run, metric: str) -> dict[str, dict[int, float]]:
    """Per ImageNet-C family, the mean error over its measured corruptions at each severity."""
    sums: dict[str, dict[int, list[float]]] = {}
    for r in run.results:
        if (
            r.subset
            or not r.augmentation.startswith(PREFIX)
            or not isinstance(r.severity, int)
            or metric not in r.values
        ):
            continue
        sums.setdefault(family_of(r.augmentation), {}).setdefault(r.severity, []).append(cell_error(r, metric))
    return {f: {s: float(np.mean(v)) for s, v in sorted(by_sev.items())} for f, by_sev in sums.items()}


@dataclass
class CorruptionErrors:
    metric: str
    baseline_source: str
    corruptions: dict[str, dict] = field(default_factory=dict)  # name -> ce, relative_ce, severities, errors
    families: dict[str, dict] = field(default_factory=dict)  # family -> mce, relative_mce, corruptions
    mce: float | None = None
    relative_mce: float | None = None
    clean_error: float | None = None
    baseline_clean_error: float | None = None

    def to_dict(self) -> dict:
        return {
            "metric": self.metric,
            "baseline": self.baseline_source,
            "mce": self.mce,
            "relative_mce": self.relative_mce,
            "clean_error": self.clean_error,
            "baseline_clean_error": self.baseline_clean_error,
            "families": self.families,
            "corruptions": self.corruptions,
        }


def _clean_error(run, metric: str) -> float | None:
    for r in run.results:
        if r.augmentation == "identity" and not r.subset and metric in r.values:
            return cell_error(r, metric)
    return None


def _ratio(num: float, den: float) -> float | None:
    return None if abs(den) < 1e-12 else float(num / den)


def _mean(values) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def corruption_errors(
    baseline, candidate, metric: str = "cosine", baseline_source: str = "baseline"
) -> CorruptionErrors | None:
    """CE per corruption, per family and mCE of ``candidate`` against ``baseline``; None when the two
    runs share no ImageNet-C cell measured with ``metric``."""

    def cells(run):
        return {
            (r.augmentation, r.severity): r
            for r in run.results
            if not r.subset and r.augmentation.startswith(PREFIX) and isinstance(r.severity, int) and metric in r.values
        }

    mine, theirs = cells(candidate), cells(baseline)
    shared = sorted(set(mine) & set(theirs))
    if not shared:
        return None
    out = CorruptionErrors(
        metric,
        baseline_source,
        clean_error=_clean_error(candidate, metric),
        baseline_clean_error=_clean_error(baseline, metric),
    )
    for name in dict.fromkeys(a for a, _ in shared):
        severities = [s for a, s in shared if a == name]
        errors = [cell_error(mine[(name, s)], metric) for s in severities]
        base = [cell_error(theirs[(name, s)], metric) for s in severities]
        relative = None
        if out.clean_error is not None and out.baseline_clean_error is not None:
            relative = _ratio(sum(e - out.clean_error for e in errors), sum(b - out.baseline_clean_error for b in base))
        short = name[len(PREFIX) :]
        out.corruptions[short] = {
            "family": family_of(name),
            "severities": severities,
            "ce": _ratio(sum(errors), sum(base)),
            "relative_ce": relative,
            "errors": errors,
            "baseline_errors": base,
            "in_mce": short in COMMON,
        }
    for family, members in FAMILIES.items():
        measured = [out.corruptions[m] for m in members if m in out.corruptions and out.corruptions[m]["in_mce"]]
        if measured:
            out.families[family] = {
                "mce": _mean(c["ce"] for c in measured),
                "relative_mce": _mean(c["relative_ce"] for c in measured),
                "corruptions": [m for m in members if m in out.corruptions and out.corruptions[m]["in_mce"]],
            }
    common = [c for c in out.corruptions.values() if c["in_mce"]]
    out.mce = _mean(c["ce"] for c in common)
    out.relative_mce = _mean(c["relative_ce"] for c in common)
    return out
