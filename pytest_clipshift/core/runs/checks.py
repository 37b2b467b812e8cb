"""``RecordedCheck``: one budget rule as it was judged on one cell, the form a run keeps and writes
(the gate's ``budgets.Check`` records itself as one)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..cases import read_severity


@dataclass(frozen=True, kw_only=True)
class RecordedCheck:
    test: str
    augmentation: str
    severity: int | str
    metric: str
    stat: str
    op: str
    threshold: float
    value: float | None  # what was compared with the threshold (None: undefined)
    point: float | None  # the statistic itself (differs from value when judged on a bootstrap bound)
    interval: tuple[float | None, float | None] | None
    passed: bool

    @property
    def key(self) -> tuple:
        """The (cell, rule) this check judged: a rule on a cell is checked, counted and shown once."""
        return (self.augmentation, str(self.severity), self.metric, self.stat, self.op, self.threshold)

    @property
    def rule_text(self) -> str:
        return f"{self.metric}.{self.stat} {self.op} {self.threshold:g}"

    def to_dict(self) -> dict:
        return {
            "test": self.test,
            "augmentation": self.augmentation,
            "severity": self.severity,
            "metric": self.metric,
            "stat": self.stat,
            "op": self.op,
            "threshold": self.threshold,
            "value": finite_or_none(self.value),
            "point": finite_or_none(self.point),
            "interval": None if self.interval is None else [finite_or_none(x) for x in self.interval],
            "passed": self.passed,
        }

    @classmethod
    def from_dict(cls, d: dict) -> RecordedCheck:
        interval = d.get("interval")
        return cls(
            test=d["test"],
            augmentation=d["augmentation"],
            severity=read_severity(d["severity"]),
            metric=d["metric"],
            stat=d["stat"],
            op=d["op"],
            threshold=d["threshold"],
            value=d.get("value"),
            point=d.get("point"),
            interval=None if interval is None else tuple(interval),
            passed=bool(d["passed"]),
        )


def finite_or_none(x):
    """A number as a plain float; None for none or NaN (undefined), as results files hold it."""
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def unique_checks(checks) -> list[RecordedCheck]:
    """Each (cell, rule) once, the first recording kept."""
    seen, out = set(), []
    for c in checks:
        if c.key not in seen:
            seen.add(c.key)
            out.append(c)
    return out
