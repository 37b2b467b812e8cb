"""The images that moved most, as measured: for each chosen metric the worst images of a case, their
clean and augmented canvases made by the same augmenting path the measurement used (CPU or device,
the same seeded draws, so the same bytes) and the last layer's attention maps when the run measured
attention. The report lays them out; nothing there runs the model."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..metrics import metric_info
from .augmenting import Job


@dataclass
class WorstViews:
    metric: str
    names: list[str]
    values: list[float]
    clean: list[np.ndarray]  # uint8 canvases, as the model saw them
    augmented: list[np.ndarray]
    clean_maps: list[np.ndarray | None]  # (gh, gw) last-layer CLS attention, or None
    augmented_maps: list[np.ndarray | None]


def worst_indices(values: np.ndarray, metric: str, k: int) -> list[int]:
    """The ``k`` images that moved most on ``metric`` (lowest similarity, highest distance; ties by
    image order; undefined values never chosen)."""
    v = np.asarray(values, np.float64)
    order = np.argsort(v if metric_info(metric).higher_is_better else -v, kind="stable")
    return [int(i) for i in order if not math.isnan(v[i])][:k]


def worst_views(measurement, case: int, metrics, k: int) -> list[WorstViews]:
    """The worst ``k`` images of ``case`` (an index into the plan's cases) on each of ``metrics`` it
    measured, re-made through ``measurement``'s own augmenter and scorer."""
    tally, images = measurement.tally, measurement.images
    chosen = {m: worst_indices(tally.values[case][m], m, k) for m in metrics if m in tally.values[case]}
    wanted = sorted({i for idx in chosen.values() for i in idx})
    if not wanted:
        return []
    canvases = {i: measurement.encoder.to_canvas(images.arrays[i]) for i in wanted}
    augmented = measurement.augment([Job(case, i) for i in wanted], canvases)
    stack = np.stack([canvases[i] for i in wanted] + [a.image for a in augmented])
    enc = measurement.scorer.encode(stack, [(i, None) for i in wanted] + [(i, case) for i in wanted])
    maps = enc.attention[:, -1] if enc.attention is not None else [None] * len(stack)
    at = {i: n for n, i in enumerate(wanted)}
    return [
        WorstViews(
            metric,
            [images.names[i] for i in idx],
            [float(tally.values[case][metric][i]) for i in idx],
            [canvases[i] for i in idx],
            [augmented[at[i]].image for i in idx],
            [maps[at[i]] for i in idx],
            [maps[len(wanted) + at[i]] for i in idx],
        )
        for metric, idx in chosen.items()
        if idx
    ]
