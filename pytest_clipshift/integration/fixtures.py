"""The fixtures. Each is thin: the work happens in the session, imported lazily."""

from __future__ import annotations

import pytest


class ClipShiftHelper:
    """The per-test helper behind the ``clipshift`` fixture."""

    def __init__(self, session, request):
        self._session = session
        self._request = request
        marker = request.node.get_closest_marker("clipshift")
        self._marker = dict(marker.kwargs) if marker else {}
        self.results: list = []

    @property
    def model(self):
        return self._session.encoder

    @property
    def images(self):
        return self._session.images

    @property
    def seed(self) -> int:
        return self._session.cfg.seed

    def measure(self, augmentation, severity=None, *, metrics=None, images=None, check_budget: bool = True):
        """Measure one augmentation at one severity over the configured images (or a marker's or
        ``images=`` subset) and record it. Budgets (file, then the marker's ``budget=``) are checked
        unless ``check_budget=False``; a breach fails the test with the full message."""
        __tracebackhide__ = True
        from ..gate.assertions import raise_if_failed

        images = images or self._marker.get("images")
        result = self._session.measure(augmentation, severity, metrics=metrics, images=images)
        self.results.append(result)
        if check_budget:
            checks = self._session.check(result, self._request.node.nodeid, self._marker.get("budget"))
            raise_if_failed(result, checks)
        return result

    def measure_strength(self, augmentation: str, strength: float, *, metrics=None):
        """Measure a built-in augmentation at a continuous strength in [0, 1] (for hypothesis tests)."""
        result = self._session.measure_strength(augmentation, strength, metrics=metrics)
        self.results.append(result)
        return result

    def breaking_point(self, augmentation: str, rule: str = "cosine.mean >= 0.9", **kwargs):
        """Bisect for the mildest strength of ``augmentation`` that breaks ``rule``; shown in the report."""
        return self._session.breaking_point(augmentation, rule, **kwargs)


def _session(request):
    from .run.session import session_of

    return session_of(request.config)


@pytest.fixture(scope="session")
def clipshift_session(request):
    """The run's ClipShiftSession (model, images, recorded results)."""
    return _session(request)


@pytest.fixture(scope="session")
def clip_model(request):
    """The loaded encoder, once per session (per worker under xdist)."""
    return _session(request).encoder


@pytest.fixture(scope="session")
def clipshift_images(request):
    """The configured image set, loaded and validated once."""
    return _session(request).images


@pytest.fixture
def augmentation(request):
    """One (augmentation, severity) of the configured set; tests using it are parametrised over them."""
    return request.param


@pytest.fixture
def clipshift(request):
    """Per-test helper: ``clipshift.measure(augmentation, severity=...)`` returns a ShiftResult."""
    return ClipShiftHelper(_session(request), request)
