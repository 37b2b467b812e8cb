"""The report's verdict read from the rendered HTML: the page title's word, each budgeted cell's
colour, the budget column, each compare delta's colour, and the colours themselves (green for kept,
red for broken). Fails when a cell with one broken budget of two is shown green, the title says
PASSED beside a failed compare, the colours are swapped or a failed delta is drawn neutral."""

from __future__ import annotations

import math
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from pytest_clipshift.core.runs.checks import RecordedCheck
from pytest_clipshift.core.runs.results import RunResult, ShiftResult
from pytest_clipshift.gate.compare import Delta
from pytest_clipshift.report import verdict as V
from pytest_clipshift.report.html import CSS, comparison_section, metric_table_html, write_compare_report, write_report

NAMES = ["a", "b", "c"]


class Cells(HTMLParser):
    """Rows of the table with ``table_id``: per row, (class, text) of each cell."""

    def __init__(self, table_id: str):
        super().__init__()
        self.table_id, self.inside, self.rows, self.cell = table_id, False, [], None
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.inside = attrs.get("id") == self.table_id
        elif tag == "title":
            self._in_title = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag == "td":
            # the colour class; "verdict" only says the budget column's cell may wrap
            self.cell = [" ".join(c for c in (attrs.get("class") or "").split() if c != "verdict"), ""]

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None:
            self.rows[-1].append(tuple(self.cell))
            self.cell = None
        elif tag == "table":
            self.inside = False
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self.cell is not None:
            self.cell[1] += data
        if self._in_title:
            self.title += data


def parse(page: str, table_id: str) -> Cells:
    parser = Cells(table_id)
    parser.feed(page)
    return parser


def check(aug, sev, metric, stat, op, threshold, passed):
    return RecordedCheck(
        test="t",
        augmentation=aug,
        severity=sev,
        metric=metric,
        stat=stat,
        op=op,
        threshold=threshold,
        value=0.5,
        point=0.5,
        interval=None,
        passed=passed,
    )


def a_run(budgets=(), comparison=None):
    cells = [
        ShiftResult(
            augmentation="identity",
            severity=3,
            image_names=NAMES,
            values={"cosine": np.full(3, 0.99), "l2": np.full(3, 0.1)},
            seed=0,
        ),
        ShiftResult(
            augmentation="gaussian_noise",
            severity=3,
            image_names=NAMES,
            values={"cosine": np.full(3, 0.9), "l2": np.full(3, 0.4)},
            seed=0,
        ),
    ]
    run = RunResult(
        model={"name": "model-x"}, seed=0, image_names=NAMES, image_hash="h", image_source="s", results=cells
    )
    run.budgets = list(budgets)
    if comparison is not None:
        run.comparison = comparison
    return run


def rows_by_name(page):
    return {row[0][1]: row for row in parse(page, "clipshift-metrics").rows if row}


def test_one_broken_budget_of_two_makes_the_cell_and_the_row_red():
    run = a_run(
        [
            check("gaussian_noise", 3, "cosine", "mean", ">=", 0.8, True),
            check("gaussian_noise", 3, "cosine", "mean", ">=", 0.95, False),
            check("identity", 3, "cosine", "mean", ">=", 0.98, True),
        ]
    )
    rows = rows_by_name(metric_table_html(run))
    noise, floor = rows["gaussian_noise[s3]"], rows["identity[s3]"]
    classes = [c for c, _ in noise]
    assert classes[2] == "fail"  # cosine.mean
    assert noise[-1] == ("fail", "FAIL: cosine.mean >= 0.95")
    assert floor[2][0] == "pass" and floor[-1] == ("pass", "PASS (1)")
    assert "pass" not in classes and classes[3] == ""  # cosine.p05 has no budget: no colour
    assert V.cell_class([]) == "" and V.failed_rules([]) == []


def test_rows_without_budgets_say_nothing():
    rows = rows_by_name(metric_table_html(a_run()))
    assert rows["gaussian_noise[s3]"][-1] == ("", "–") and all(c == "" for c, _ in rows["gaussian_noise[s3]"][1:])


@pytest.mark.parametrize(
    "budgets, comparison, word",
    [
        ([], None, "measured"),
        ([check("gaussian_noise", 3, "cosine", "mean", ">=", 0.8, True)], None, "PASSED"),
        ([check("gaussian_noise", 3, "cosine", "mean", ">=", 0.95, False)], None, "FAILED"),
        ([], {"failed": 0, "missing": [], "rules": ["cosine.mean:0.01"], "deltas": [], "baseline": "b.json"}, "PASSED"),
        (
            [check("gaussian_noise", 3, "cosine", "mean", ">=", 0.8, True)],
            {"failed": 2, "missing": [], "rules": ["cosine.mean:0.01"], "deltas": [], "baseline": "b.json"},
            "FAILED",
        ),
        ([], {"failed": 0, "missing": ["fog[s3]"], "rules": [], "deltas": [], "baseline": "b.json"}, "FAILED"),
        (
            [],
            {"failed": 0, "missing": ["fog[s3]"], "allow_missing": True, "rules": [], "deltas": [], "baseline": "b"},
            "PASSED",
        ),
    ],
)
def test_the_page_title_carries_the_verdict(tmp_path, budgets, comparison, word):
    run = a_run(budgets, comparison)
    page = write_report(run, tmp_path / "r.html").read_text(encoding="utf-8")
    assert parse(page, "none").title == f"clipshift: model-x \u2014 {word}"
    assert V.run_verdict(run) == word


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def test_kept_is_green_and_broken_is_red_in_the_stylesheet():
    passed = re.search(r"td\.pass \{ background: (#[0-9a-f]{6})", CSS).group(1)
    failed = re.search(r"td\.fail \{ background: (#[0-9a-f]{6})", CSS).group(1)
    r, g, b = hex_rgb(passed)
    assert g > r and g > b  # green
    r, g, b = hex_rgb(failed)
    assert r > g and r > b  # red


def delta(d, failed=()):
    base = 0.9
    return Delta(
        "gaussian_noise",
        3,
        "cosine",
        "mean",
        base,
        None if d is None else base + d,
        math.nan if d is None else -d,
        list(failed),
    )


@pytest.mark.parametrize(
    "change, failed, expected",
    [
        (-0.05, ["cosine.mean:0.01"], "fail"),
        (-0.005, [], "worse-ok"),
        (0.02, [], "better"),
        (0.00001, [], ""),
        (-0.00001, [], ""),
        (None, [], ""),
        (None, ["cosine.mean:0.01"], "fail"),
    ],
)
def test_each_delta_gets_its_colour_in_both_reports(tmp_path, change, failed, expected):
    d = delta(change, failed)
    assert V.delta_class(bool(d.failed), d.difference, d.worse_by) == expected
    comparison = {
        "failed": len(failed),
        "missing": [],
        "rules": ["cosine.mean:0.01"],
        "baseline": "b.json",
        "deltas": [d.to_dict()],
    }
    rows = [r for r in parse(comparison_section(a_run([], comparison)), "clipshift-compare").rows if r]
    assert rows[0][4][0] == expected


def test_the_comparison_page_says_failed_and_puts_failures_first(tmp_path):
    from pytest_clipshift.gate.compare import Comparison

    deltas = [delta(0.01), delta(-0.2, ["cosine.mean:0.01"]), delta(-0.004)]
    comparison = Comparison("b.json", deltas, [], [])
    page = write_compare_report(a_run(), a_run(), comparison, tmp_path / "diff.html").read_text(encoding="utf-8")
    parsed = parse(page, "clipshift-compare")
    assert parsed.title == "clipshift comparison: model-x \u2014 FAILED"
    classes = [row[4][0] for row in parsed.rows if row]
    assert classes == ["fail", "worse-ok", "better"]  # failures first, then the most worsened
    from pytest_clipshift.gate.compare import parse_compare_rule

    passing = Comparison("b.json", [delta(0.01)], [parse_compare_rule("cosine.mean:0.01")], [])
    page = write_compare_report(a_run(), a_run(), passing, tmp_path / "ok.html").read_text(encoding="utf-8")
    assert parse(page, "none").title == "clipshift comparison: model-x \u2014 PASSED"
    ungated = Comparison("b.json", [delta(0.01)], [], [])  # no rules: the deltas are shown, nothing gated
    page = write_compare_report(a_run(), a_run(), ungated, tmp_path / "none.html").read_text(encoding="utf-8")
    assert parse(page, "none").title == "clipshift comparison: model-x \u2014 NOT GATED"
    missing = Comparison("b.json", [delta(0.01)], [], ["fog[s3]"])
    page = write_compare_report(a_run(), a_run(), missing, tmp_path / "m.html").read_text(encoding="utf-8")
    assert parse(page, "none").title.endswith("FAILED")


def test_a_deltas_colour_at_each_boundary():
    """At the 4-decimal display threshold exactly: a change that shows is coloured, one that does not is
    plain; 'worse' and 'better' need a margin beyond it too; an undefined side is plain."""
    eps = V.DISPLAY_EPS
    assert V.delta_class(False, eps, 2 * eps) == "worse-ok" and V.delta_class(False, eps / 2, 2 * eps) == ""
    assert V.delta_class(False, 1e-6, 1e-3) == ""  # shows as 0.0000: plain, however worse it is said to be
    assert V.delta_class(False, 2 * eps, eps) == "" and V.delta_class(False, 2 * eps, -eps) == ""
    assert V.delta_class(False, 2 * eps, 0.0) == "" and V.delta_class(False, 2 * eps, -2 * eps) == "better"
    assert V.delta_class(False, None, 1.0) == V.delta_class(False, 1.0, None) == ""
    assert V.delta_class(True, None, None) == "fail"


def test_the_title_of_a_run_without_a_model_name():
    run = a_run()
    run.model = {}
    assert V.report_title(run) == "clipshift: ? \u2014 measured"


def test_a_cell_the_gate_could_not_evaluate_fails_the_title_with_every_budget_kept(tmp_path):
    run = a_run([check("gaussian_noise", 3, "cosine", "mean", ">=", 0.8, True)])
    run.gate_failures = ["a worker was lost before fog[s3] was measured"]
    assert V.run_verdict(run) == "FAILED"
    assert "\u2014 FAILED" in parse(write_report(run, tmp_path / "r.html").read_text(encoding="utf-8"), "x").title


def test_the_images_shown_are_ranked_by_the_broken_rules_metric_on_that_cell():
    """A cell's overlays are ranked by a broken rule's metric before a kept one, by rules on that
    cell only, and only by a metric the cell kept images for; else the first kept (None)."""
    run = a_run()
    noise = run.get("gaussian_noise", 3)
    noise.overlays = [{"metric": "cosine"}, {"metric": "l2"}]
    kept_cosine = check("gaussian_noise", 3, "cosine", "mean", ">=", 0.8, True)
    broken_l2 = check("gaussian_noise", 3, "l2", "mean", "<=", 0.1, False)
    other_cell = check("identity", 3, "l2", "mean", "<=", 0.1, False)
    other_severity = check("gaussian_noise", 5, "l2", "mean", "<=", 0.1, False)
    assert V.ranking_metric([kept_cosine, broken_l2], noise) == "l2"
    assert V.ranking_metric([kept_cosine, other_cell, other_severity], noise) == "cosine"
    assert V.ranking_metric([other_cell], noise) is None
    not_kept = check("gaussian_noise", 3, "p_value", "mean", "<=", 0.1, False)
    assert V.ranking_metric([not_kept, kept_cosine], noise) == "cosine"
    assert V.ranking_metric([check("gaussian_noise", "3", "l2", "mean", "<=", 0.1, True)], noise) == "l2"
