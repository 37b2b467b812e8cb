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

from .budgets import Budgets, Check, evaluate
from .catalog import DEFAULT_METRICS, split_layer
from .config import ClipShiftConfig
from .errors import ClipShiftError, ConfigError

DEMO_SCENES_DEFAULT = 32


@dataclass
class AugmentationCase:
    """The value of the ``augmentation`` fixture: one augmentation at one severity."""

    name: str
    severity: int | str

    @property
    def id(self) -> str:
        from .results import severity_key

        return f"{self.name}-{severity_key(self.severity)}"

    def __str__(self) -> str:
        return self.id


@dataclass
class ProcessState:
    """What one process measured; xdist workers send it to the controller as JSON."""

    results: list[dict] = field(default_factory=list)
    checks: list[dict] = field(default_factory=list)
    model: dict | None = None
    images: dict | None = None
    clean_embeddings: dict | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    breaking_points: list[dict] = field(default_factory=list)
    cache: dict = field(default_factory=lambda: {"hits": 0, "misses": 0})
    deselected: int = 0  # clipshift items -k/-m deselected (each xdist worker collects them all)

    def merge(self, other: "ProcessState") -> None:
        seen = {_result_key(r) for r in self.results}
        for r in other.results:
            if _result_key(r) not in seen:
                self.results.append(r)
                seen.add(_result_key(r))
        self.checks += other.checks
        self.model = self.model or other.model
        self.images = self.images or other.images
        self.clean_embeddings = self.clean_embeddings or other.clean_embeddings
        for w in other.warnings:
            if w not in self.warnings:
                self.warnings.append(w)
        self.seconds += other.seconds
        self.breaking_points += [b for b in other.breaking_points if b not in self.breaking_points]
        for k in ("hits", "misses"):
            self.cache[k] = self.cache.get(k, 0) + other.cache.get(k, 0)
        self.deselected = max(self.deselected, other.deselected)

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> "ProcessState":
        return cls(**json.loads(text))


def _result_key(r: dict) -> tuple:
    return (r["augmentation"], str(r["severity"]), tuple(r.get("image_subset") or ()))


class ClipShiftSession:
    def __init__(self, cfg: ClipShiftConfig, budgets: Budgets | None):
        self.cfg = cfg
        self.budgets = budgets
        self.state = ProcessState()
        self._encoder = None
        self._images = None
        self._error: ClipShiftError | None = None
        self._memo: dict[tuple, Any] = {}
        self._prefetch: list[tuple[str, Any]] = []
        self._prefetched = False
        self._cache = None
        self.comparison = None
        self.run = None
        self.messages: list[str] = []
        self.failed_gate = False
        self.json_written: Path | None = None
        self.saved: Path | None = None
        self.overlays = bool(cfg.json_path or cfg.save or cfg.html)  # only a report shows them
        self.worker_index: int | None = None  # set under xdist
        self._finished = False

    # ------------------------------------------------------------------ configuration
    @property
    def requested_metrics(self) -> list[str]:
        """Every metric --clipshift-metrics and the budgets name, layer numbers included."""
        return list(self.cfg.metrics) + (self.budgets.metric_names() if self.budgets is not None else [])

    @cached_property
    def metrics(self) -> list[str]:
        """Defaults, --clipshift-metrics and every metric a budget names; fixed for the session."""
        names = list(DEFAULT_METRICS) + list(self.cfg.metrics)
        if self.budgets is not None:
            names += self.budgets.metric_names()
        out = []
        for n in names:
            base, layer = split_layer(n)
            if layer is not None and not base.startswith("attention_"):
                n = base  # layer_cka@3 is stored whenever layer_cka is measured
            if n not in out:
                out.append(n)
        return out

    @property
    def needs_attention(self) -> bool:
        return any(m.startswith("attention") for m in self.metrics)

    def set_prefetch(self, pairs: list[tuple[str, Any]]) -> None:
        self._prefetch = list(dict.fromkeys(pairs))

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
            from .encoders import load_encoder

            try:
                self._encoder = load_encoder(self.cfg.model, self.device(), self.cfg.precision,
                                             attention=self.needs_attention, canvas_size=self.cfg.canvas_size,
                                             trust_remote_code=self.cfg.trust_remote_code)
            except ClipShiftError as exc:
                self._error = exc
                raise
            self.state.model = dict(self._encoder.info)
        return self._encoder

    @property
    def images(self):
        if self._images is None:
            from .images import load_image_set

            max_images = self.cfg.max_images
            if self.cfg.images.startswith("demo-scenes") and max_images is None:
                max_images = DEMO_SCENES_DEFAULT
            self._images = load_image_set(self.cfg.images, max_images=max_images, seed=self.cfg.seed, root=self.cfg.root)
            if self._images.skipped:
                from .images import IMAGE_SUFFIXES

                self.state.warnings.append(
                    f"skipped {len(self._images.skipped)} file(s) of {self.cfg.images} that are not images by their "
                    f"extension ({', '.join(IMAGE_SUFFIXES)}): {', '.join(self._images.skipped)}")
            self.state.images = {"count": len(self._images), "hash": self._images.digest, "source": self._images.source,
                                 "names": list(self._images.names)}
        return self._images

    @property
    def cache(self):
        if self._cache is None and self.cfg.cache_dir is not None:
            from .cache import EmbeddingCache

            self._cache = EmbeddingCache(self.cfg.cache_dir)
        return self._cache

    # ------------------------------------------------------------------ measuring
    def measure(self, augmentation, severity=None, *, metrics=None, images=None):
        """Measure one (augmentation, severity), memoised; the first call prefetches every pair this
        process will need in one engine call (clean embeddings computed once)."""
        from .engine import expand_pairs

        if isinstance(augmentation, AugmentationCase):
            name, sev = augmentation.name, augmentation.severity if severity is None else severity
        else:
            name, sev = str(augmentation), 3 if severity is None else severity
        from .results import parse_severity

        sev = parse_severity(sev)
        expand_pairs([(name, sev)])  # validates name and severity with a clear error
        metric_list = list(dict.fromkeys(self.metrics + list(metrics or [])))
        image_names = tuple(images) if images else None
        key = (name, sev, image_names, tuple(metric_list))
        if key in self._memo:
            return self._memo[key]
        if not self._prefetched and image_names is None and metric_list == self.metrics:
            self._prefetched = True
            pairs = [p for p in self._prefetch if p != (name, sev)]
            self._run_engine([(name, sev)] + pairs, metric_list, None)
        if key not in self._memo:
            self._run_engine([(name, sev)], metric_list, image_names)
        return self._memo[key]

    def _run_engine(self, pairs, metric_list, image_names) -> None:
        from .engine import measure

        encoder = self.encoder
        image_set = self.images if image_names is None else self.images.subset(list(image_names))
        started = time.perf_counter()
        run = measure(encoder, image_set, pairs, metrics=metric_list, seed=self.cfg.seed,
                      batch_size=self.cfg.batch_size, cache=self.cache, text=self._text_spec(metric_list, image_set))
        self.state.seconds += time.perf_counter() - started
        if self.cache is not None:
            self.state.cache = {"hits": self.cache.hits, "misses": self.cache.misses}
        for w in run.warnings:
            if w not in self.state.warnings:
                self.state.warnings.append(w)
        if image_names is None and self.state.clean_embeddings is None and run.clean_embeddings is not None:
            from .results import encode_array

            self.state.clean_embeddings = encode_array(run.clean_embeddings)
        recorded = {_result_key(x) for x in self.state.results}
        for r in run.results:
            r.subset = image_names is not None
            probe = "@" in r.augmentation  # a breaking-point probe: kept in breaking_points, not in the table
            if self.overlays and not r.subset and not probe:
                from .overlays import worst_overlays

                r.overlay = worst_overlays(encoder, image_set, r, self.cfg.seed)
            self._memo[(r.augmentation, r.severity, image_names, tuple(metric_list))] = r
            d = r.to_dict()
            if not probe and _result_key(d) not in recorded:
                self.state.results.append(d)

    def _text_spec(self, metric_list, image_set):
        from .catalog import metric_info

        if not any(metric_info(m).needs == "text" for m in metric_list):
            return None
        from .textalign import TextSpec

        labels = list(self.cfg.labels)
        if not labels and image_set.labels:
            if self.cfg.images.startswith("demo-scenes"):
                from .demo.scenes import LABELS

                labels = [f"{c} {s}" for c, s in LABELS]
            else:
                labels = sorted(set(image_set.labels))
        if not labels:
            raise ConfigError("text metrics need label prompts: set --clipshift-labels (or ini clipshift_labels); "
                              f"the image set {image_set.source!r} carries no labels")
        own = image_set.labels if image_set.labels and all(lab in labels for lab in image_set.labels) else None
        return TextSpec(labels, self.cfg.prompt_template, own)

    def measure_strength(self, augmentation: str, strength: float, *, metrics=None):
        """Measure a built-in augmentation at a continuous strength in [0, 1]."""
        from .augmentations import at_strength

        return self.measure(at_strength(augmentation, strength), 1, metrics=metrics)

    def breaking_point(self, augmentation: str, rule: str, *, tolerance: float = 0.02, max_steps: int = 8):
        """The mildest strength of ``augmentation`` at which ``rule`` fails; recorded for the report."""
        from .breaking import find_breaking_point, parse_rule_text

        parsed = parse_rule_text(rule)
        point = find_breaking_point(
            lambda t: self.measure_strength(augmentation, t).stat(parsed.metric, parsed.stat),
            augmentation, parsed, tolerance=tolerance, max_steps=max_steps)
        self.state.breaking_points.append(point.to_dict())
        return point

    # ------------------------------------------------------------------ budgets
    def check(self, result, test: str, override: dict | None = None) -> list[Check]:
        """Evaluate the budgets (file, then a marker's override) on ``result`` and record the checks."""
        from .budgets import budgets_from_marker

        rules = {r.key: r for r in (self.budgets.rules_for(result.augmentation, result.severity) if self.budgets else [])}
        if override:
            rules.update({r.key: r for r in budgets_from_marker(override, test).values()})
        confidence = self.budgets.confidence if self.budgets else None
        bound = self.budgets.bound if self.budgets else "favourable"
        checks = evaluate(result, list(rules.values()), test, confidence, bound)
        self.state.checks += [c.to_dict() for c in checks]
        return checks

    # ------------------------------------------------------------------ end of run
    def finish(self, incomplete: list[str] | None = None) -> None:
        """Assemble the run (after xdist merging), write JSON, save, compare. Runs once; never raises.

        ``incomplete``: why this session measured less than its suite ("interrupted", "3 item(s)
        deselected", "shard 1/2", ...), recorded in the results; an interrupted session never
        updates a baseline. Output that cannot be written fails the run with a message naming it.
        """
        if self._finished or not self.state.results:
            return
        self._finished = True
        reasons = list(incomplete or [])
        try:
            self.run = self.assemble()
        except ClipShiftError as exc:
            self.messages.append(f"clipshift: could not assemble the results: {exc}")
            self.failed_gate = True
            return
        self.run.coverage = {"complete": not reasons, "reasons": reasons}
        if self.cfg.compare:
            self._compare(interrupted=any(r in INTERRUPTIONS for r in reasons))
        from .jsonfile import OutputError
        from .storage import Storage

        writes = []
        if self.cfg.json_path:
            writes.append(("json_written", lambda: self.run.write_json(self.cfg.json_path)))
        if self.cfg.save:
            writes.append(("saved", lambda: Storage(self.cfg.storage).save(self.run.to_dict(), self.cfg.save)))
        for attribute, write in writes:  # each output on its own: one that fails does not stop the other
            try:
                setattr(self, attribute, write())
            except OutputError as exc:
                self.messages.append(f"clipshift: {exc}")
                self.failed_gate = True

    def assemble(self):
        from .results import RunResult, ShiftResult, decode_array

        images = self.state.images or {"names": [], "hash": "", "source": "", "count": 0}
        results = [ShiftResult.from_dict(r, images["names"], self.cfg.seed) for r in self.state.results]
        clean = decode_array(self.state.clean_embeddings) if self.state.clean_embeddings else None
        settings = {"metrics": self.metrics, "batch_size": self.cfg.batch_size, "canvas_size": self.cfg.canvas_size,
                    "budgets": str(self.budgets.source) if self.budgets else None,
                    "confidence": self.budgets.confidence if self.budgets else None,
                    "device": self.cfg.device, "precision": self.cfg.precision}
        run = RunResult(self.state.model or {}, self.cfg.seed, images["names"], images["hash"], images["source"],
                        results, clean, settings, warnings=list(self.state.warnings), budgets=self.state.checks)
        run.sort()
        run.extra["timing"] = {"measure_seconds": round(self.state.seconds, 3), "cache": self.state.cache}
        if self.state.breaking_points:
            run.extra["breaking_points"] = sorted(self.state.breaking_points, key=lambda b: (b["augmentation"], b["rule"]))
        return run

    def _compare(self, interrupted: bool = False) -> None:
        from .compare import compare_runs, parse_compare_rule
        from .jsonfile import OutputError, write_json_atomic
        from .results import RunResult
        from .storage import Storage

        try:
            path = Storage(self.cfg.storage).find(self.cfg.compare)
            baseline = RunResult.read_json(path)
            rules = [parse_compare_rule(r) for r in self.cfg.compare_fail]
            self.comparison = compare_runs(baseline, self.run, rules, baseline_source=str(path),
                                           paired=self.cfg.compare_paired, allow_missing=self.cfg.compare_allow_missing)
        except ConfigError as exc:
            self.messages.append(f"clipshift compare refused: {exc}")
            self.failed_gate = True
            return
        self.run.extra["comparison"] = self.comparison.to_dict()
        if not baseline.complete:
            self.messages.append(f"clipshift: the baseline {path} is an incomplete run "
                                 f"({'; '.join(baseline.coverage['reasons'])})")
        if not self.cfg.update_baseline:
            self.failed_gate = self.failed_gate or self.comparison.gate_failed
            return
        if interrupted:
            self.messages.append(f"clipshift: baseline {path} NOT updated: this session was interrupted or stopped "
                                 "early, so it measured only part of its suite; run it to the end to update")
            self.failed_gate = True
            return
        updated, kept = updated_baseline(baseline, self.run)
        try:
            write_json_atomic(path, updated.to_dict(), what="baseline")
        except OutputError as exc:
            self.messages.append(f"clipshift: {exc}")
            self.failed_gate = True
            return
        note = f"; kept {len(kept)} cell(s) this run did not measure: {', '.join(kept)}" if kept else ""
        self.messages.append(f"clipshift: baseline {path} updated with this run's "
                             f"{len(self.run.results)} cell(s){note}")


INTERRUPTIONS = ("interrupted", "stopped early")
"""Reasons for an incomplete run that mean the session itself did not finish (never update a baseline)."""


def updated_baseline(baseline, run):
    """``run`` with every baseline cell it did not measure carried over, and the names of those cells:
    accepting a partial candidate must not delete what the baseline knew."""
    from .results import RunResult

    measured = {(r.augmentation, r.severity) for r in run.results if not r.subset}
    kept = [r for r in baseline.results if not r.subset and (r.augmentation, r.severity) not in measured]
    merged = RunResult(run.model, run.seed, run.image_names, run.image_hash, run.image_source, run.results + kept,
                       run.clean_embeddings, run.settings, run.versions, run.machine, run.warnings, run.budgets,
                       dict(run.extra), coverage=run.coverage if run.complete else baseline.coverage)
    merged.sort()
    return merged, [r.key for r in kept]
