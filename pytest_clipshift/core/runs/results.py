"""Result types and their JSON form (schema ``clipshift-results/1``, documented in docs/results-json.md)."""

from __future__ import annotations

import math
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..cases import Case, level_key, read_severity, severity_key
from ..errors import ConfigError
from ..metrics import cluster_views, cosine_distance_matrix, metric_info
from .arrays import decode_array, encode_array
from .checks import RecordedCheck
from .schema import SCHEMA
from .summary import summarize


def cell_key(augmentation: str, severity, subset: list[str] | None = None) -> tuple:
    """What names "the same cell" everywhere (xdist workers, shards, a baseline update): the case
    and, for a cell measured on a subset of the images, that subset."""
    return (augmentation, severity_key(read_severity(severity)), tuple(subset) if subset else ())


@dataclass(kw_only=True)
class ShiftResult:
    """One augmentation at one severity over the image set: per-image values for each metric."""

    augmentation: str
    severity: int | str
    image_names: list[str]
    values: dict[str, np.ndarray]
    seed: int
    parameters: dict[str, Any] = field(default_factory=dict)
    unchanged_images: int = 0
    embeddings: np.ndarray | None = None  # (N, D) augmented embeddings, for the distance matrix
    subset: bool = False  # measured on a subset of the run's images (a marker narrowed them)
    # the images that moved most, one JPEG per ranking metric (report/overlays.py renders them)
    overlays: list[dict] = field(default_factory=list)
    strength: float | None = None  # a probe at a continuous strength (breaking points), not a severity
    views: list = field(default_factory=list, repr=False, compare=False)  # measure.views.WorstViews, not saved
    _summaries: dict[str, dict[str, float]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def case(self) -> Case:
        return Case(self.augmentation, self.severity, self.strength)

    @property
    def key(self) -> str:
        return f"{self.augmentation}[{level_key(self.severity, self.strength)}]"

    @property
    def cell(self) -> tuple:
        return cell_key(self.augmentation, self.severity, self.image_names if self.subset else None)

    @property
    def n_images(self) -> int:
        return len(self.image_names)

    def overlay(self, metric: str | None = None) -> dict | None:
        """The worst-images overlay ranked by ``metric`` if there is one, else the first (cosine)."""
        for o in self.overlays:
            if o.get("metric") == metric:
                return o
        return self.overlays[0] if self.overlays else None

    def summary(self, metric: str) -> dict[str, float]:
        """mean, std, median, min, max, p05, p95, ci95_low/high (seeded bootstrap) of ``metric``."""
        if metric not in self.values:
            raise ConfigError(f"{self.key} has no metric {metric!r}; measured: {', '.join(self.values)}")
        if metric not in self._summaries:
            # the bootstrap seed derives from the run seed and the cell, so summaries are reproducible
            cell_seed = (self.seed * 1_000_003 + sum(map(ord, f"{self.key}|{metric}"))) & 0x7FFFFFFF
            self._summaries[metric] = summarize(self.values[metric], cell_seed)
        return self._summaries[metric]

    def stat(self, metric: str, stat: str) -> float:
        s = self.summary(metric)
        if stat not in s:
            raise ConfigError(f"unknown statistic {stat!r}; valid: {', '.join(k for k in s if not k.startswith('n'))}")
        return s[stat]

    def worst(self, metric: str, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` images that moved most on ``metric`` (lowest similarity or highest distance)."""
        v = np.asarray(self.values[metric], np.float64)
        order = np.argsort(v if metric_info(metric).higher_is_better else -v, kind="stable")
        order = [i for i in order if not math.isnan(v[i])]
        return [(self.image_names[i], float(v[i])) for i in order[:k]]

    def to_dict(self, include_embeddings: bool = True) -> dict:
        metrics = {}
        for name, vals in self.values.items():
            s = dict(self.summary(name))
            s["ci95"] = [_num(s.pop("ci95_low")), _num(s.pop("ci95_high"))]
            s["per_image"] = [_num(x) for x in np.asarray(vals, np.float64)]
            metrics[name] = {k: _num(v) if isinstance(v, float) else v for k, v in s.items()}
        d = {
            "augmentation": self.augmentation,
            "severity": self.severity,
            "n_images": self.n_images,
            "parameters": _jsonable(self.parameters),
            "unchanged_images": self.unchanged_images,
            "metrics": metrics,
        }
        if self.subset:
            d["image_subset"] = list(self.image_names)
        if self.overlays:
            d["overlays"] = self.overlays
        if include_embeddings and self.embeddings is not None:
            d["embeddings"] = encode_array(self.embeddings)
        return d

    @classmethod
    def from_dict(cls, d: dict, names: list[str], seed: int) -> ShiftResult:
        values = {
            m: np.array([np.nan if x is None else x for x in v["per_image"]], dtype=np.float64)
            for m, v in d["metrics"].items()
        }
        subset = d.get("image_subset")
        return cls(
            augmentation=d["augmentation"],
            severity=read_severity(d["severity"]),
            image_names=list(subset or names),
            values=values,
            seed=seed,
            parameters=d.get("parameters", {}),
            unchanged_images=d.get("unchanged_images", 0),
            embeddings=decode_array(d["embeddings"]) if d.get("embeddings") else None,
            subset=subset is not None,
            overlays=list(d.get("overlays") or ([d["overlay"]] if d.get("overlay") else [])),  # an older file's one
        )


def _num(x):
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else (x if math.isfinite(x) else (1e308 if x > 0 else -1e308))


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    return obj


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("pytest-clipshift", "torch", "transformers", "albumentations", "numpy", "scipy", "pillow"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def machine_info() -> dict[str, Any]:
    import os

    return {
        "node": platform.node(),
        "machine": platform.machine(),
        "system": platform.system(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
    }


def canonical_order(aug: str, severity) -> tuple:
    """Results sort the same way in every process: registry order, then severity (paper last)."""
    from ..augment.augmentations import registry

    names = list(registry())
    return (
        names.index(aug) if aug in names else len(names),
        aug,
        severity if isinstance(severity, int) else 99,
        str(severity),
    )


@dataclass(kw_only=True)
class RunResult:
    """A whole measurement: every (augmentation, severity) over one image set with one model."""

    model: dict[str, Any]
    seed: int
    image_names: list[str]
    image_hash: str
    image_source: str
    results: list[ShiftResult]
    clean_embeddings: np.ndarray | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=library_versions)
    machine: dict[str, Any] = field(default_factory=machine_info)
    warnings: list[str] = field(default_factory=list)
    budgets: list[RecordedCheck] = field(default_factory=list)  # every (cell, rule) checked, once each
    coverage: dict[str, Any] | None = None  # {"complete": bool, "reasons": [...]}; None: not recorded
    timing: dict[str, Any] | None = None  # measure seconds, cache hits and misses, cells measured, threads
    calibration: dict | None = None  # calibration.calibrate: accuracy drop against each shift metric
    breaking_points: list[dict] = field(default_factory=list)
    comparison: dict | None = None  # gate.compare.Comparison.to_dict(), when compared with a baseline
    corruption_error: dict | None = None  # gate.corruption_error: CE and mCE against the baseline
    merged_from: list[str] | None = None  # the files merged into this run (shards)
    gate_failures: list[str] = field(default_factory=list)  # why the gate failed beyond a rule (a lost worker, ...)
    created: str | None = None  # when the run was assembled, ISO 8601 UTC (the history across releases)
    # severity key -> {labels, distance}: the views' mean cosine distances, streamed chunk by chunk (a run
    # that does not keep every embedding clusters from these) or read from a file's clustering section
    view_distances: dict = field(default_factory=dict)

    EXTRA_FIELDS = (
        "timing",
        "calibration",
        "breaking_points",
        "comparison",
        "corruption_error",
        "merged_from",
        "gate_failures",
        "created",
    )
    """Written under the file's ``extra`` object (schema clipshift-results/1)."""

    @property
    def complete(self) -> bool:
        """False when the run measured less than its suite (interrupted, stopped early, deselected, a shard)."""
        return self.coverage is None or bool(self.coverage.get("complete", True))

    def sort(self) -> None:
        """Put results and budget checks in canonical order (single process, xdist and merged shards agree)."""
        self.results.sort(key=lambda r: (r.subset, canonical_order(r.augmentation, r.severity), r.image_names))
        self.budgets.sort(key=lambda c: (c.test, canonical_order(c.augmentation, c.severity), c.metric, c.stat))

    def get(self, augmentation: str, severity) -> ShiftResult:
        sev = read_severity(severity)
        for r in self.results:
            if r.augmentation == augmentation and r.severity == sev and not r.subset:
                return r
        raise KeyError(f"no result for {augmentation}[{severity_key(sev)}]; have {[r.key for r in self.results]}")

    def severities(self) -> list:
        seen = []
        for r in self.results:
            if r.severity not in seen:
                seen.append(r.severity)
        return seen

    def clustering(self, severity, method: str = "average", cut_fraction: float = 0.7):
        """Cluster {original, each augmentation at ``severity``} by mean cosine distance over images: from
        the kept embeddings, else from the distances streamed while measuring (or read from a file)."""
        sev = read_severity(severity)
        views = [
            r
            for r in self.results
            if r.severity == sev and r.embeddings is not None and r.augmentation != "identity" and not r.subset
        ]
        if self.clean_embeddings is None or len(views) < 2:
            streamed = self.view_distances.get(severity_key(sev))
            if streamed is None:
                return None
            distance = np.asarray(streamed["distance"], np.float64)
            return cluster_views(distance, list(streamed["labels"]), method=method, cut_fraction=cut_fraction)
        # at the precision the results file stores (float16): the same tree from memory or from the file
        stack = np.stack([self.clean_embeddings] + [r.embeddings for r in views], axis=1).astype(np.float16)
        labels = ["original"] + [r.augmentation for r in views]
        return cluster_views(cosine_distance_matrix(stack), labels, method=method, cut_fraction=cut_fraction)

    def ranking(self, metric: str = "cosine", severity=None) -> list[tuple[str, float]]:
        """Augmentations ordered from most to least shift on ``metric`` (mean), at one severity."""
        sev = read_severity(severity) if severity is not None else self.severities()[0]
        rows = [
            (r.augmentation, r.stat(metric, "mean"))
            for r in self.results
            if r.severity == sev and metric in r.values and not r.subset
        ]
        better = metric_info(metric).higher_is_better
        return sorted(rows, key=lambda kv: kv[1] if better else -kv[1])

    def to_dict(self, include_embeddings: bool = True) -> dict:
        clusters = {}
        for sev in self.severities():
            c = self.clustering(sev)
            if c is not None:
                clusters[severity_key(sev)] = c.to_dict()
        extra = {name: getattr(self, name) for name in self.EXTRA_FIELDS if getattr(self, name)}
        d = {
            "schema": SCHEMA,
            "model": _jsonable(self.model),
            "seed": self.seed,
            "images": {
                "count": len(self.image_names),
                "hash": self.image_hash,
                "source": self.image_source,
                "names": self.image_names,
            },
            "versions": self.versions,
            "machine": self.machine,
            "settings": _jsonable(self.settings),
            "results": [r.to_dict(include_embeddings) for r in self.results],
            "clustering": clusters,
            "budgets": [c.to_dict() for c in self.budgets],
            "warnings": self.warnings,
            "extra": _jsonable(extra),
        }
        if self.coverage is not None:
            d["coverage"] = {"complete": bool(self.coverage["complete"]), "reasons": list(self.coverage["reasons"])}
        if include_embeddings and self.clean_embeddings is not None:
            d["clean_embeddings"] = encode_array(self.clean_embeddings)
        return d

    def write_json(self, path: str | Path, include_embeddings: bool = True) -> Path:
        from .jsonfile import write_json_atomic

        return write_json_atomic(path, self.to_dict(include_embeddings))

    @classmethod
    def from_dict(cls, d: dict, source: str = "<dict>") -> RunResult:
        from .schema import validate_results

        validate_results(d, source)
        try:
            names = list(d["images"]["names"])
            extra = d.get("extra", {})
            return cls(
                model=d["model"],
                seed=int(d["seed"]),
                image_names=names,
                image_hash=d["images"]["hash"],
                image_source=d["images"].get("source", ""),
                # fields and types already checked by validate_results
                results=[ShiftResult.from_dict(r, names, int(d["seed"])) for r in d["results"]],
                clean_embeddings=decode_array(d["clean_embeddings"]) if d.get("clean_embeddings") else None,
                settings=d.get("settings", {}),
                versions=d.get("versions", {}),
                machine=d.get("machine", {}),
                warnings=d.get("warnings", []),
                budgets=[RecordedCheck.from_dict(c) for c in d.get("budgets", [])],
                coverage=d.get("coverage"),
                view_distances={
                    k: {"labels": c["labels"], "distance": c["distance"]}
                    for k, c in (d.get("clustering") or {}).items()
                    if isinstance(c, dict) and "labels" in c and "distance" in c
                },
                **{name: extra[name] for name in cls.EXTRA_FIELDS if name in extra},
            )
        except ConfigError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{source}: malformed results file ({type(exc).__name__}: {exc})") from None

    @classmethod
    def read_json(cls, path: str | Path) -> RunResult:
        from .jsonfile import read_json

        return cls.from_dict(read_json(path), str(path))
