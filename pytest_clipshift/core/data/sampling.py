"""The stratified sample of a labelled set (``--clipshift-max-images`` on labelled data): each label
keeps its share by the largest-remainder rule, the draw within a label seeded."""

from __future__ import annotations

from typing import Any

import numpy as np


def stratified_sample(labels: list[str | None], n: int, seed: int) -> list[int]:
    """``n`` indices drawn without replacement, each label keeping its share (largest remainder),
    seeded; returned in the set's order."""
    if n >= len(labels):
        return list(range(len(labels)))
    groups: dict[Any, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, []).append(i)
    keys = sorted(groups, key=lambda k: (k is None, str(k)))
    exact = {k: n * len(groups[k]) / len(labels) for k in keys}
    take = {k: int(exact[k]) for k in keys}
    for k in sorted(keys, key=lambda k: (-(exact[k] - take[k]), str(k)))[: n - sum(take.values())]:
        take[k] += 1
    rng = np.random.default_rng(seed)
    chosen = [int(i) for k in keys for i in rng.choice(groups[k], size=take[k], replace=False)]
    return sorted(chosen)
