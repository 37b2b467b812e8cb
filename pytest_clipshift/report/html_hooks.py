"""pytest-html hooks: the clipshift section, extra table columns and per-test figures.

Every hook is optional, so the plugin loads and works without pytest-html installed.
"""

from __future__ import annotations

import pytest

COLUMNS = ("augmentation", "severity", "cosine mean", "budget")


def attach_extras(item, report, result, checks=()) -> None:
    """Put the test's worst-image overlay on the report (pytest-html shows ``report.extras``), ranked
    by the metric whose budget it broke (``checks``: the run's recorded checks)."""
    from .verdict import ranking_metric

    overlay = result.overlay(ranking_metric(checks, result))
    if not item.config.pluginmanager.hasplugin("html") or overlay is None:
        return
    from pytest_html import extras

    maker = extras.jpg if overlay.get("format") == "jpeg" else extras.png
    report.extras = getattr(report, "extras", []) + [maker(overlay["b64"], name=f"{result.key} worst images")]


def _properties(report) -> dict | None:
    for key, value in getattr(report, "user_properties", []):
        if key == "clipshift":
            return value
    return None


class HtmlHooks:
    """Registered only when pytest-html is active."""

    def __init__(self, config, session_getter):
        self._config = config
        self._session = session_getter

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(self, prefix, summary, postfix, session):
        cs = self._session(session.config)
        outcome = cs.outcome if cs is not None else None  # None while tests still run (generate_report_on_test)
        if outcome is not None and outcome.run is not None:
            from .html import report_sections

            prefix.extend(report_sections(outcome.run, cs.cfg.storage))

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_report_title(self, report):
        """pytest-html asks for the title once, at the start: keep its report to retitle at the end."""
        self._html_report = report
        cs = self._session(self._config)
        if cs is not None:
            report.title = f"clipshift: {cs.cfg.model} (running)"

    def pytest_sessionfinish(self, session):
        """After clipshift's own end of run (tryfirst), before pytest-html writes the page (trylast):
        the title names the model and the gate's verdict."""
        cs = self._session(self._config)
        outcome = cs.outcome if cs is not None else None
        report = getattr(self, "_html_report", None)
        if report is None or outcome is None or outcome.run is None:
            return
        from .verdict import report_title

        title = report_title(outcome.run)
        if outcome.failed or session.testsfailed:
            title = title.rsplit("\u2014", 1)[0] + "\u2014 FAILED"
        report.title = title

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_header(self, cells):
        cells.insert(2, '<th class="sortable" data-column-type="augmentation">augmentation</th>')
        cells.insert(3, "<th>severity</th>")
        cells.insert(4, '<th class="sortable" data-column-type="cosine">cosine mean</th>')
        cells.insert(5, "<th>budget</th>")

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report, cells):
        import html

        props = _properties(report) or {}
        cosine = props.get("cosine_mean")
        verdict = props.get("verdict", "")
        cells.insert(2, f'<td class="col-augmentation">{html.escape(str(props.get("augmentation", "")))}</td>')
        cells.insert(3, f"<td>{html.escape(str(props.get('severity', '')))}</td>")
        cells.insert(4, f'<td class="col-cosine">{"" if cosine is None else f"{cosine:.4f}"}</td>')
        cells.insert(5, f"<td>{html.escape(verdict)}</td>")
