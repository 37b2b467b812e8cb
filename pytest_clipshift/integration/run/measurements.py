"""A run's measurements: memoised per (case, images, metrics), and prefetched so the first measurement
does every case this process will need in one engine call (clean embeddings computed once)."""

from __future__ import annotations

import time
from typing import Any

from ...core.cases import Case
from ...core.measure.settings import MeasureSettings
from .resources import Resources
from .state import ProcessState

KEEP_EMBEDDINGS_UP_TO = 1000
"""--clipshift-keep-embeddings=auto keeps every embedding up to this many images: the results then
carry them (xdist workers' and shards' views cluster together); beyond it, memory stays flat."""


class Measurements:
    def __init__(self, resources: Resources, state: ProcessState, settings: MeasureSettings, overlays: bool):
        self.resources, self.state, self.settings = resources, state, settings
        self.overlays = overlays  # only a report shows them
        self.progress_factory = None  # () -> progress callback for the engine; the plugin sets it
        self.pending_pairs = None  # under xdist: () -> the pairs of the items this worker still has to run
        self._memo: dict[tuple, Any] = {}
        self._prefetch: list[Case] = []
        self._prefetched = False

    def set_prefetch(self, pairs) -> None:
        self._prefetch = list(dict.fromkeys(Case.of(p) for p in pairs))

    def measure(self, augmentation, severity=None, *, metrics=None, images=None):
        """Measure one (augmentation, severity), memoised; the first call prefetches every pair this
        process will need in one engine call."""
        from ...core.augment.augmentations import augmentation_for

        case = Case.of(augmentation, severity)
        augmentation_for(case)  # an unknown name or level: a clear error before any work
        metric_list = tuple(dict.fromkeys(self.settings.metrics + tuple(metrics or ())))
        image_names = tuple(images) if images else None
        key = (case, image_names, metric_list)
        if key in self._memo:
            return self._memo[key]
        if image_names is None and metric_list == self.settings.metrics and not case.is_probe:
            ahead = [c for c in self._ahead() if c != case and (c, None, metric_list) not in self._memo]
            self._run_engine([case, *ahead], metric_list, None)
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

    def _run_engine(self, cases: list[Case], metric_list: tuple[str, ...], image_names) -> None:
        from ...core.measure.engine import measure
        from ...core.models.textalign import text_spec_for

        images = self.resources.images
        image_set = images if image_names is None else images.subset(list(image_names))
        started = time.perf_counter()
        overlay_metrics = self.settings.overlay_metrics if self.overlays and image_names is None else ()
        keep = self.resources.cfg.keep_embeddings
        keep = keep == "yes" or (keep == "auto" and len(image_set) <= KEEP_EMBEDDINGS_UP_TO)
        run = measure(
            self.resources.encoder,
            image_set,
            cases,
            settings=MeasureSettings.of(
                self.settings, metrics=metric_list, overlay_metrics=overlay_metrics, keep_embeddings=keep
            ),
            cache=self.resources.cache,
            text=text_spec_for(
                metric_list, image_set, self.resources.cfg.labels, self.resources.cfg.prompt_template, cases
            ),
            progress=self.progress_factory() if self.progress_factory else None,
        )
        self._record(run, metric_list, image_names, time.perf_counter() - started)

    def _record(self, run, metric_list, image_names, seconds: float) -> None:
        from ...report.overlays import render_overlay

        state, cache = self.state, self.resources.cache
        state.seconds += seconds
        if cache is not None:
            state.cache = {"hits": cache.hits, "misses": cache.misses}
        state.cells_measured += len(run.results)
        for w in run.warnings:
            state.add_warning(w)
        if image_names is None and state.clean_embeddings is None and run.clean_embeddings is not None:
            state.clean_embeddings = run.clean_embeddings
        if image_names is None:
            from ...core.runs.combine import join_view_distances

            state.view_distances = join_view_distances(state.view_distances, run.view_distances)
        for r in run.results:
            r.subset = image_names is not None
            r.overlays, r.views = [render_overlay(v) for v in r.views], []  # drawn once, the arrays let go
            self._memo[(r.case, image_names, metric_list)] = r
            if r.strength is None:  # a breaking-point probe is kept in breaking_points, not in the table
                state.add(r)

    def measure_strength(self, augmentation: str, strength: float, *, metrics=None):
        """Measure a built-in augmentation at a continuous strength in [0, 1]."""
        return self.measure(Case(augmentation, strength=strength), metrics=metrics)

    def breaking_point(self, augmentation: str, rule: str, *, tolerance: float = 0.02, max_steps: int = 8):
        """The mildest strength of ``augmentation`` at which ``rule`` fails; recorded for the report."""
        from ...gate.breaking import find_breaking_point, parse_rule_text

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
