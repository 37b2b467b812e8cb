"""Comparing a candidate run with a baseline run: per (augmentation, severity, metric) deltas and
fail rules such as ``cosine.mean:2%`` (relative) or ``cosine.mean:0.01`` (absolute)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..core.errors import ConfigError
from ..core.metrics import metric_info, split_layer
from ..core.runs.combine import settings_mismatch

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
    baseline: float | None  # None: not measured; NaN: undefined
    candidate: float | None
    worse_by: float  # > 0: the candidate moved more than the baseline; NaN when either side is undefined
    failed: list[str] = field(default_factory=list)
    significant: bool | None = None  # paired test verdict, when one was run
    interval: tuple[float, float] | None = None  # paired bootstrap interval of candidate - baseline

    @property
    def difference(self) -> float | None:
        """candidate - baseline, or None when either side is not measured or undefined."""
        return self.candidate - self.baseline if _defined(self.baseline) and _defined(self.candidate) else None

    def describe(self) -> str:
        """``0.9123 -> 0.8870 (-0.0253)``; a side not measured or undefined says so instead of a number."""

        def side(value) -> str:
            return "not measured" if value is None else (f"{value:.4f}" if _defined(value) else "undefined")

        text = f"{side(self.baseline)} -> {side(self.candidate)}"
        return text if self.difference is None else f"{text} ({self.difference:+.4f})"

    def to_dict(self) -> dict:
        defined = self.difference is not None
        return {
            "augmentation": self.augmentation,
            "severity": self.severity,
            "metric": self.metric,
            "stat": self.stat,
            "baseline": _number(self.baseline),
            "candidate": _number(self.candidate),
            "delta": self.difference,
            "worse_by": self.worse_by if defined else None,
            "failed": self.failed,
            "significant": self.significant,
            "interval": list(self.interval) if self.interval else None,
        }


def _number(value) -> float | None:
    return value if _defined(value) else None


def no_rules_note(flag: str) -> str:
    """What a compare without rules says wherever its verdict is shown: it gated nothing."""
    return f"no compare rules: the deltas are shown, nothing is gated ({flag} RULE gates them)"


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
        return {
            "baseline": self.baseline_source,
            "rules": [r.text for r in self.rules],
            "deltas": [d.to_dict() for d in self.deltas],
            "missing": self.missing,
            "allow_missing": self.allow_missing,
            "failed": len(self.failures),
        }


def check_comparable(baseline, candidate, baseline_source: str = "baseline") -> None:
    if baseline.image_hash != candidate.image_hash:
        raise ConfigError(
            f"cannot compare with {baseline_source}: it was measured on a different image set "
            f"(hash {baseline.image_hash}, {len(baseline.image_names)} images from {baseline.image_source!r}) than "
            "this run "
            f"(hash {candidate.image_hash}, {len(candidate.image_names)} images from {candidate.image_source!r}); "
            "use the same images and --clipshift-max-images"
        )
    if baseline.seed != candidate.seed:
        raise ConfigError(
            f"cannot compare with {baseline_source}: it used seed {baseline.seed}, this run seed {candidate.seed}; "
            "use the same --clipshift-seed"
        )
    mismatch = settings_mismatch(baseline, candidate)
    if mismatch is not None:
        name, old, new, option = mismatch
        raise ConfigError(
            f"cannot compare with {baseline_source}: it was measured with {name} {old}, this run with "
            f"{new}; the numbers measure different things: use the same {option}"
        )


def _defined(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def compare_runs(
    baseline,
    candidate,
    rules: list[CompareRule] = (),
    *,
    baseline_source: str = "baseline",
    paired: bool = False,
    confidence: float = 0.95,
    allow_missing: bool = False,
) -> Comparison:
    """Deltas for every (augmentation, severity, metric) both runs measured, and every rule checked
    on every cell both runs measured.

    A rule the gate cannot evaluate on a cell fails it, naming why: the metric was not measured by
    the candidate or the baseline, or its statistic is undefined (every per-image value NaN: a
    collapsed attention map, say). Only a defined value within tolerance passes.

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
        cell: dict[tuple[str, str], Delta] = {}
        for metric in old.values:
            if metric not in new.values or split_layer(metric)[1] is not None:  # per-layer values: shown by rules only
                continue
            for stat in stats:
                cell[(metric, stat)] = _delta(old, new, metric, stat, paired, confidence, baseline.seed)
        for rule in rules:
            delta = cell.get((rule.metric, rule.stat))
            if delta is None:
                delta = cell[(rule.metric, rule.stat)] = _delta(
                    old, new, rule.metric, rule.stat, paired, confidence, baseline.seed
                )
            reason = _rule_failure(rule, delta, paired)
            if reason is not None:
                delta.failed.append(reason)
        deltas += cell.values()
    return Comparison(baseline_source, deltas, list(rules), missing, allow_missing)


def _delta(old, new, metric, stat, paired, confidence, seed) -> Delta:
    b = old.stat(metric, stat) if metric in old.values else None
    c = new.stat(metric, stat) if metric in new.values else None
    delta = Delta(old.augmentation, old.severity, metric, stat, b, c, float("nan"))
    higher = metric_info(metric).higher_is_better
    if delta.difference is not None:
        delta.worse_by = -delta.difference if higher else delta.difference
    if paired and stat == "mean" and b is not None and c is not None:  # no defined pair: no interval, not significant
        delta.interval, delta.significant = _paired(old.values[metric], new.values[metric], higher, confidence, seed)
    return delta


def _rule_failure(rule: CompareRule, delta: Delta, paired: bool) -> str | None:
    """The rule's text when it fails on this cell, with why when it could not be evaluated; None when it passes."""
    if delta.candidate is None:
        return f"{rule.text} (not measured in this run: add {rule.metric} to --clipshift-metrics or the budgets)"
    if delta.baseline is None:
        return f"{rule.text} (the baseline did not measure {rule.metric})"
    if not _defined(delta.candidate):
        return f"{rule.text} (undefined in this run: no image gave a defined {rule.metric})"
    if not _defined(delta.baseline):
        return f"{rule.text} (undefined in the baseline)"
    if delta.worse_by <= rule.allowed(delta.baseline) + 1e-12:
        return None
    if paired and rule.stat == "mean" and not delta.significant:
        return None
    return rule.text


def _paired(old_values, new_values, higher: bool, confidence: float, seed: int):
    import numpy as np

    from ..core.runs.summary import bootstrap_ci

    diff = np.asarray(new_values, np.float64) - np.asarray(old_values, np.float64)
    diff = diff[~np.isnan(diff)]
    if diff.size == 0:
        return None, False
    lo, hi = bootstrap_ci(diff, seed=seed + 29, level=confidence)
    significant_worse = hi < 0 if higher else lo > 0
    return (lo, hi), bool(significant_worse)
