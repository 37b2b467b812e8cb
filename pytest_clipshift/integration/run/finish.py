"""The end of a run, decided once in ``pytest_sessionfinish``: the measurements assembled into a
``RunResult``, compared with a baseline, written out, and the ``Outcome`` the terminal and the HTML
report only render. Never raises: what cannot be done is a message and a failed gate."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ...core.errors import MALFORMED_INPUT_ERRORS, ClipShiftError, ConfigError
from .state import ProcessState

LOST_WORKER = "worker {} was lost before it sent its measurements"
INTERRUPTIONS = ("interrupted", "stopped early")
"""Reasons for an incomplete run that mean the session itself did not finish (never update a baseline)."""


@dataclass
class Outcome:
    run: Any = None  # RunResult, or None when nothing was measured
    comparison: Any = None  # compare.Comparison when --clipshift-compare ran
    messages: list[str] = field(default_factory=list)
    failed: bool = False  # the gate failed: a compare regression, or output that could not be written
    json_written: Path | None = None
    saved: Path | None = None
    shown_warnings: list[str] = field(default_factory=list)  # said at start-up, not repeated at the end

    def gate_failures(self) -> list[str]:
        """Why the gate failed, one short phrase each (counted in pytest's final line)."""
        reasons = []
        if self.comparison is not None:
            if self.comparison.failures:
                reasons.append(
                    f"{len(self.comparison.failures)} regression(s) against {self.comparison.baseline_source}"
                )
            if self.comparison.missing and not self.comparison.allow_missing:
                reasons.append(f"{len(self.comparison.missing)} baseline cell(s) not measured")
        if self.failed and not reasons:
            reasons += [m.removeprefix("clipshift: ") for m in self.messages] or ["see the messages above"]
        return reasons


def finish_run(cfg, budgets, state: ProcessState, metrics, lost_workers, incomplete) -> Outcome:
    """``incomplete``: why this session measured less than its suite ("interrupted", "3 item(s)
    deselected", "shard 1/2", ...), recorded in the results; an interrupted session never updates a
    baseline. Each of ``lost_workers`` adds a reason and fails the gate. Output that cannot be written
    fails the run with a message naming it."""
    outcome = Outcome()
    lost = [LOST_WORKER.format(worker) for worker in lost_workers]
    reasons = list(incomplete or []) + lost
    if lost:  # its items may have passed, but their checks never reached this process: nothing to judge
        outcome.messages += [f"clipshift: {r}: the gate cannot judge what it measured" for r in lost]
        outcome.failed = True
    if not state.results:
        return outcome
    try:
        outcome.run = assemble(cfg, budgets, state, metrics)
    except ClipShiftError as exc:
        outcome.messages.append(f"clipshift: could not assemble the results: {exc}")
        outcome.failed = True
        return outcome
    outcome.run.coverage = {"complete": not reasons, "reasons": reasons}
    if cfg.compare:
        _compare(cfg, budgets, outcome, interrupted=bool(lost) or any(r in INTERRUPTIONS for r in reasons))
    if outcome.failed:  # in the results and the report too: a gate that failed never reads as passed
        outcome.run.gate_failures = outcome.gate_failures()
    _write_outputs(cfg, outcome)
    return outcome


def assemble(cfg, budgets, state: ProcessState, metrics):
    from ...core.runs.calibration import calibrate
    from ...core.runs.results import RunResult

    images = state.images or {"names": [], "hash": "", "source": "", "count": 0}
    run = RunResult(
        model=state.model or {},
        seed=cfg.seed,
        image_names=images["names"],
        image_hash=images["hash"],
        image_source=images["source"],
        results=list(state.results),
        clean_embeddings=state.clean_embeddings,
        settings={
            "metrics": list(metrics),
            "batch_size": cfg.batch_size,
            "canvas_size": cfg.canvas_size,
            "budgets": str(budgets.source) if budgets else None,
            "confidence": budgets.confidence if budgets else None,
            "device": cfg.device,
            "precision": cfg.precision,
            "ce_metric": cfg.ce_metric,
            "draws": cfg.draws,
            "augment_device": cfg.augment_device,
        },
        warnings=list(state.warnings),
        budgets=list(state.checks),
        timing={
            "measure_seconds": round(state.seconds, 3),
            "cache": state.cache,
            "cells_measured": state.cells_measured,
            "threads_per_worker": state.threads,
        },
        breaking_points=sorted(state.breaking_points, key=lambda b: (b["augmentation"], b["rule"])),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        view_distances=dict(state.view_distances),
    )
    run.sort()
    run.calibration = calibrate(run)
    return run


def _write_outputs(cfg, outcome: Outcome) -> None:
    from ...core.runs.jsonfile import OutputError
    from ...gate.storage import Storage

    writes = []
    if cfg.json_path:
        writes.append(("json_written", lambda: outcome.run.write_json(cfg.json_path)))
    if cfg.save:
        writes.append(("saved", lambda: Storage(cfg.storage).save(outcome.run.to_dict(), cfg.save)))
    writes += [(None, write) for write in _markdown_writes(cfg, outcome.run)]
    for attribute, write in writes:  # each output on its own: one that fails does not stop the other
        try:
            written = write()
            if attribute is not None:
                setattr(outcome, attribute, written)
        except OutputError as exc:
            outcome.messages.append(f"clipshift: {exc}")
            outcome.failed = True


def _markdown_writes(cfg, run) -> list:
    """The verdict in Markdown: --clipshift-summary, GitHub's $GITHUB_STEP_SUMMARY (appended to, as
    each step's summary is), --clipshift-comment."""
    import os

    from ...core.runs.jsonfile import write_bytes_atomic
    from ...report.markdown import comment_body, github_run_link, job_summary

    link = github_run_link()
    writes = []
    if cfg.summary_path:
        text = job_summary(run, link)
        writes.append(lambda: write_bytes_atomic(cfg.summary_path, text.encode(), what="job summary"))
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        writes.append(lambda: _append(Path(step_summary), job_summary(run, link)))
    if cfg.comment_path:
        body = comment_body(run, link)
        writes.append(lambda: write_bytes_atomic(cfg.comment_path, body.encode(), what="comment body"))
    return writes


def _append(path: Path, text: str) -> Path:
    from ...core.runs.jsonfile import OutputError

    try:
        with path.open("a", encoding="utf-8") as out:
            out.write(text + "\n")
    except OSError as exc:
        raise OutputError(f"$GITHUB_STEP_SUMMARY {path}: cannot be written ({exc.strerror or exc})") from None
    return path


def compare_rules(cfg, budgets) -> list[str]:
    """What a compare gates on: --clipshift-compare-fail when given, else the budgets file's
    ``[compare] fail``."""
    return list(cfg.compare_fail) or (list(budgets.compare_rules) if budgets is not None else [])


def _compare(cfg, budgets, outcome: Outcome, interrupted: bool = False) -> None:
    from ...core.runs.results import RunResult
    from ...gate.compare import compare_runs, parse_compare_rule
    from ...gate.corruption_error import corruption_errors
    from ...gate.storage import Storage

    try:
        path = Storage(cfg.storage).find(cfg.compare)
        baseline = RunResult.read_json(path)
        rules = [parse_compare_rule(r) for r in compare_rules(cfg, budgets)]
        outcome.comparison = compare_runs(
            baseline,
            outcome.run,
            rules,
            baseline_source=str(path),
            paired=cfg.compare_paired,
            allow_missing=cfg.compare_allow_missing,
        )
    except ConfigError as exc:
        outcome.messages.append(f"clipshift compare refused: {exc}")
        outcome.failed = True
        return
    except MALFORMED_INPUT_ERRORS as exc:
        outcome.messages.append(
            f"clipshift compare refused: the baseline {cfg.compare} cannot be used "
            f"({type(exc).__name__}: {str(exc)[:200]})"
        )
        outcome.failed = True
        return
    outcome.run.comparison = outcome.comparison.to_dict()
    errors = corruption_errors(baseline, outcome.run, cfg.ce_metric, str(path))
    if errors is not None:
        outcome.run.corruption_error = errors.to_dict()
    if not baseline.complete:
        outcome.messages.append(
            f"clipshift: the baseline {path} is an incomplete run ({'; '.join(baseline.coverage['reasons'])})"
        )
    if not cfg.update_baseline:
        outcome.failed = outcome.failed or outcome.comparison.gate_failed
        return
    _update_baseline(outcome, baseline, path, interrupted)


def _update_baseline(outcome: Outcome, baseline, path, interrupted: bool) -> None:
    from ...core.runs.combine import metrics_the_update_would_drop, updated_baseline
    from ...core.runs.jsonfile import OutputError, write_json_atomic

    if interrupted:
        outcome.messages.append(
            f"clipshift: baseline {path} NOT updated: this session was interrupted or stopped "
            "early, so it measured only part of its suite; run it to the end to update"
        )
        outcome.failed = True
        return
    dropped = metrics_the_update_would_drop(baseline, outcome.run)
    if dropped:
        outcome.messages.append(
            f"clipshift: baseline {path} NOT updated: this run did not measure {', '.join(sorted(dropped))}, which "
            f"the baseline holds for {', '.join(sorted(set().union(*dropped.values())))}; replacing those cells "
            "would silently delete them: add them with --clipshift-metrics (or the budgets) and run again"
        )
        outcome.failed = True
        return
    updated, kept = updated_baseline(baseline, outcome.run)
    try:
        write_json_atomic(path, updated.to_dict(), what="baseline")
    except OutputError as exc:
        outcome.messages.append(f"clipshift: {exc}")
        outcome.failed = True
        return
    note = f"; kept {len(kept)} cell(s) this run did not measure: {', '.join(kept)}" if kept else ""
    outcome.messages.append(
        f"clipshift: baseline {path} updated with this run's {len(outcome.run.results)} cell(s){note}"
    )
