"""The worst case beside the typical case: per severity, the cosine under attack next to the cosine
under random-sign noise of the same l-inf size, and robust zero-shot accuracy next to the clean one."""

from __future__ import annotations

from ..augment.adversarial import EPS_255, PREFIX


def worst_against_typical(run) -> list[dict]:
    """One row per severity at which an attack was measured (empty: none was)."""
    cells = {(r.augmentation, r.severity): r for r in run.results if not r.subset}

    def mean(name, severity, metric):
        cell = cells.get((PREFIX + name, severity)) if name else cells.get(("identity", severity))
        return cell.stat(metric, "mean") if cell is not None and metric in cell.values else None

    severities = sorted({s for a, s in cells if a.startswith(PREFIX) and a != PREFIX + "random_sign"}, key=str)
    rows = []
    for s in severities:
        if not isinstance(s, int):
            continue
        attack, typical = mean("embedding", s, "cosine"), mean("random_sign", s, "cosine")
        rows.append(
            {
                "severity": s,
                "eps_255": EPS_255[s - 1],
                "attack_cosine": attack,
                "random_cosine": typical,
                "gap": None if attack is None or typical is None else typical - attack,
                "robust_accuracy": mean("zero_shot", s, "zero_shot_accuracy"),
                "clean_accuracy": mean(None, s, "zero_shot_accuracy"),
            }
        )
    return rows
