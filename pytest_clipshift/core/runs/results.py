"""Result types and their JSON form (schema ``clipshift-results/1``, documented in docs/results-json.md)."""

from __future__ import annotations

import base64
import math
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..cases import Case, level_key, read_severity, severity_key
from ..errors import ConfigError
from ..metrics import cluster_views, cosine_distance_matrix, metric_info
from .schema import SCHEMA
from .summary import summarize


@dataclass
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
    overlay: dict | None = None  # JPEG of the worst images with attention (see overlays.py)
    strength: float | None = None  # a probe at a continuous strength (breaking points), not a severity
    _summaries: dict[str, dict[str, float]] = field(default_factory=dict, repr=False)

    @property
    def case(self) -> Case:
        return Case(self.augmentation, self.severity, self.strength)

    @property
    def key(self) -> str:
        return f"{self.augmentation}[{level_key(self.severity, self.strength)}]"

    @property
    def n_images(self) -> int:
        return len(self.image_names)

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
        if self.overlay is not None:
            d["overlay"] = self.overlay
        if include_embeddings and self.embeddings is not None:
            d["embeddings"] = encode_array(self.embeddings)
        return d

    @classmethod
    def from_dict(cls, d: dict, names: list[str], seed: int) -> ShiftResult:
        values = {
            m: np.array([np.nan if x is None else x for x in v["per_image"]], dtype=np.float64)
            for m, v in d["metrics"].items()
        }
        emb = decode_array(d["embeddings"]) if d.get("embeddings") else None
        subset = d.get("image_subset")
        return cls(
            d["augmentation"],
            read_severity(d["severity"]),
            list(subset or names),
            values,
            seed,
            d.get("parameters", {}),
            d.get("unchanged_images", 0),
            emb,
            subset=subset is not None,
            overlay=d.get("overlay"),
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


def encode_array(a: np.ndarray) -> dict:
    a16 = np.ascontiguousarray(a, dtype=np.float16)
    return {"dtype": "float16", "shape": list(a16.shape), "b64": base64.b64encode(a16.tobytes()).decode("ascii")}


def decode_array(d: dict) -> np.ndarray:
    raw = base64.b64decode(d["b64"])
    return np.frombuffer(raw, dtype=np.dtype(d["dtype"])).reshape(d["shape"]).astype(np.float32)


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


SHARD_REASON = re.compile(r"^shard (\d+)/(\d+)$")


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


COMPARABLE_SETTINGS = (("canvas_size", "--clipshift-canvas-size"), ("draws", "--clipshift-draws"))
"""Settings that change what a number means: two runs that differ in one measured different things."""


def settings_mismatch(a, b) -> tuple[str, object, object, str] | None:
    """The first measurement setting (name, value in ``a``, value in ``b``, option) two runs differ
    in, else None. A run that did not record a setting (an older file) is not held to it."""
    for name, option in COMPARABLE_SETTINGS:
        va, vb = (a.settings or {}).get(name), (b.settings or {}).get(name)
        if va is not None and vb is not None and va != vb:
            return name, va, vb, option
    return None


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


@dataclass
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
    budgets: list[dict] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    coverage: dict[str, Any] | None = None  # {"complete": bool, "reasons": [...]}; None: not recorded

    @property
    def complete(self) -> bool:
        """False when the run measured less than its suite (interrupted, stopped early, deselected, a shard)."""
        return self.coverage is None or bool(self.coverage.get("complete", True))

    def sort(self) -> None:
        """Put results and budget checks in canonical order (single process, xdist and merged shards agree)."""
        self.results.sort(key=lambda r: (r.subset, canonical_order(r.augmentation, r.severity), r.image_names))
        self.budgets.sort(
            key=lambda c: (c["test"], canonical_order(c["augmentation"], c["severity"]), c["metric"], c["stat"])
        )

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
        """Cluster {original, each augmentation at ``severity``} by mean cosine distance over images."""
        sev = read_severity(severity)
        views = [
            r
            for r in self.results
            if r.severity == sev and r.embeddings is not None and r.augmentation != "identity" and not r.subset
        ]
        if self.clean_embeddings is None or len(views) < 2:
            return None
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
            "budgets": self.budgets,
            "warnings": self.warnings,
            "extra": _jsonable(self.extra),
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
            results = []
            for r in d["results"]:  # fields and types already checked by validate_results
                results.append(ShiftResult.from_dict(r, names, int(d["seed"])))
            clean = decode_array(d["clean_embeddings"]) if d.get("clean_embeddings") else None
            return cls(
                d["model"],
                int(d["seed"]),
                names,
                d["images"]["hash"],
                d["images"].get("source", ""),
                results,
                clean,
                d.get("settings", {}),
                d.get("versions", {}),
                d.get("machine", {}),
                d.get("warnings", []),
                d.get("budgets", []),
                d.get("extra", {}),
                d.get("coverage"),
            )
        except ConfigError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{source}: malformed results file ({type(exc).__name__}: {exc})") from None

    @classmethod
    def merge(cls, runs: list[RunResult], sources: list[str] | None = None) -> RunResult:
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
            mismatch = settings_mismatch(first, run)
            if mismatch is not None:
                name, a, b, option = mismatch
                raise ConfigError(
                    f"cannot merge {src} with {sources[0]}: different {name} ({b} vs {a}); "
                    f"measure every shard with the same {option}"
                )
        seen, results, budgets, warnings = set(), [], [], []
        for run in runs:
            for r in run.results:
                key = (r.augmentation, r.severity, r.subset, tuple(r.image_names))
                if key not in seen:
                    seen.add(key)
                    results.append(r)
            budgets += run.budgets
            warnings += [w for w in run.warnings if w not in warnings]
        clean = next((r.clean_embeddings for r in runs if r.clean_embeddings is not None), None)
        merged = cls(
            first.model,
            first.seed,
            first.image_names,
            first.image_hash,
            first.image_source,
            results,
            clean,
            first.settings,
            first.versions,
            first.machine,
            warnings,
            budgets,
            coverage=merged_coverage(runs),
        )
        merged.sort()
        merged.extra["merged_from"] = sources
        return merged

    @classmethod
    def read_json(cls, path: str | Path) -> RunResult:
        from .jsonfile import read_json

        return cls.from_dict(read_json(path), str(path))
