"""The verdict's Markdown, read back as GitHub reads it (CommonMark with tables): what a hostile name
cannot break, and GitHub's size limits kept however large the run."""

from __future__ import annotations

import numpy as np
from markdown_it import MarkdownIt

from pytest_clipshift.core.runs.checks import RecordedCheck
from pytest_clipshift.core.runs.results import RunResult, ShiftResult
from pytest_clipshift.report.markdown import COMMENT_LIMIT, COMMENT_MARKER, SUMMARY_LIMIT, comment_body, job_summary

PARSER = MarkdownIt("commonmark").enable("table")


def a_run(cells: int, name: str = "model") -> RunResult:
    names = ["a", "b"]
    results = [
        ShiftResult(augmentation=f"aug{i}", severity=3, image_names=names, values={"cosine": np.full(2, 0.5)}, seed=0)
        for i in range(cells)
    ]
    checks = [
        RecordedCheck(
            test=f"t{i}",
            augmentation=f"aug{i}",
            severity=3,
            metric="cosine",
            stat="mean",
            op=">=",
            threshold=0.9,
            value=0.5,
            point=0.5,
            interval=None,
            passed=False,
        )
        for i in range(cells)
    ]
    deltas = [
        {
            "augmentation": f"aug{i}",
            "severity": 3,
            "metric": "cosine",
            "stat": "mean",
            "baseline": 0.9,
            "candidate": 0.5,
            "delta": -0.4,
            "worse_by": 0.4,
            "failed": ["cosine.mean:1%"],
            "significant": None,
        }
        for i in range(cells)
    ]
    comparison = {
        "baseline": "base.json",
        "rules": ["cosine.mean:1%"],
        "deltas": deltas,
        "missing": [],
        "failed": cells,
    }
    return RunResult(
        model={"name": name},
        seed=0,
        image_names=names,
        image_hash="h",
        image_source="s",
        results=results,
        budgets=checks,
        comparison=comparison,
        gate_failures=[f"{cells} regression(s) against base.json"],
    )


def test_a_hostile_model_name_cannot_break_the_markup():
    run = a_run(2, name="evil | <script>alert(1)</script> `x` *y* [z](http://e)")
    run.results[0].augmentation = run.budgets[0].__dict__["augmentation"] = "a|b"  # a name with a pipe
    text = job_summary(run)
    html = PARSER.render(text)
    assert "<script>" not in html and "<a href" not in html
    heading = PARSER.parse(text)[1].content
    assert heading.startswith("❌ clipshift: FAILED — evil \\| &lt;script")
    for table in html.split("<table>")[1:]:  # every row as many cells as its header, however the names read
        head, body = table.split("</thead>")
        widths = {row.count("<td") for row in body.split("</tr>") if "<td" in row}
        assert widths == {head.count("<th>")}, table


def test_github_limits_hold_for_any_run_and_say_what_was_left_out():
    big = a_run(20_000)
    summary, comment = job_summary(big), comment_body(big)
    assert len(summary.encode("utf-8")) <= SUMMARY_LIMIT and len(comment) <= COMMENT_LIMIT
    assert comment.startswith(COMMENT_MARKER + "\n")
    assert "more row(s): see the report" in summary and "more row(s): see the report" in comment
    small = comment_body(a_run(3))
    assert "more row(s)" not in small and small.count("| aug") == 3 + 3 + 3  # failed rules, regressions, moved most
