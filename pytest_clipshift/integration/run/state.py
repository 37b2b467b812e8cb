"""``ProcessState``: what one process measured and checked, as objects; xdist workers send it to the
controller as JSON (the one place besides the results writer where results are serialised)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ...core.runs.arrays import decode_array, encode_array
from ...core.runs.checks import RecordedCheck, unique_checks
from ...core.runs.combine import join_cells, join_view_distances
from ...core.runs.results import ShiftResult


@dataclass
class ProcessState:
    results: list[ShiftResult] = field(default_factory=list)  # one per measured cell
    checks: list[RecordedCheck] = field(default_factory=list)  # one per (cell, rule)
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
    view_distances: dict = field(default_factory=dict)  # severity key -> streamed {labels, distance}

    def add(self, result: ShiftResult) -> None:
        """Record a cell once; a metric a later measurement of the same cell adds (``metrics=[...]``)
        joins the recorded cell, so the results carry every metric any test measured."""
        self.results = join_cells(self.results, [result])

    def add_checks(self, checks) -> None:
        """Record each (cell, rule) once, whoever asked for it: a test that measures a cell the budgets
        file also gates checks the same rules on the same numbers, and is counted once."""
        self.checks = unique_checks([*self.checks, *checks])

    def add_warning(self, warning: str) -> None:
        if warning not in self.warnings:
            self.warnings.append(warning)

    def merge(self, other: ProcessState) -> None:
        self.results = join_cells(self.results, other.results)
        self.add_checks(other.checks)
        self.model = self.model or other.model
        self.images = self.images or other.images
        if self.clean_embeddings is None:
            self.clean_embeddings = other.clean_embeddings
        for w in other.warnings:
            self.add_warning(w)
        self.seconds += other.seconds
        self.breaking_points += [b for b in other.breaking_points if b not in self.breaking_points]
        for k in ("hits", "misses"):
            self.cache[k] = self.cache.get(k, 0) + other.cache.get(k, 0)
        self.cells_measured += other.cells_measured
        self.deselected = max(self.deselected, other.deselected)
        self.threads = self.threads or other.threads
        self.view_distances = join_view_distances(self.view_distances, other.view_distances)

    def to_json(self) -> str:
        data = dict(self.__dict__)
        data["results"] = [r.to_dict() for r in self.results]
        data["checks"] = [c.to_dict() for c in self.checks]
        data["clean_embeddings"] = None if self.clean_embeddings is None else encode_array(self.clean_embeddings)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> ProcessState:
        data = json.loads(text)
        names = (data.get("images") or {}).get("names", [])
        data["results"] = [ShiftResult.from_dict(r, names, data["seed"]) for r in data["results"]]
        data["checks"] = [RecordedCheck.from_dict(c) for c in data["checks"]]
        if data["clean_embeddings"] is not None:
            data["clean_embeddings"] = decode_array(data["clean_embeddings"])
        return cls(**data)
