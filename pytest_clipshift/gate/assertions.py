"""Assertion helpers for custom robustness tests.

Every failure message names the augmentation, severity, metric, statistic, threshold, the measured
value with its 95% confidence interval, and the three images that moved most, so a reader knows
what broke without rerunning.
"""

from __future__ import annotations

from ..core.errors import ConfigError
from ..core.metrics import metric_info
from .budgets import Check, Rule, evaluate, parse_rule


class ShiftBudgetError(AssertionError):
    """A measured shift is over its budget."""

    def __init__(self, message: str, checks: list[Check] | None = None):
        super().__init__(message)
        self.checks = checks or []


def describe_failure(result, check: Check) -> str:
    rule = check.rule
    s = result.summary(rule.metric)
    lines = [
        f"{result.key}: {rule.metric}.{rule.stat} = {check.point:.4f} "
        f"(mean {s['mean']:.4f}, 95% CI [{s['ci95_low']:.4f}, {s['ci95_high']:.4f}], n={s['n']}"
        + (f", {s['n_undefined']} undefined" if s["n_undefined"] else "")
        + f"), required {rule.op} {rule.threshold:g}",
    ]
    if check.interval is not None:
        lines.append(
            f"  judged on the confidence bound {check.value:.4f} (interval [{check.interval[0]:.4f}, "
            f"{check.interval[1]:.4f}])"
        )
    worst = result.worst(rule.metric, 3)
    lines.append("  worst images: " + ", ".join(f"{name} {value:.4f}" for name, value in worst))
    lines.append(f"  budget from {rule.origin}")
    return "\n".join(lines)


def raise_if_failed(result, checks: list[Check]) -> list[Check]:
    __tracebackhide__ = True
    failed = [c for c in checks if not c.passed]
    if failed:
        body = "\n".join(describe_failure(result, c) for c in failed)
        raise ShiftBudgetError(f"clipshift budget exceeded ({len(failed)} of {len(checks)} checks):\n{body}", checks)
    return checks


def assert_budget(result, rules: dict | list[Rule], *, confidence: float | None = None, test: str = "") -> list[Check]:
    """Assert every rule (``{"cosine.mean": ">= 0.9", ...}`` or ``Rule`` objects) holds for ``result``."""
    __tracebackhide__ = True
    if isinstance(rules, dict):
        rules = [parse_rule(k, v, "assert_budget") for k, v in rules.items()]
    return raise_if_failed(result, evaluate(result, list(rules), test or result.key, confidence))


def assert_shift_within(
    result,
    metric: str = "cosine",
    stat: str = "mean",
    *,
    min: float | None = None,
    max: float | None = None,
    confidence: float | None = None,
) -> list[Check]:
    """Assert ``metric.stat`` of ``result`` lies within [min, max]. With no bound given, similarity
    metrics need ``min`` and distance metrics ``max``: say which, there is no silent default."""
    __tracebackhide__ = True
    metric_info(metric)
    if min is None and max is None:
        raise ConfigError(f"assert_shift_within({metric!r}): give min= and/or max=")
    rules = []
    if min is not None:
        rules.append(Rule(metric, stat, ">=", float(min), "assert_shift_within"))
    if max is not None:
        rules.append(Rule(metric, stat, "<=", float(max), "assert_shift_within"))
    return raise_if_failed(result, evaluate(result, rules, result.key, confidence))


def assert_attention_similar(
    result, min_correlation: float = 0.6, *, stat: str = "mean", aligned: bool = True, confidence: float | None = None
) -> list[Check]:
    """Assert the attention maps stay correlated (Pearson) at least ``min_correlation``.

    ``aligned`` compares in the augmented frame (the clean map warped by geometric augmentations).
    """
    __tracebackhide__ = True
    metric = "attention_correlation" if aligned else "attention_correlation_raw"
    if metric not in result.values:
        raise ConfigError(f"{result.key} has no attention metrics; measure with metrics including {metric!r}")
    rule = Rule(metric, stat, ">=", float(min_correlation), "assert_attention_similar")
    return raise_if_failed(result, evaluate(result, [rule], result.key, confidence))


def assert_not_worse_than(
    result, baseline, metric: str = "cosine", stat: str = "mean", *, tolerance: float = 0.0, relative: bool = False
) -> None:
    """Assert ``result`` is not worse than ``baseline`` (another ShiftResult) beyond ``tolerance``."""
    __tracebackhide__ = True
    better_high = metric_info(metric).higher_is_better
    new, old = result.stat(metric, stat), baseline.stat(metric, stat)
    allowed = abs(old) * tolerance if relative else tolerance
    worse_by = (old - new) if better_high else (new - old)
    if worse_by > allowed:
        tol = f"{tolerance:.2%} relative" if relative else f"{tolerance:g} absolute"
        raise ShiftBudgetError(
            f"{result.key}: {metric}.{stat} got worse: {new:.4f} vs baseline {old:.4f} "
            f"({worse_by:+.4f} worse, tolerance {tol})\n  worst images now: "
            + ", ".join(f"{n} {v:.4f}" for n, v in result.worst(metric, 3))
        )
