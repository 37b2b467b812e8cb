"""Across releases: the saved runs of a storage folder as a table (``clipshift history``), each chosen
statistic's trend over them (``-o history.html``, and the report's "Across releases" section when the
storage holds two or more runs of the same suite), and an export for github-action-benchmark."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..core.errors import MALFORMED_INPUT_ERRORS, ClipShiftError
from ..core.metrics import metric_info
from .verdict import run_verdict

DEFAULT_STATISTICS = ("cosine.mean", "attention_correlation.mean")


@dataclass
class HistoryRow:
    name: str  # NNNN_name, as saved
    created: str  # when the run was assembled (UTC; the file's time for runs that did not record it)
    model: str
    fingerprint: str
    verdict: str
    suite: tuple  # what makes runs comparable: the image set and the seed
    values: dict[str, dict[str, float]] = field(default_factory=dict)  # "cosine.mean" -> cell -> value

    def mean(self, statistic: str) -> float:
        """Over the cells that moved (the noise floor aside); NaN when none measured it."""
        cells = [v for cell, v in self.values.get(statistic, {}).items() if not cell.startswith("identity[")]
        defined = [v for v in cells if v == v]
        return sum(defined) / len(defined) if defined else math.nan


def read_history(storage: str | Path, statistics=DEFAULT_STATISTICS) -> tuple[list[HistoryRow], list[str]]:
    """The saved runs of ``storage`` in the order they were saved, and a line for each that cannot be
    read (named, never fatal: one bad file does not hide the others)."""
    from ..core.runs.results import RunResult
    from ..gate.storage import Storage

    rows, problems = [], []
    for path in Storage(storage).runs():
        try:
            run = RunResult.read_json(path)
        except (ClipShiftError, OSError, *MALFORMED_INPUT_ERRORS) as exc:
            problems.append(f"{path.name}: {str(exc).splitlines()[0][:200]}")
            continue
        rows.append(row_of(run, path.stem, statistics, path))
    return rows, problems


def row_of(run, name: str, statistics, path: Path | None = None) -> HistoryRow:
    created = run.created or (
        datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat(timespec="seconds") if path else ""
    )
    values: dict[str, dict[str, float]] = {}
    for statistic in statistics:
        metric, _, stat = statistic.rpartition(".")
        values[statistic] = {r.key: r.stat(metric, stat) for r in run.results if not r.subset and metric in r.values}
    return HistoryRow(
        name,
        created,
        str(run.model.get("name", "?")),
        str(run.model.get("fingerprint", "?")),
        run_verdict(run),
        (run.image_hash, run.seed),
        values,
    )


def history_table(rows: list[HistoryRow], statistics) -> list[str]:
    """One line per run: name, date, fingerprint, verdict, and each statistic's mean over the cells."""
    head = ["run", "created", "fingerprint", "verdict", *statistics]
    table = [[r.name, r.created, r.fingerprint[:12], r.verdict, *(_num(r.mean(s)) for s in statistics)] for r in rows]
    widths = [max(len(str(x)) for x in column) for column in zip(head, *table)]
    return ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip() for line in [head, *table]]


def _num(v) -> str:
    return "-" if v != v else f"{v:.4f}"


def same_suite(rows: list[HistoryRow], run) -> list[HistoryRow]:
    return [r for r in rows if r.suite == (run.image_hash, run.seed)]


def history_html(rows: list[HistoryRow], statistics, title: str = "Across releases") -> str:
    """Each statistic's mean over the cells per saved run (and its worst cell), drawn and tabulated."""
    from .figures import history_png
    from .markup import figure_html

    figures = "".join(
        figure_html(history_png(rows, s), f"{s} across runs", caption=f"{s} per saved run") for s in statistics
    )
    head = "".join(f"<th>{html.escape(x)}</th>" for x in ["run", "created", "fingerprint", "verdict", *statistics])
    body = "".join(
        "<tr>"
        + "".join(f'<td class="name">{html.escape(str(x))}</td>' for x in (r.name, r.created, r.fingerprint[:12]))
        + f'<td class="{"fail" if r.verdict == "FAILED" else ""}">{html.escape(r.verdict)}</td>'
        + "".join(f"<td>{_num(r.mean(s))}</td>" for s in statistics)
        + "</tr>"
        for r in rows
    )
    return (
        f"<h2>{html.escape(title)}</h2><p>{len(rows)} runs of this suite (the same images and seed), oldest "
        "first: each statistic's mean over the cells that moved (the noise floor aside), and its worst cell.</p>"
        f'<div class="figs">{figures}</div><table class="cs" id="clipshift-history"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


def benchmark_entries(run, statistics) -> dict[str, list[dict]]:
    """github-action-benchmark's custom formats: each (cell, statistic) as {name, unit, value}, split
    by direction ("customBiggerIsBetter", "customSmallerIsBetter"); undefined values left out."""
    out: dict[str, list[dict]] = {"customBiggerIsBetter": [], "customSmallerIsBetter": []}
    for statistic in statistics:
        metric, _, stat = statistic.rpartition(".")
        tool = "customBiggerIsBetter" if metric_info(metric).higher_is_better else "customSmallerIsBetter"
        for r in run.results:
            if r.subset or metric not in r.values:
                continue
            value = r.stat(metric, stat)
            if value == value:
                out[tool].append({"name": f"{r.key} {statistic}", "unit": metric, "value": round(float(value), 6)})
    return out
