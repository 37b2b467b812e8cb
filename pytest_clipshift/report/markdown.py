"""The verdict as Markdown, where teams decide: a CI job summary (GitHub's ``$GITHUB_STEP_SUMMARY``, or
``--clipshift-summary=FILE``) and a pull-request comment body (``--clipshift-comment=FILE``) that a
workflow posts or updates. Both lead with the verdict and the failed rules; tables are cut to fit
GitHub's limits (1 MiB a summary, 65,536 characters a comment), saying how many rows were left out."""

from __future__ import annotations

import os

from ..core.cases import severity_key
from .panel import WORST_CELLS
from .verdict import run_verdict

COMMENT_MARKER = "<!-- clipshift -->"
"""The comment's first line: a workflow finds its earlier comment by it and updates that one."""
SUMMARY_LIMIT = 1024 * 1024 - 1024  # bytes: GitHub's job-summary limit, with room for the workflow's own lines
COMMENT_LIMIT = 65_536 - 536  # characters: GitHub's comment limit


def _cell(text) -> str:
    """A table cell: pipes and line breaks would break the row; markup characters are escaped."""
    text = str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")
    for ch in "*_`[]":
        text = text.replace(ch, "\\" + ch)
    return text


def _num(v) -> str:
    return "–" if not isinstance(v, (int, float)) or isinstance(v, bool) or v != v else f"{v:.4f}"


def _table(head: list[str], rows: list[list], limit: int) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"\n*... and {len(rows) - limit} more row(s): see the report.*")
    return lines + [""]


def _deltas(run) -> dict[tuple, dict]:
    comp = run.comparison or {}
    return {(d["augmentation"], str(d["severity"]), d["metric"], d["stat"]): d for d in comp.get("deltas", [])}


def verdict_markdown(run, *, rows: int = 50, report_link: str | None = None) -> str:
    """The whole verdict: the word, what it was judged against, why it failed, the failed rules (with
    the baseline and delta of the same statistic when compared), the regressions, the compare's
    worst cells, mCE per ImageNet-C family, and where the full report is."""
    verdict = run_verdict(run)
    mark = {"FAILED": "❌", "PASSED": "✅"}.get(verdict, "ℹ️")
    lines = [f"## {mark} clipshift: {verdict} — {_cell(run.model.get('name', '?'))}", ""]
    budgets = run.settings.get("budgets")
    judged = [f"{len(run.budgets)} budget rule(s)" + (f" from `{budgets}`" if budgets else "")] if run.budgets else []
    comp = run.comparison
    if comp:
        rules = ", ".join(f"`{r}`" for r in comp["rules"]) or "none: the deltas are shown, nothing is gated"
        judged.append(f"compared with `{comp['baseline']}` (rules: {rules})")
    lines += [f"Judged against {'; '.join(judged) or 'nothing: measured, not gated'}.", ""]
    lines += [f"- **{_cell(reason)}**" for reason in run.gate_failures] + ([""] if run.gate_failures else [])
    if not run.complete:
        lines += [f"Incomplete run: {_cell('; '.join(run.coverage['reasons']))}", ""]
    deltas = _deltas(run)
    failed = [c for c in run.budgets if not c.passed]
    if failed:
        table = []
        for c in failed:
            d = deltas.get((c.augmentation, str(c.severity), c.metric, c.stat), {})
            delta = d.get("delta")
            table.append(
                [
                    f"{c.augmentation}[{severity_key(c.severity)}]",
                    c.rule_text,
                    _num(c.value),
                    f"{c.threshold:g}",
                    _num(d.get("baseline")),
                    "–" if delta is None else f"{delta:+.4f}",
                ]
            )
        lines += [f"### Failed rules ({len(failed)})", ""]
        lines += _table(["cell", "rule", "value", "threshold", "baseline", "delta"], table, rows)
    if comp:
        lines += _compare_lines(comp, rows)
    lines += _imagenet_c_lines(run)
    if report_link:
        lines += [f"Full report: {report_link}", ""]
    return "\n".join(lines)


def _compare_lines(comp: dict, rows: int) -> list[str]:
    def row(d):
        delta = "–" if d["delta"] is None else f"{d['delta']:+.4f}"
        cell = f"{d['augmentation']}[{severity_key(d['severity'])}]"
        return [cell, f"{d['metric']}.{d['stat']}", _num(d["baseline"]), _num(d["candidate"]), delta]

    lines = []
    failed = [d for d in comp["deltas"] if d["failed"]]
    if failed:
        lines += [f"### Regressions against `{comp['baseline']}` ({len(failed)})", ""]
        head = ["cell", "metric", "baseline", "candidate", "delta", "rule"]
        lines += _table(head, [[*row(d), ", ".join(d["failed"])] for d in failed], rows)
    worst = sorted(
        (d for d in comp["deltas"] if d["stat"] == "mean" and d["worse_by"] is not None and d["worse_by"] > 0),
        key=lambda d: -d["worse_by"],
    )[:WORST_CELLS]
    if worst:
        lines += ["### Moved most against the baseline", ""]
        lines += _table(["cell", "metric", "baseline", "candidate", "delta"], [row(d) for d in worst], WORST_CELLS)
    if comp["missing"] and not comp.get("allow_missing"):
        lines += [f"Baseline cells not measured: {_cell(', '.join(comp['missing']))}", ""]
    return lines


def _imagenet_c_lines(run) -> list[str]:
    ce = run.corruption_error
    if not ce:
        return []

    def pct(v):
        return "–" if v is None else f"{100 * v:.1f}%"

    table = [[family, pct(f["mce"]), pct(f["relative_mce"])] for family, f in ce["families"].items()]
    table.append(["all (mCE)", pct(ce["mce"]), pct(ce["relative_mce"])])
    return [
        "### ImageNet-C: corruption error against the baseline",
        "",
        *_table(["family", "mCE", "relative mCE"], table, 20),
    ]


def fitted(render, limit: int, measure=len) -> str:
    """``render(rows)``, with fewer table rows until it fits ``limit`` (as ``measure`` counts)."""
    rows = 50
    text = render(rows)
    while measure(text) > limit and rows > 1:
        rows //= 2
        text = render(rows)
    return text if measure(text) <= limit else text[: limit - 40] + "\n\n*... cut to fit.*\n"


def job_summary(run, report_link: str | None = None) -> str:
    return fitted(
        lambda rows: verdict_markdown(run, rows=rows, report_link=report_link),
        SUMMARY_LIMIT,
        lambda text: len(text.encode("utf-8")),
    )


def comment_body(run, report_link: str | None = None) -> str:
    """A pull-request comment: the marker first, so one comment per pull request is found and updated."""
    body = fitted(lambda rows: verdict_markdown(run, rows=rows, report_link=report_link), COMMENT_LIMIT - 100)
    return f"{COMMENT_MARKER}\n{body}"


def github_run_link() -> str | None:
    """The current GitHub Actions run's page (where its artifacts are listed), when running there."""
    server, repo, run_id = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    if server and repo and run_id:
        return f"the `clipshift-report` artifact of [this run]({server}/{repo}/actions/runs/{run_id})"
    return None
