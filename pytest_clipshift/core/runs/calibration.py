"""How well each shift metric predicts the accuracy drop, across the cells of a run with labels.

Over the (augmentation, severity) cells (identity left out), the mean ``zero_shot_accuracy_drop`` is
fitted against each shift metric's mean: least-squares slope and intercept, R^2 and Spearman's rank
correlation. The metric with the largest |Spearman| (then R^2) is named the best predictor, and the
value of it at which the fit predicts a 5-point accuracy drop is given, so a shift budget can be
written in accuracy points.

A fit with R^2 below ``WEAK_R2`` or over fewer than ``MIN_CELLS`` cells is flagged ``weak``. The value
at a 5-point drop is flagged ``extrapolated`` when it lies outside the range of the metric the cells
measured, and not given at all (None, with ``outside_bounds``) when no value of the metric can be it.
"""

from __future__ import annotations

import numpy as np

from ..metrics import metric_info, split_layer

TARGET = "zero_shot_accuracy_drop"
DROP_POINTS = 0.05
WEAK_R2 = 0.5
MIN_CELLS = 5


def _usable(name: str) -> bool:
    if split_layer(name)[1] is not None:
        return False
    try:
        return metric_info(name).needs != "text"
    except Exception:
        return False


def calibrate(run, target: str = TARGET) -> dict | None:
    """Fits of ``target`` against every shift metric the cells share; None with fewer than 3 cells."""
    from scipy.stats import spearmanr

    cells = [
        r
        for r in run.results
        if not r.subset and r.augmentation != "identity" and r.strength is None and target in r.values
    ]
    if len(cells) < 3:
        return None
    y = np.array([r.stat(target, "mean") for r in cells])
    if not np.all(np.isfinite(y)):
        return None
    if np.ptp(y) == 0:  # every cell lost the same accuracy (often none): there is nothing to predict
        return {
            "target": target,
            "cells": [r.key for r in cells],
            "fits": {},
            "best": None,
            "note": f"the accuracy drop is {y[0]:.4f} in every cell: nothing to calibrate against",
        }
    shared = [m for m in cells[0].values if _usable(m) and all(m in r.values for r in cells)]
    fits = {}
    for name in shared:
        x = np.array([r.stat(name, "mean") for r in cells])
        if not np.all(np.isfinite(x)) or np.ptp(x) == 0:
            continue
        slope, intercept = np.polyfit(x, y, 1)
        residual = float(((y - (slope * x + intercept)) ** 2).sum())
        total = float(((y - y.mean()) ** 2).sum())
        rho = float(spearmanr(x, y).statistic)  # defined: x and y both vary here
        at_drop = float((DROP_POINTS - intercept) / slope) if slope != 0 else None
        r2 = 1 - residual / total  # total > 0: y varies
        low, high = metric_info(name).bounds
        possible = at_drop is not None and (low is None or at_drop >= low) and (high is None or at_drop <= high)
        fits[name] = {
            "slope": float(slope),
            "intercept": float(intercept),
            "r2": r2,
            "spearman": rho,
            "value_at_5_point_drop": at_drop if possible else None,
            "measured_range": [float(x.min()), float(x.max())],
            "extrapolated": bool(possible and not x.min() <= at_drop <= x.max()),
            "outside_bounds": bool(at_drop is not None and not possible),
            "weak": bool(r2 < WEAK_R2 or len(cells) < MIN_CELLS),
        }
    ranked = sorted(fits, key=lambda m: (-abs(fits[m]["spearman"]), -fits[m]["r2"]))
    return {"target": target, "cells": [r.key for r in cells], "fits": fits, "best": ranked[0] if ranked else None}
