"""Putting measurements together, by one key for "the same cell" (``results.cell_key``): the cells of
xdist workers into one process's, CI shards into one run, a candidate into the baseline it replaces."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ..errors import ConfigError
from .checks import unique_checks
from .results import RunResult, ShiftResult

SHARD_REASON = re.compile(r"^shard (\d+)/(\d+)$")
COMPARABLE_SETTINGS = (("canvas_size", "--clipshift-canvas-size"), ("draws", "--clipshift-draws"))
"""Settings that change what a number means: two runs that differ in one measured different things."""
MERGED_SETTINGS = (
    *COMPARABLE_SETTINGS,
    ("batch_size", "--clipshift-batch-size"),
    ("precision", "--clipshift-precision"),
    ("augment_device", "--clipshift-augment-device"),
)
"""Shards merge into one run only when measured alike, to the last bit: these too."""


def join_cells(*groups: Iterable[ShiftResult]) -> list[ShiftResult]:
    """Each cell once, in order of first appearance: the first measurement of a cell is kept, and a
    metric only a later measurement of it holds is added to it (a test that asked for one more)."""
    out: dict[tuple, ShiftResult] = {}
    for group in groups:
        for r in group:
            kept = out.setdefault(r.cell, r)
            if kept is not r:
                kept.values.update({m: v for m, v in r.values.items() if m not in kept.values})
    return list(out.values())


def join_view_distances(*groups: dict) -> dict:
    """Per severity, the streamed distances over the most views (views measured in different processes
    were never in one chunk together: a run keeps the largest group)."""
    out: dict = {}
    for group in groups:
        for severity, views in (group or {}).items():
            if severity not in out or len(views["labels"]) > len(out[severity]["labels"]):
                out[severity] = views
    return out


def merged_coverage(runs: list[RunResult]) -> dict[str, Any] | None:
    """Shards that together cover 1..N of one N make a complete run; any other gap stays a gap."""
    if all(r.coverage is None for r in runs):
        return None
    reasons = [reason for r in runs if r.coverage for reason in r.coverage.get("reasons", [])]
    shards = [SHARD_REASON.match(x) for x in reasons]
    others = [x for x, m in zip(reasons, shards) if m is None]
    counts = {int(m.group(2)) for m in shards if m}
    covered = len(counts) == 1 and {int(m.group(1)) for m in shards if m} == set(range(1, next(iter(counts)) + 1))
    gaps = others + ([] if covered or not counts else sorted({x for x, m in zip(reasons, shards) if m}))
    return {"complete": not gaps, "reasons": list(dict.fromkeys(gaps))}


def settings_mismatch(a, b, settings=COMPARABLE_SETTINGS) -> tuple[str, object, object, str] | None:
    """The first measurement setting (name, value in ``a``, value in ``b``, option) two runs differ
    in, else None. A run that did not record a setting (an older file) is not held to it."""
    for name, option in settings:
        va, vb = (a.settings or {}).get(name), (b.settings or {}).get(name)
        if va is not None and vb is not None and va != vb:
            return name, va, vb, option
    return None


def merge_runs(runs: list[RunResult], sources: list[str] | None = None) -> RunResult:
    """Combine runs of one model, seed and image set (CI shards) into one, as if run unsharded."""
    if not runs:
        raise ConfigError("nothing to merge")
    sources = sources or [f"run {i + 1}" for i in range(len(runs))]
    first = runs[0]
    for run, src in zip(runs[1:], sources[1:]):
        for what, a, b in (
            ("model fingerprint", first.model.get("fingerprint"), run.model.get("fingerprint")),
            ("seed", first.seed, run.seed),
            ("image set hash", first.image_hash, run.image_hash),
        ):
            if a != b:
                raise ConfigError(f"cannot merge {src} with {sources[0]}: different {what} ({b} vs {a})")
        mismatch = settings_mismatch(first, run, MERGED_SETTINGS)
        if mismatch is not None:
            name, a, b, option = mismatch
            raise ConfigError(
                f"cannot merge {src} with {sources[0]}: different {name} ({b} vs {a}); "
                f"measure every shard with the same {option}"
            )
    warnings = []
    for run in runs:
        warnings += [w for w in run.warnings if w not in warnings]
    merged = RunResult(
        model=first.model,
        seed=first.seed,
        image_names=first.image_names,
        image_hash=first.image_hash,
        image_source=first.image_source,
        results=join_cells(*(run.results for run in runs)),
        clean_embeddings=next((r.clean_embeddings for r in runs if r.clean_embeddings is not None), None),
        settings=first.settings,
        versions=first.versions,
        machine=first.machine,
        warnings=warnings,
        budgets=unique_checks(c for run in runs for c in run.budgets),
        coverage=merged_coverage(runs),
        merged_from=list(sources),
        view_distances=join_view_distances(*(run.view_distances for run in runs)),
    )
    merged.sort()
    return merged


def metrics_the_update_would_drop(baseline: RunResult, run: RunResult) -> dict[str, set[str]]:
    """metric -> cells: what the baseline holds for a whole-set cell this run re-measured without that
    metric (the baseline's subset cells are not carried over at all)."""
    measured = {r.cell: r for r in run.results}
    dropped: dict[str, set[str]] = {}
    for old in (r for r in baseline.results if not r.subset):
        new = measured.get(old.cell)
        for metric in old.values if new is not None else ():
            if metric not in new.values:
                dropped.setdefault(metric, set()).add(old.key)
    return dropped


def updated_baseline(baseline: RunResult, run: RunResult) -> tuple[RunResult, list[str]]:
    """``run`` with every baseline cell it did not measure carried over, and the names of those cells:
    accepting a partial candidate must not delete what the baseline knew."""
    measured = {r.cell for r in run.results if not r.subset}
    kept = [r for r in baseline.results if not r.subset and r.cell not in measured]
    merged = RunResult(
        **{name: getattr(run, name) for name in RUN_FIELDS},
        results=join_cells(run.results, kept),
        coverage=run.coverage if run.complete else baseline.coverage,
    )
    merged.sort()
    return merged, [r.key for r in kept]


RUN_FIELDS = (
    "model",
    "seed",
    "image_names",
    "image_hash",
    "image_source",
    "clean_embeddings",
    "settings",
    "versions",
    "machine",
    "warnings",
    "budgets",
    "view_distances",
    *RunResult.EXTRA_FIELDS,
)
