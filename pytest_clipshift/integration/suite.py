"""The zero-code suite: one test item per (augmentation, severity) of the budgets file."""

from __future__ import annotations

import pytest

from ..core.errors import ClipShiftError


class ClipShiftSuite(pytest.Collector):
    def collect(self):  # pragma: no cover - items are made directly by make_items
        return []


class ClipShiftItem(pytest.Item):
    def __init__(self, *, augmentation: str, severity, **kwargs):
        super().__init__(**kwargs)
        self.augmentation = augmentation
        self.severity = severity
        self.add_marker(pytest.mark.clipshift)
        self.clipshift_result = None

    def runtest(self) -> None:
        from ..gate.assertions import raise_if_failed
        from .run.session import session_of

        session = session_of(self.config)
        result = session.measure(self.augmentation, self.severity)
        self.clipshift_result = result
        checks = session.check(result, self.nodeid)
        raise_if_failed(result, checks)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, (AssertionError, ClipShiftError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, self.name


def make_items(session, pairs) -> list[ClipShiftItem]:
    from ..core.runs.results import severity_key

    suite = ClipShiftSuite.from_parent(
        session, name="clipshift", nodeid="clipshift", path=session.config.rootpath / "clipshift"
    )
    return [
        ClipShiftItem.from_parent(suite, name=f"{aug}[{severity_key(sev)}]", augmentation=aug, severity=sev)
        for aug, sev in pairs
    ]
