"""Breaking points: the mildest strength at which an augmentation breaks a budget rule, by bisection
over its continuous strength in [0, 1] (a probe ``Case(name, strength=t)``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.errors import ConfigError
from .budgets import Rule, parse_rule


@dataclass
class BreakingPoint:
    augmentation: str
    rule: str
    strength: float | None  # the mildest failing strength found; None: the rule holds up to strength 1
    holds_at: float  # the strongest strength seen to keep the rule
    steps: list[tuple[float, float, bool]] = field(default_factory=list)  # (strength, value, held)

    def to_dict(self) -> dict:
        return {
            "augmentation": self.augmentation,
            "rule": self.rule,
            "strength": self.strength,
            "holds_at": self.holds_at,
            "steps": [[t, None if v != v else v, held] for t, v, held in self.steps],
        }


def parse_rule_text(text: str) -> Rule:
    """``"cosine.mean >= 0.9"`` -> Rule."""
    for op in (">=", "<=", ">", "<"):
        if op in text:
            key, value = text.split(op, 1)
            return parse_rule(key.strip(), f"{op} {value.strip()}", "breaking_point")
    raise ConfigError(f"rule {text!r}: expected METRIC.STAT OP NUMBER, e.g. 'cosine.mean >= 0.9'")


def find_breaking_point(
    measure_at, augmentation: str, rule: Rule | str, *, tolerance: float = 0.02, max_steps: int = 10
) -> BreakingPoint:
    """Bisection for the mildest strength at which ``rule`` fails.

    ``measure_at(strength) -> value of rule.metric.rule.stat`` is called at most ``max_steps`` + 1
    times. The metric is assumed to worsen monotonically with strength (true on average for every
    built-in augmentation); the answer is within ``tolerance`` of the true crossing.
    """
    rule = parse_rule_text(rule) if isinstance(rule, str) else rule
    steps: list[tuple[float, float, bool]] = []

    def probe(t: float) -> bool:
        value = float(measure_at(t))
        held = rule.holds(value)
        steps.append((round(t, 6), value, held))
        return held

    if probe(1.0):
        return BreakingPoint(augmentation, rule.describe(), None, 1.0, steps)
    lo, hi = 0.0, 1.0
    for _ in range(max_steps):
        if hi - lo <= tolerance:
            break
        mid = (lo + hi) / 2
        if probe(mid):
            lo = mid
        else:
            hi = mid
    return BreakingPoint(augmentation, rule.describe(), hi, lo, steps)


def breaking_point(
    encoder,
    images,
    augmentation: str,
    rule: Rule | str,
    *,
    seed: int = 0,
    batch_size: int = 32,
    tolerance: float = 0.02,
    max_steps: int = 10,
    cache=None,
) -> BreakingPoint:
    """The mildest strength of ``augmentation`` at which ``rule`` (e.g. ``"cosine.mean >= 0.9"``) fails."""
    from ..core.cases import Case
    from ..core.measure.engine import measure

    rule = parse_rule_text(rule) if isinstance(rule, str) else rule
    metrics = [rule.metric] if rule.metric != "cosine" else ["cosine"]

    def measure_at(t: float) -> float:
        run = measure(
            encoder,
            images,
            [Case(augmentation, strength=t)],
            metrics=metrics,
            seed=seed,
            batch_size=batch_size,
            cache=cache,
            keep_embeddings=False,
        )
        return run.results[0].stat(rule.metric, rule.stat)

    return find_breaking_point(measure_at, augmentation, rule, tolerance=tolerance, max_steps=max_steps)
