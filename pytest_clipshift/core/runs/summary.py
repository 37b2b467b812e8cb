"""Summaries of per-image values: the statistics every budget and compare judges.

NaN marks an undefined value (the correlation of a constant map, say): excluded from every
statistic and counted in ``n_undefined``, never averaged as zero.
"""

from __future__ import annotations

import numpy as np

STATISTICS = ("mean", "std", "median", "min", "max", "p05", "p95", "ci95_low", "ci95_high")


def bootstrap_ci(values: np.ndarray, seed: int, n_resamples: int = 2000, level: float = 0.95) -> tuple[float, float]:
    """Seeded percentile bootstrap interval of the mean."""
    v = np.asarray(values, np.float64)
    if v.size < 2:  # no value, or one with no spread: the interval is undefined, not a point
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(n_resamples, v.size))].mean(axis=1)
    alpha = (1 - level) / 2
    return (float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha)))


def summarize(values: np.ndarray, seed: int) -> dict[str, float]:
    """mean, std, median, min, max, p05, p95 and the bootstrap 95% CI of the mean.

    NaN values (an undefined correlation, say) are excluded and counted in ``n_undefined``. With a
    single defined value the std and the CI are undefined (NaN, ``null`` in JSON), not 0.
    """
    v = np.asarray(values, np.float64)
    finite = v[~np.isnan(v)]
    out: dict[str, float] = {"n": int(finite.size), "n_undefined": int(v.size - finite.size)}
    if finite.size == 0:
        out.update({k: float("nan") for k in STATISTICS})
        return out
    lo, hi = bootstrap_ci(finite, seed)
    out.update(
        {
            "mean": float(finite.mean()),
            "std": float(finite.std(ddof=1)) if finite.size > 1 else float("nan"),
            "median": float(np.median(finite)),
            "min": float(finite.min()),
            "max": float(finite.max()),
            "p05": float(np.quantile(finite, 0.05)),
            "p95": float(np.quantile(finite, 0.95)),
            "ci95_low": lo,
            "ci95_high": hi,
        }
    )
    return out
