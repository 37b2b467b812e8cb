"""What the report says about a verdict: the page title's word, each cell's colour, each delta's
colour. Kept apart from the HTML so each decision is tested (and mutation-tested) on its own."""

from __future__ import annotations

DISPLAY_EPS = 5e-5  # below what a 4-decimal table shows: such a delta is drawn neutral, never red

PASS_COLOUR = "#e3f4e1"  # a kept budget's cell (green)
FAIL_COLOUR = "#f9d6d5"  # a broken budget's cell (red)


def run_verdict(run) -> str:
    """ "FAILED" when a budget broke or the compare failed, "PASSED" when checks ran and held,
    "measured" when nothing was checked: the word the page title carries."""
    comparison = run.comparison or {}
    failed = (
        bool(run.gate_failures)
        or any(not c.passed for c in run.budgets)
        or bool(comparison.get("failed"))
        or (bool(comparison.get("missing")) and not comparison.get("allow_missing"))
    )
    if failed:
        return "FAILED"
    return "PASSED" if run.budgets or comparison else "measured"


def report_title(run) -> str:
    return f"clipshift: {run.model.get('name', '?')} \u2014 {run_verdict(run)}"


def cell_class(checks: list) -> str:
    """A table cell's class: "" without a budget, "pass" when every budget on it held, else "fail"."""
    if not checks:
        return ""
    return "pass" if all(c.passed for c in checks) else "fail"


def failed_rules(checks: list) -> list[str]:
    """The broken budgets of a row, as the rules read (``cosine.mean >= 0.95``)."""
    return [c.rule_text for c in checks if not c.passed]


def ranking_metric(checks, result) -> str | None:
    """The metric a cell's most-moved images are shown ranked by: the first budget rule on the cell
    that broke, else the first rule on it, among those it kept images for; None: the first kept (cosine)."""
    cell = (result.augmentation, str(result.severity))
    mine = [c for c in checks if (c.augmentation, str(c.severity)) == cell]
    kept = {o.get("metric") for o in result.overlays}
    for c in [c for c in mine if not c.passed] + mine:
        if c.metric in kept:
            return c.metric
    return None


def delta_class(failed: bool, difference, worse_by) -> str:
    """A compare delta's class: "fail" (a rule failed), "worse-ok" (worse within every tolerance),
    "better", or "" (no change at the table's 4 decimals, or undefined)."""
    if failed:
        return "fail"
    if difference is None or worse_by is None or abs(difference) < DISPLAY_EPS:
        return ""
    if worse_by > DISPLAY_EPS:
        return "worse-ok"
    return "better" if worse_by < -DISPLAY_EPS else ""
