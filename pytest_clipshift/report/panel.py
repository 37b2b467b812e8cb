"""The verdict panel that opens the report: PASSED or FAILED, against what, every failed rule with its
cell, value and threshold, the compare's regressions, why the gate failed when no rule did (a lost
worker, a refused compare), and the cells that moved most; before any table of numbers or figure."""

from __future__ import annotations

import html

from ..core.cases import severity_key
from ..core.metrics import RANKING_METRIC, metric_info
from .verdict import run_verdict

WORST_CELLS = 5


def _e(x) -> str:
    return html.escape(str(x))


def _num(v) -> str:
    return "–" if not isinstance(v, (int, float)) or isinstance(v, bool) or v != v else f"{v:.4f}"


def _table(table_id: str, head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f'<th class="name">{_e(h)}</th>' if i < 2 else f"<th>{_e(h)}</th>" for i, h in enumerate(head))
    body = "".join(
        "<tr>" + "".join(f'<td class="name">{c}</td>' if i < 2 else f"<td>{c}</td>" for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f'<table class="cs" id="{table_id}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def against_what(run) -> str:
    """What the verdict was judged against: the budgets file and the compared baseline with its rules."""
    parts = []
    if run.budgets:
        cells = {c.key[:2] for c in run.budgets}
        source = run.settings.get("budgets") or "the tests' own budgets"
        parts.append(f"{len(run.budgets)} budget rule(s) on {len(cells)} cell(s) from <code>{_e(source)}</code>")
    comp = run.comparison
    if comp:
        rules = ", ".join(comp["rules"]) or "none: the deltas are shown, nothing is gated"
        parts.append(f"compared with <code>{_e(comp['baseline'])}</code> (rules: {_e(rules)})")
    return "; ".join(parts) or "nothing: no budget and no baseline, so the numbers are measured, not gated"


def failed_rules_html(run) -> str:
    failed = [c for c in run.budgets if not c.passed]
    if not failed:
        return ""
    rows = [
        [
            f"{_e(c.augmentation)}[{_e(severity_key(c.severity))}]",
            _e(c.rule_text),
            _num(c.value),
            _e(f"{c.threshold:g}"),
        ]
        for c in failed
    ]
    return f"<h3>Failed budget rules ({len(failed)})</h3>" + _table(
        "clipshift-failed-rules", ["cell", "rule", "value", "threshold"], rows
    )


def regressions_html(run) -> str:
    comp = run.comparison
    if not comp:
        return ""
    out = []
    failed = [d for d in comp["deltas"] if d["failed"]]
    if failed:
        rows = [
            [
                f"{_e(d['augmentation'])}[{_e(severity_key(d['severity']))}]",
                f"{_e(d['metric'])}.{_e(d['stat'])}",
                _num(d["baseline"]),
                _num(d["candidate"]),
                "–" if d["delta"] is None else f"{d['delta']:+.4f}",
                _e(", ".join(d["failed"])),
            ]
            for d in failed
        ]
        out.append(
            f"<h3>Regressions against {_e(comp['baseline'])} ({len(failed)})</h3>"
            + _table("clipshift-regressions", ["cell", "metric", "baseline", "candidate", "delta", "rule"], rows)
        )
    if comp["missing"] and not comp.get("allow_missing"):
        out.append(f"<p><b>Baseline cells not measured:</b> {_e(', '.join(comp['missing']))}</p>")
    return "".join(out)


def worst_cells_html(run) -> str:
    """The cells whose embeddings moved most (lowest mean of the ranking metric), the noise floor aside."""
    cells = [r for r in run.results if not r.subset and r.augmentation != "identity" and RANKING_METRIC in r.values]
    better = metric_info(RANKING_METRIC).higher_is_better
    defined = [(r, r.stat(RANKING_METRIC, "mean")) for r in cells]
    defined = [(r, v) for r, v in defined if v == v]
    ranked = sorted(defined, key=lambda rv: rv[1] if better else -rv[1])[:WORST_CELLS]
    if not ranked:
        return ""
    rows = [[_e(r.key), _e(f"{RANKING_METRIC}.mean"), _num(v)] for r, v in ranked]
    return "<h3>Cells that moved most</h3>" + _table("clipshift-worst-cells", ["cell", "metric", "value"], rows)


def verdict_panel_html(run) -> str:
    verdict = run_verdict(run)
    reasons = "".join(f"<li>{_e(r)}</li>" for r in run.gate_failures)
    why = f'<ul class="gate-reasons">{reasons}</ul>' if reasons else ""
    incomplete = f"<p><b>Incomplete run:</b> {_e('; '.join(run.coverage['reasons']))}</p>" if not run.complete else ""
    return (
        f'<section class="verdict {verdict.lower()}" id="clipshift-verdict"><h2>{_e(verdict)}</h2>'
        f"<p>Judged against {against_what(run)}.</p>{why}{incomplete}"
        f"{failed_rules_html(run)}{regressions_html(run)}{worst_cells_html(run)}</section>"
    )
