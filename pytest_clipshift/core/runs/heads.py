"""Per-head results read back: a cell's layers x heads table of a per-head metric's means, and the
heads that moved most."""

from __future__ import annotations

import numpy as np

from ..metrics.registry import split_position

HEAD_METRIC = "attention_correlation"


def head_table(result, metric: str = HEAD_METRIC) -> np.ndarray | None:
    """(L, H) means of ``metric@LhH`` over the cell's images (NaN where undefined), or None when the
    cell holds no per-head values."""
    cells = {}
    for name in result.values:
        base, layer, head = split_position(name)
        if base == metric and head is not None:
            cells[(layer, head)] = result.stat(name, "mean")
    if not cells:
        return None
    layers, heads = max(k for k, _ in cells), max(h for _, h in cells)
    table = np.full((layers, heads), np.nan)
    for (layer, head), value in cells.items():
        table[layer - 1, head - 1] = value
    return table


def most_moved_heads(result, count: int = 3, metric: str = HEAD_METRIC) -> list[tuple[int, int, float]]:
    """The ``count`` heads whose ``metric`` mean is lowest: (layer, head, value), 1-based."""
    table = head_table(result, metric)
    if table is None:
        return []
    order = [i for i in np.argsort(table, axis=None, kind="stable") if not np.isnan(table.flat[i])]
    return [(int(i // table.shape[1]) + 1, int(i % table.shape[1]) + 1, float(table.flat[i])) for i in order[:count]]
