"""One pytest run's clipshift state: the model and images (loaded once per process), measurements
(memoised, prefetched in one engine call), budget checks, and the end of the run: merging xdist
workers, the results JSON, saving, comparing with a baseline."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest

from ..core.cases import Case
from ..core.errors import MALFORMED_INPUT_ERRORS, ClipShiftError, ConfigError
from ..core.metrics import DEFAULT_METRICS, METRICS, metric_info, split_layer
from ..gate.budgets import Budgets, Check, evaluate
from .config import ClipShiftConfig

DEMO_SCENES_DEFAULT = 32
SESSION_KEY = pytest.StashKey["ClipShiftSession"]()


def session_of(config) -> ClipShiftSession:
    """The run's session, kept in ``config.stash`` by the plugin's ``pytest_configure``."""
    if SESSION_KEY not in config.stash:
        raise pytest.UsageError("clipshift is not enabled: run with --clipshift")
    return config.stash[SESSION_KEY]


def _check_key(check: dict) -> tuple:
    return (
        check["augmentation"],
        str(check["severity"]),
        check["metric"],
        check["stat"],
        check["op"],
        check["threshold"],
    )


@dataclass
class ProcessState:
    """What one process measured, as objects; xdist workers send it to the controller as JSON
    (the one place besides the results writer where results are serialised)."""

    results: list = field(default_factory=list)  # ShiftResult, one per measured cell
    checks: list[dict] = field(default_factory=list)
    model: dict | None = None
    images: dict | None = None
    clean_embeddings: Any = None  # (N, D) numpy array
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    breaking_points: list[dict] = field(default_factory=list)
    cache: dict = field(default_factory=lambda: {"hits": 0, "misses": 0})
    cells_measured: int = 0  # engine measurements of a cell, over all processes: under xdist, each cell once
    deselected: int = 0  # clipshift items -k/-m deselected (each xdist worker collects them all)
    seed: int = 0
    threads: int | None = None  # this process's thread budget under xdist

    def add(self, result) -> None:
        """Record a cell once; a metric a later measurement of the same cell adds (``metrics=[...]``)
        joins the recorded cell, so the results carry every metric any test measured."""
        for r in self.results:
            if _result_key(r) == _result_key(result):
                r.values.update({m: v for m, v in result.values.items() if m not in r.values})
                return
        self.results.append(result)

    def add_checks(self, checks: list[dict]) -> None:
        """Record each (cell, rule) once, whoever asked for it: a test that measures a cell the budgets
        file also gates checks the same rules on the same numbers, and is counted once."""
        seen = {_check_key(c) for c in self.checks}
        for c in checks:
            if _check_key(c) not in seen:
                self.checks.append(c)
                seen.add(_check_key(c))

    def merge(self, other: ProcessState) -> None:
        for r in other.results:
            self.add(r)
        self.add_checks(other.checks)
        self.model = self.model or other.model
        self.images = self.images or other.images
        if self.clean_embeddings is None:
            self.clean_embeddings = other.clean_embeddings
        for w in other.warnings:
            if w not in self.warnings:
                self.warnings.append(w)
        self.seconds += other.seconds
        self.breaking_points += [b for b in other.breaking_points if b not in self.breaking_points]
        for k in ("hits", "misses"):
            self.cache[k] = self.cache.get(k, 0) + other.cache.get(k, 0)
        self.cells_measured += other.cells_measured
        self.deselected = max(self.deselected, other.deselected)
        self.threads = self.threads or other.threads

    def to_json(self) -> str:
        from ..core.runs.results import encode_array

        data = dict(self.__dict__)
        data["results"] = [r.to_dict() for r in self.results]
        data["clean_embeddings"] = None if self.clean_embeddings is None else encode_array(self.clean_embeddings)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> ProcessState:
        from ..core.runs.results import ShiftResult, decode_array

        data = json.loads(text)
        names = (data.get("images") or {}).get("names", [])
        data["results"] = [ShiftResult.from_dict(r, names, data["seed"]) for r in data["results"]]
        if data["clean_embeddings"] is not None:
            data["clean_embeddings"] = decode_array(data["clean_embeddings"])
        return cls(**data)


def _result_key(r) -> tuple:
    return (r.augmentation, str(r.severity), tuple(r.image_names) if r.subset else ())


@dataclass
class Outcome:
    """The end of a run, decided once in ``pytest_sessionfinish``; the terminal and HTML only render it."""

    run: Any = None  # RunResult, or None when nothing was measured
    comparison: Any = None  # compare.Comparison when --clipshift-compare ran
    messages: list[str] = field(default_factory=list)
    failed: bool = False  # the gate failed: a compare regression, or output that could not be written
    json_written: Path | None = None
    saved: Path | None = None

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


class ClipShiftSession:
    def __init__(self, cfg: ClipShiftConfig, budgets: Budgets | None):
        self.cfg = cfg
        self.budgets = budgets
        self.state = ProcessState(seed=cfg.seed)
        self._encoder = None
        self._images = None
        self._error: ClipShiftError | None = None
        self._memo: dict[tuple, Any] = {}
        self._verdicts: dict[str, bool] = {}  # nodeid -> every budget it checked held
        self._prefetch: list[Case] = []
        self._prefetched = False
        self.pending_pairs = None  # under xdist: () -> the pairs of the items this worker still has to run
        self.lost_workers: list[str] = []  # on the controller: workers that went down without sending their state
        self._cache = None
        self.outcome: Outcome | None = None  # set once, by finish()
        self.progress_factory = None  # () -> progress callback for the engine; the plugin sets it
        self.overlays = bool(cfg.json_path or cfg.save or cfg.html)  # only a report shows them
        self.worker_index: int | None = None  # set under xdist

    # ------------------------------------------------------------------ configuration
    @property
    def requested_metrics(self) -> list[str]:
        """Every metric --clipshift-metrics and the budgets name, layer numbers included."""
        return list(self.cfg.metrics) + (self.budgets.metric_names() if self.budgets is not None else [])

    @cached_property
    def metrics(self) -> list[str]:
        """Defaults, --clipshift-metrics and every metric a budget names; fixed for the session."""
        names = list(DEFAULT_METRICS) + list(self.cfg.metrics) + [self.cfg.ce_metric]
        if self.cfg.draws > 1:  # draws are taken for the metrics computed across them
            names += [m.name for m in METRICS.values() if m.builtin and m.needs == "draws"]
        if self.budgets is not None:
            names += self.budgets.metric_names()
        out = []
        for n in names:
            base, layer = split_layer(n)
            if layer is not None and not metric_info(base).layers_on_request:
                n = base  # layer_cka@3 is stored whenever layer_cka is measured
            if n not in out:
                out.append(n)
        return out

    @property
    def needs_attention(self) -> bool:
        return any(metric_info(split_layer(m)[0]).needs == "attention" for m in self.metrics)

    def set_prefetch(self, pairs: list[tuple[str, Any]]) -> None:
        self._prefetch = list(dict.fromkeys(Case.of(p) for p in pairs))

    @staticmethod
    def pairs_for(items) -> list[tuple[str, Any]]:
        """The (augmentation, severity) pairs the collected ``items`` will measure over the whole image
        set (suite items and ``augmentation``-parametrised tests), so one engine call does them all."""
        pairs = []
        for item in items:
            if hasattr(item, "augmentation") and hasattr(item, "severity"):
                pairs.append((item.augmentation, item.severity))
            callspec = getattr(item, "callspec", None)
            case = callspec.params.get("augmentation") if callspec else None
            marker = item.get_closest_marker("clipshift")
            if isinstance(case, Case) and not (marker and marker.kwargs.get("images")):
                pairs.append((case.augmentation, case.severity))
        return pairs

    def verdict(self, nodeid: str) -> str:
        """ "PASS" or "FAIL" for a test that checked budgets, "" for one that checked none."""
        passed = self._verdicts.get(nodeid)
        return "" if passed is None else ("PASS" if passed else "FAIL")

    def device(self) -> str:
        """The configured device; xdist workers spread over several GPUs (gw0 -> cuda:0, gw1 -> cuda:1, ...)."""
        device = self.cfg.device
        if self.worker_index is not None and device in ("auto", "cuda"):
            import torch

            count = torch.cuda.device_count() if torch.cuda.is_available() else 0
            if count > 1:
                return f"cuda:{self.worker_index % count}"
        return device

    # ------------------------------------------------------------------ lazily loaded resources
    @property
    def encoder(self):
        if self._error is not None:
            raise self._error
        if self._encoder is None:
            from ..core.models.encoders import load_encoder
            from .threads import apply_budget

            budget = apply_budget()
            if budget is not None:
                self.state.threads = budget
            try:
                self._encoder = load_encoder(
                    self.cfg.model,
                    self.device(),
                    self.cfg.precision,
                    attention=self.needs_attention,
                    canvas_size=self.cfg.canvas_size,
                    trust_remote_code=self.cfg.trust_remote_code,
                )
            except ClipShiftError as exc:
                self._error = exc
                raise
            self.state.model = dict(self._encoder.info)
        return self._encoder

    @property
    def images(self):
        if self._images is None:
            from ..core.data.images import load_image_set

            max_images = self.cfg.max_images
            if self.cfg.images.startswith("demo-scenes") and max_images is None:
                max_images = DEMO_SCENES_DEFAULT
            self._images = load_image_set(
                self.cfg.images,
                max_images=max_images,
                seed=self.cfg.seed,
                root=self.cfg.root,
                columns={
                    "image": self.cfg.image_column,
                    "label": self.cfg.label_column,
                    "caption": self.cfg.caption_column,
                },
                split=self.cfg.split,
            )
            if self._images.skipped:
                from ..core.data.images import IMAGE_SUFFIXES

                self.state.warnings.append(
                    f"skipped {len(self._images.skipped)} file(s) of {self.cfg.images} that are not images by their "
                    f"extension ({', '.join(IMAGE_SUFFIXES)}): {', '.join(self._images.skipped)}"
                )
            self.state.images = {
                "count": len(self._images),
                "hash": self._images.digest,
                "source": self._images.source,
                "names": list(self._images.names),
            }
        return self._images

    @property
    def cache(self):
        if self._cache is None and self.cfg.cache_dir is not None:
            from ..core.measure.cache import EmbeddingCache

            self._cache = EmbeddingCache(self.cfg.cache_dir)
        return self._cache

    # ------------------------------------------------------------------ measuring
    def measure(self, augmentation, severity=None, *, metrics=None, images=None):
        """Measure one (augmentation, severity), memoised; the first call prefetches every pair this
        process will need in one engine call (clean embeddings computed once)."""
        case = Case.of(augmentation, severity)
        from ..core.augment.augmentations import augmentation_for

        augmentation_for(case)  # an unknown name or level: a clear error before any work
        metric_list = list(dict.fromkeys(self.metrics + list(metrics or [])))
        image_names = tuple(images) if images else None
        key = (case, image_names, tuple(metric_list))
        if key in self._memo:
            return self._memo[key]
        if image_names is None and metric_list == self.metrics and not case.is_probe:
            ahead = self._ahead()
            self._run_engine(
                [case] + [c for c in ahead if c != case and (c, None, key[2]) not in self._memo], metric_list, None
            )
        if key not in self._memo:
            self._run_engine([case], metric_list, image_names)
        return self._memo[key]

    def _ahead(self) -> list[Case]:
        """The cases to measure along with the one asked for: once, every pair of this process's items;
        under xdist, each time, the pairs of the items the controller has handed this worker so far."""
        if self.pending_pairs is not None:
            return list(dict.fromkeys(Case.of(p) for p in self.pending_pairs()))
        if self._prefetched:
            return []
        self._prefetched = True
        return self._prefetch

    def _run_engine(self, pairs, metric_list, image_names) -> None:
        from ..core.measure.engine import measure

        encoder = self.encoder
        image_set = self.images if image_names is None else self.images.subset(list(image_names))
        started = time.perf_counter()
        run = measure(
            encoder,
            image_set,
            pairs,
            metrics=metric_list,
            seed=self.cfg.seed,
            batch_size=self.cfg.batch_size,
            cache=self.cache,
            text=self._text_spec(metric_list, image_set),
            draws=self.cfg.draws,
            progress=self.progress_factory() if self.progress_factory else None,
            augment_device=self.cfg.augment_device,
        )
        self.state.seconds += time.perf_counter() - started
        if self.cache is not None:
            self.state.cache = {"hits": self.cache.hits, "misses": self.cache.misses}
        self.state.cells_measured += len(run.results)
        for w in run.warnings:
            if w not in self.state.warnings:
                self.state.warnings.append(w)
        if image_names is None and self.state.clean_embeddings is None and run.clean_embeddings is not None:
            self.state.clean_embeddings = run.clean_embeddings
        for r in run.results:
            r.subset = image_names is not None
            probe = r.strength is not None  # a breaking-point probe: kept in breaking_points, not in the table
            if self.overlays and not r.subset and not probe:
                from ..report.overlays import worst_overlays

                r.overlay = worst_overlays(encoder, image_set, r, self.cfg.seed)
            self._memo[(r.case, image_names, tuple(metric_list))] = r
            if not probe:
                self.state.add(r)

    def _text_spec(self, metric_list, image_set):
        from ..core.metrics import metric_info

        if not any(metric_info(m).needs == "text" for m in metric_list):
            return None
        from ..core.models.textalign import text_spec

        labels = list(self.cfg.labels)
        template = self.cfg.prompt_template
        if not labels and image_set.labels:
            if self.cfg.images.startswith("demo-scenes"):
                from ..demo.scenes import LABELS

                labels = [f"{c} {s}" for c, s in LABELS]
            else:
                labels = sorted({lab for lab in image_set.labels if lab is not None})
        if not labels and image_set.captions:  # a captioned set without labels: its captions are the prompts
            labels, template = sorted({c for c in image_set.captions if c}), "{}"
        if not labels:
            raise ConfigError(
                "text metrics need label prompts: set --clipshift-labels (or ini clipshift_labels); "
                f"the image set {image_set.source!r} carries no labels"
            )
        return text_spec(metric_list, labels, template, image_set)

    def measure_strength(self, augmentation: str, strength: float, *, metrics=None):
        """Measure a built-in augmentation at a continuous strength in [0, 1]."""
        return self.measure(Case(augmentation, strength=strength), metrics=metrics)

    def breaking_point(self, augmentation: str, rule: str, *, tolerance: float = 0.02, max_steps: int = 8):
        """The mildest strength of ``augmentation`` at which ``rule`` fails; recorded for the report."""
        from ..gate.breaking import find_breaking_point, parse_rule_text

        parsed = parse_rule_text(rule)
        point = find_breaking_point(
            lambda t: self.measure_strength(augmentation, t).stat(parsed.metric, parsed.stat),
            augmentation,
            parsed,
            tolerance=tolerance,
            max_steps=max_steps,
        )
        self.state.breaking_points.append(point.to_dict())
        return point

    # ------------------------------------------------------------------ budgets
    def check(self, result, test: str, override: dict | None = None) -> list[Check]:
        """Evaluate the budgets (file, then a marker's override) on ``result`` and record the checks."""
        from ..gate.budgets import budgets_from_marker

        rules = {
            r.key: r for r in (self.budgets.rules_for(result.augmentation, result.severity) if self.budgets else [])
        }
        if override:
            rules.update({r.key: r for r in budgets_from_marker(override, test).values()})
        confidence = self.budgets.confidence if self.budgets else None
        bound = self.budgets.bound if self.budgets else "favourable"
        checks = evaluate(result, list(rules.values()), test, confidence, bound)
        self.state.add_checks([c.to_dict() for c in checks])
        if checks:
            self._verdicts[test] = self._verdicts.get(test, True) and all(c.passed for c in checks)
        return checks

    # ------------------------------------------------------------------ end of run
    def finish(self, incomplete: list[str] | None = None) -> Outcome:
        """Assemble the run (after xdist merging), write JSON, save, compare: once per session, in
        ``pytest_sessionfinish``; never raises. The returned ``Outcome`` is also kept as ``self.outcome``.

        ``incomplete``: why this session measured less than its suite ("interrupted", "3 item(s)
        deselected", "shard 1/2", ...), recorded in the results; an interrupted session never
        updates a baseline. Each of ``lost_workers`` adds a reason and fails the gate. Output that
        cannot be written fails the run with a message naming it.
        """
        if self.outcome is not None:
            return self.outcome
        outcome = self.outcome = Outcome()
        lost = [LOST_WORKER.format(worker) for worker in self.lost_workers]
        reasons = list(incomplete or []) + lost
        if lost:  # its items may have passed, but their checks never reached this process: nothing to judge
            outcome.messages += [f"clipshift: {r}: the gate cannot judge what it measured" for r in lost]
            outcome.failed = True
        if not self.state.results:
            return outcome
        try:
            outcome.run = self.assemble()
        except ClipShiftError as exc:
            outcome.messages.append(f"clipshift: could not assemble the results: {exc}")
            outcome.failed = True
            return outcome
        outcome.run.coverage = {"complete": not reasons, "reasons": reasons}
        if self.cfg.compare:
            self._compare(outcome, interrupted=bool(lost) or any(r in INTERRUPTIONS for r in reasons))
        from ..core.runs.jsonfile import OutputError
        from ..gate.storage import Storage

        writes = []
        if self.cfg.json_path:
            writes.append(("json_written", lambda: outcome.run.write_json(self.cfg.json_path)))
        if self.cfg.save:
            writes.append(("saved", lambda: Storage(self.cfg.storage).save(outcome.run.to_dict(), self.cfg.save)))
        for attribute, write in writes:  # each output on its own: one that fails does not stop the other
            try:
                setattr(outcome, attribute, write())
            except OutputError as exc:
                outcome.messages.append(f"clipshift: {exc}")
                outcome.failed = True
        return outcome

    def assemble(self):
        from ..core.runs.results import RunResult

        images = self.state.images or {"names": [], "hash": "", "source": "", "count": 0}
        results = list(self.state.results)
        clean = self.state.clean_embeddings
        settings = {
            "metrics": self.metrics,
            "batch_size": self.cfg.batch_size,
            "canvas_size": self.cfg.canvas_size,
            "budgets": str(self.budgets.source) if self.budgets else None,
            "confidence": self.budgets.confidence if self.budgets else None,
            "device": self.cfg.device,
            "precision": self.cfg.precision,
            "ce_metric": self.cfg.ce_metric,
            "draws": self.cfg.draws,
            "augment_device": self.cfg.augment_device,
        }
        run = RunResult(
            self.state.model or {},
            self.cfg.seed,
            images["names"],
            images["hash"],
            images["source"],
            results,
            clean,
            settings,
            warnings=list(self.state.warnings),
            budgets=self.state.checks,
        )
        run.sort()
        run.extra["timing"] = {
            "measure_seconds": round(self.state.seconds, 3),
            "cache": self.state.cache,
            "cells_measured": self.state.cells_measured,
            "threads_per_worker": self.state.threads,
        }
        from ..core.runs.calibration import calibrate

        calibration = calibrate(run)
        if calibration is not None:
            run.extra["calibration"] = calibration
        if self.state.breaking_points:
            run.extra["breaking_points"] = sorted(
                self.state.breaking_points, key=lambda b: (b["augmentation"], b["rule"])
            )
        return run

    def _compare(self, outcome: Outcome, interrupted: bool = False) -> None:
        from ..core.runs.jsonfile import OutputError, write_json_atomic
        from ..core.runs.results import RunResult
        from ..gate.compare import compare_runs, parse_compare_rule
        from ..gate.storage import Storage

        try:
            path = Storage(self.cfg.storage).find(self.cfg.compare)
            baseline = RunResult.read_json(path)
            rules = [parse_compare_rule(r) for r in self.cfg.compare_fail]
            outcome.comparison = compare_runs(
                baseline,
                outcome.run,
                rules,
                baseline_source=str(path),
                paired=self.cfg.compare_paired,
                allow_missing=self.cfg.compare_allow_missing,
            )
        except ConfigError as exc:
            outcome.messages.append(f"clipshift compare refused: {exc}")
            outcome.failed = True
            return
        except MALFORMED_INPUT_ERRORS as exc:
            outcome.messages.append(
                f"clipshift compare refused: the baseline {self.cfg.compare} cannot be used "
                f"({type(exc).__name__}: {str(exc)[:200]})"
            )
            outcome.failed = True
            return
        outcome.run.extra["comparison"] = outcome.comparison.to_dict()
        from ..gate.corruption_error import corruption_errors

        errors = corruption_errors(baseline, outcome.run, self.cfg.ce_metric, str(path))
        if errors is not None:
            outcome.run.extra["corruption_error"] = errors.to_dict()
        if not baseline.complete:
            outcome.messages.append(
                f"clipshift: the baseline {path} is an incomplete run ({'; '.join(baseline.coverage['reasons'])})"
            )
        if not self.cfg.update_baseline:
            outcome.failed = outcome.failed or outcome.comparison.gate_failed
            return
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


LOST_WORKER = "worker {} was lost before it sent its measurements"
INTERRUPTIONS = ("interrupted", "stopped early")
"""Reasons for an incomplete run that mean the session itself did not finish (never update a baseline)."""


def metrics_the_update_would_drop(baseline, run) -> dict[str, set[str]]:
    """metric -> cells: what the baseline holds for a cell this run re-measured without that metric."""
    measured = {(r.augmentation, r.severity): r for r in run.results if not r.subset}
    dropped: dict[str, set[str]] = {}
    for old in (r for r in baseline.results if not r.subset):
        new = measured.get((old.augmentation, old.severity))
        for metric in old.values if new is not None else ():
            if metric not in new.values:
                dropped.setdefault(metric, set()).add(old.key)
    return dropped


def updated_baseline(baseline, run):
    """``run`` with every baseline cell it did not measure carried over, and the names of those cells:
    accepting a partial candidate must not delete what the baseline knew."""
    from ..core.runs.results import RunResult

    measured = {(r.augmentation, r.severity) for r in run.results if not r.subset}
    kept = [r for r in baseline.results if not r.subset and (r.augmentation, r.severity) not in measured]
    merged = RunResult(
        run.model,
        run.seed,
        run.image_names,
        run.image_hash,
        run.image_source,
        run.results + kept,
        run.clean_embeddings,
        run.settings,
        run.versions,
        run.machine,
        run.warnings,
        run.budgets,
        dict(run.extra),
        coverage=run.coverage if run.complete else baseline.coverage,
    )
    merged.sort()
    return merged, [r.key for r in kept]
