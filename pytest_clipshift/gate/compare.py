"""Comparing a candidate run with a baseline run: per (augmentation, severity, metric) deltas and
fail rules such as ``cosine.mean:2%`` (relative) or ``cosine.mean:0.01`` (absolute)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..core.metrics import metric_info, split_layer
from ..core.errors import ConfigError

COMPARE_STATS = ("mean", "median", "min", "max", "p05", "p95", "std")


@dataclass(frozen=True)
class CompareRule:
    metric: str
    stat: str
    tolerance: float
    relative: bool
    text: str

    def allowed(self, baseline: float) -> float:
        return abs(baseline) * self.tolerance if self.relative else self.tolerance


def parse_compare_rule(text: str, origin: str = "--clipshift-compare-fail") -> CompareRule:
    key, sep, tol = str(text).partition(":")
    metric, dot, stat = key.strip().rpartition(".")
    if not sep or not dot:
        raise ConfigError(f"{origin} {text!r}: expected METRIC.STAT:TOLERANCE, e.g. cosine.mean:2% or cosine.mean:0.01")
    try:
        metric_info(metric)
    except ConfigError as exc:
        raise ConfigError(f"{origin} {text!r}: {exc}") from None
    if stat not in COMPARE_STATS:
        raise ConfigError(f"{origin} {text!r}: unknown statistic {stat!r}; valid: {', '.join(COMPARE_STATS)}")
    tol = tol.strip()
    relative = tol.endswith("%")
    try:
        value = float(tol[:-1] if relative else tol)
    except ValueError:
        raise ConfigError(f"{origin} {text!r}: tolerance {tol!r} is not a number or a percentage") from None
    if value < 0 or not math.isfinite(value):
        raise ConfigError(f"{origin} {text!r}: tolerance must be a finite number >= 0")
    return CompareRule(metric, stat, value / 100 if relative else value, relative, str(text))


@dataclass
class Delta:
    augmentation: str
    severity: int | str
    metric: str
    stat: str
    baseline: float
    candidate: float
    worse_by: float  # > 0: the candidate moved more than the baseline
    failed: list[str] = field(default_factory=list)
    significant: bool | None = None  # paired test verdict, when one was run
    interval: tuple[float, float] | None = None  # paired bootstrap interval of candidate - baseline

    def to_dict(self) -> dict:
        return {"augmentation": self.augmentation, "severity": self.severity, "metric": self.metric,
                "stat": self.stat, "baseline": self.baseline, "candidate": self.candidate,
                "delta": self.candidate - self.baseline, "worse_by": self.worse_by, "failed": self.failed,
                "significant": self.significant, "interval": list(self.interval) if self.interval else None}


@dataclass
class Comparison:
    baseline_source: str
    deltas: list[Delta]
    rules: list[CompareRule]
    missing: list[str]  # cells of the baseline the candidate did not measure
    allow_missing: bool = False  # the user's explicit opt-out: missing cells do not fail the gate

    @property
    def failures(self) -> list[Delta]:
        return [d for d in self.deltas if d.failed]

    @property
    def gate_failed(self) -> bool:
        """A regression beyond tolerance, or a baseline cell this run did not measure (unless allowed):
        a gate that silently skips what it did not measure would pass a half-run candidate."""
        return bool(self.failures) or (bool(self.missing) and not self.allow_missing)

    def to_dict(self) -> dict:
        return {"baseline": self.baseline_source, "rules": [r.text for r in self.rules],
                "deltas": [d.to_dict() for d in self.deltas], "missing": self.missing,
                "allow_missing": self.allow_missing, "failed": len(self.failures)}


def check_comparable(baseline, candidate, baseline_source: str = "baseline") -> None:
    if baseline.image_hash != candidate.image_hash:
        raise ConfigError(
            f"cannot compare with {baseline_source}: it was measured on a different image set "
            f"(hash {baseline.image_hash}, {len(baseline.image_names)} images from {baseline.image_source!r}) than this run "
            f"(hash {candidate.image_hash}, {len(candidate.image_names)} images from {candidate.image_source!r}); "
            "use the same images and --clipshift-max-images"
        )
    if baseline.seed != candidate.seed:
        raise ConfigError(f"cannot compare with {baseline_source}: it used seed {baseline.seed}, this run seed {candidate.seed}; "
                          "use the same --clipshift-seed")


def compare_runs(baseline, candidate, rules: list[CompareRule] = (), *, baseline_source: str = "baseline",
                 paired: bool = False, confidence: float = 0.95, allow_missing: bool = False) -> Comparison:
    """Deltas for every (augmentation, severity, metric) both runs measured.

    With ``paired`` each mean is also compared image by image (the same images, the same seed): a
    seeded bootstrap interval of the per-image differences, and a rule only fails when the
    regression is significant at ``confidence`` (the interval lies entirely on the worse side).
    """
    check_comparable(baseline, candidate, baseline_source)
    by_key = {(r.augmentation, r.severity): r for r in candidate.results if not r.subset}
    deltas, missing = [], []
    stats = list(dict.fromkeys(["mean"] + [r.stat for r in rules]))
    for old in (r for r in baseline.results if not r.subset):
        new = by_key.get((old.augmentation, old.severity))
        if new is None:
            missing.append(old.key)
            continue
        for metric in old.values:
            if metric not in new.values or split_layer(metric)[1] is not None:  # per-layer values: not gated
                continue
            higher = metric_info(metric).higher_is_better
            for stat in stats:
                b, c = old.stat(metric, stat), new.stat(metric, stat)
                worse = (b - c) if higher else (c - b)
                delta = Delta(old.augmentation, old.severity, metric, stat, b, c, worse)
                if paired and stat == "mean":
                    delta.interval, delta.significant = _paired(old.values[metric], new.values[metric], higher,
                                                                confidence, baseline.seed)
                for rule in rules:
                    if rule.metric == metric and rule.stat == stat and worse > rule.allowed(b) + 1e-12:
                        if paired and stat == "mean" and not delta.significant:
                            continue
                        delta.failed.append(rule.text)
                deltas.append(delta)
    return Comparison(baseline_source, deltas, list(rules), missing, allow_missing)


def _paired(old_values, new_values, higher: bool, confidence: float, seed: int):
    import numpy as np

    from ..core.summary import bootstrap_ci

    diff = np.asarray(new_values, np.float64) - np.asarray(old_values, np.float64)
    diff = diff[~np.isnan(diff)]
    if diff.size == 0:
        return None, False
    lo, hi = bootstrap_ci(diff, seed=seed + 29, level=confidence)
    significant_worse = hi < 0 if higher else lo > 0
    return (lo, hi), bool(significant_worse)
