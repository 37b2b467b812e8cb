"""``Case``: one augmentation at one severity (1-5 or "paper"), or at a continuous strength in [0, 1]
(a probe: breaking points, hypothesis properties). The one place severities are parsed, keyed and
validated, and where the default severity is written."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

SEVERITIES = (1, 2, 3, 4, 5)
PAPER = "paper"
DEFAULT_SEVERITY = 3
Severity = int | str


def parse_severity(value: Any, origin: str = "severity") -> Severity:
    """3, "3", "s3" -> 3; "paper" -> "paper"; anything else is a ``ConfigError`` naming ``origin``."""
    parsed = None if isinstance(value, bool) else read_severity(value)
    if parsed not in (*SEVERITIES, PAPER):
        raise ConfigError(f"{origin}: severity {value!r} is not one of s1..s5 or 'paper' (1..5 work too)")
    return parsed


def read_severity(value: Any) -> Severity:
    """A severity as a file writes it, normalised (3, "3", "s3" -> 3) but not judged: a results file
    is rendered with whatever it holds (escaped), and checked by its schema, not here."""
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.startswith("s") and text[1:].isdigit():
        text = text[1:]
    return int(text) if text.lstrip("-").isdigit() else text


def severity_key(severity: Severity) -> str:
    """The severity as results, budgets and item ids write it: s1..s5 or paper."""
    return f"s{severity}" if isinstance(severity, int) else str(severity)


def level_key(severity: Severity, strength: float | None = None) -> str:
    """s3, paper, or t=0.50000 for a probe at a continuous strength."""
    return f"t={strength:.5f}" if strength is not None else severity_key(severity)


@dataclass(frozen=True)
class Case:
    """One augmentation at one severity, or at a continuous ``strength`` in [0, 1] (then severity is
    not used). The value of the ``augmentation`` fixture, and what the engine measures."""

    augmentation: str
    severity: Severity = DEFAULT_SEVERITY
    strength: float | None = None
    draw: int = 0  # another independent random draw of the same case (0: the case's own)

    def __post_init__(self) -> None:
        if not isinstance(self.augmentation, str) or not self.augmentation:
            raise ConfigError(f"augmentation name {self.augmentation!r} must be a non-empty string")
        if self.strength is None:
            object.__setattr__(self, "severity", parse_severity(self.severity, f"severity of {self.augmentation!r}"))
        elif not 0.0 <= float(self.strength) <= 1.0:
            raise ConfigError(f"strength of {self.augmentation!r} = {self.strength!r}: must be in [0, 1]")
        else:
            object.__setattr__(self, "strength", float(self.strength))

    @classmethod
    def of(cls, item: Any, severity: Any = None) -> Case:
        """A Case from a Case, a name (at ``severity`` or the default) or a (name, severity) pair."""
        if isinstance(item, Case):
            return item if severity is None else cls(item.augmentation, severity)
        if isinstance(item, str):
            return cls(item, DEFAULT_SEVERITY if severity is None else severity)
        name, sev = item
        return cls(name, sev)

    @property
    def is_probe(self) -> bool:
        return self.strength is not None

    @property
    def level(self) -> str:
        """s3, paper, or t=0.50000 for a probe."""
        return level_key(self.severity, self.strength)

    @property
    def key(self) -> str:
        """``gaussian_noise[s3]``: how results, budgets and reports name the case."""
        return f"{self.augmentation}[{self.level}]" + (f"#draw{self.draw}" if self.draw else "")

    @property
    def id(self) -> str:
        """``gaussian_noise-s3``: the pytest parameter id."""
        return f"{self.augmentation}-{self.level}"

    def with_draw(self, draw: int) -> Case:
        """The same case, another independent random draw."""
        return Case(self.augmentation, self.severity, self.strength, draw=draw)

    def same_case(self, other: Case) -> bool:
        """The same augmentation at the same level, whichever draw."""
        return (self.augmentation, self.severity, self.strength) == (other.augmentation, other.severity, other.strength)

    @property
    def name(self) -> str:  # the fixture value's name, as tests have always read it
        return self.augmentation

    def __str__(self) -> str:
        return self.id
