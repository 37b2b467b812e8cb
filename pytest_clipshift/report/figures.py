"""Report figures as base64 PNG images.

Drawn on ``matplotlib.figure.Figure`` objects under a local ``rc_context``: the user's process keeps
its matplotlib backend and settings (pyplot is never imported).
"""

from __future__ import annotations

import base64
import io

import numpy as np

from ..core.cases import severity_key
from ..core.metrics import metric_info, split_layer

DPI = 72
STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _styled(draw):
    """Run a figure function inside the report's style, without touching global rcParams."""
    import functools

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(STYLE):
            return draw(*args, **kwargs)

    return wrapper


def _subplots(figsize):
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots()


def to_png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


@_styled
def dendrogram_png(run, severity) -> str | None:
    from scipy.cluster.hierarchy import dendrogram

    c = run.clustering(severity)
    if c is None:
        return None
    fig, ax = _subplots(figsize=(6.4, 3.2))
    dendrogram(
        c.linkage,
        labels=c.labels,
        ax=ax,
        leaf_rotation=35,
        color_threshold=c.cut_height,
        above_threshold_color="#888888",
    )
    ax.axhline(c.cut_height, color="#c0392b", linestyle="--", linewidth=1, label=f"cut at {c.cut_height:.3g}")
    ax.set_title(f"Augmentations clustered by embedding distance ({severity_key(severity)}, {c.method} linkage)")
    ax.set_ylabel("mean cosine distance")
    ax.legend(loc="upper right", frameon=False)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    return to_png(fig)


@_styled
def distance_heatmap_png(run, severity) -> str | None:
    c = run.clustering(severity)
    if c is None:
        return None
    order = [c.labels.index(lab) for lab in c.order]
    d = c.distance[np.ix_(order, order)]
    fig, ax = _subplots(figsize=(5.2, 4.2))
    im = ax.imshow(d, cmap="viridis")
    ax.set_xticks(range(len(order)), c.order, rotation=45, ha="right")
    ax.set_yticks(range(len(order)), c.order)
    ax.set_title(f"Pairwise cosine distance between views ({severity_key(severity)})")
    ax.set_xlabel("view")
    ax.set_ylabel("view")
    fig.colorbar(im, ax=ax, label="mean cosine distance", shrink=0.8)
    return to_png(fig)


@_styled
def distributions_png(run, severity, metric: str = "cosine") -> str | None:
    rows = [r for r in run.results if r.severity == severity and not r.subset and metric in r.values]
    if not rows:
        return None
    fig, ax = _subplots(figsize=(6.4, 0.32 * len(rows) + 1.2))
    data = [r.values[metric][~np.isnan(r.values[metric])] for r in rows]
    # matplotlib 3.10 replaced vert=False by orientation="horizontal" (vert warns from 3.11 on)
    horizontal = {"orientation": "horizontal"} if _matplotlib_at_least(3, 10) else {"vert": False}
    ax.boxplot(data, widths=0.6, showfliers=True, flierprops={"markersize": 3}, **horizontal)
    for i, vals in enumerate(data, start=1):
        jitter = np.random.default_rng(i).uniform(-0.15, 0.15, len(vals))
        ax.scatter(vals, i + jitter, s=6, alpha=0.5, color="#2c7fb8")
    ax.set_yticks(range(1, len(rows) + 1), [r.augmentation for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel(f"{metric} per image")
    ax.set_title(f"Distribution of {metric} per augmentation ({severity_key(severity)})")
    return to_png(fig)


@_styled
def severity_curves_png(run, metric: str) -> str | None:
    by_aug: dict[str, list[tuple[int, float, float, float]]] = {}
    for r in run.results:
        if r.subset or not isinstance(r.severity, int) or metric not in r.values or r.augmentation == "identity":
            continue
        s = r.summary(metric)
        by_aug.setdefault(r.augmentation, []).append((r.severity, s["mean"], s["ci95_low"], s["ci95_high"]))
    if not any(len(v) > 1 for v in by_aug.values()):
        return None
    fig, ax = _subplots(figsize=(6.4, 3.4))
    for aug, points in sorted(by_aug.items()):
        points.sort()
        x = [p[0] for p in points]
        mean = np.array([p[1] for p in points])
        # each measured severity a point with its 95% CI; the line only joins them
        bars = np.array([mean - [p[2] for p in points], [p[3] for p in points] - mean])
        ax.errorbar(x, mean, yerr=np.maximum(bars, 0), marker="o", markersize=4, capsize=2, linewidth=1, label=aug)
    ax.set_xlabel("severity")
    ax.set_ylabel(f"{metric} (mean, 95% CI)")
    ax.set_xticks(sorted({p[0] for v in by_aug.values() for p in v}))
    direction = "higher is closer to clean" if metric_info(metric).higher_is_better else "lower is closer to clean"
    ax.set_title(f"{metric} versus severity ({direction})")
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: never over data
    return to_png(fig)


@_styled
def layer_curves_png(run, metric: str = "layer_cka") -> str | None:
    """Shift versus depth per augmentation (layer metrics), at each augmentation's first severity."""
    rows = [r for r in run.results if not r.subset and f"{metric}@1" in r.values and r.augmentation != "identity"]
    if not rows:
        return None
    fig, ax = _subplots(figsize=(6.4, 3.4))
    for r in rows:
        layers = sorted(layer for base, layer in map(split_layer, r.values) if base == metric and layer is not None)
        ax.plot(layers, [r.stat(f"{metric}@{k}", "mean") for k in layers], marker="o", markersize=3, label=r.key)
    ax.set_xlabel("layer")
    ax.set_ylabel(f"{metric} (mean)")
    ax.set_title(f"Where in the network each augmentation bites ({metric} by layer)")
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return to_png(fig)


def _matplotlib_at_least(major: int, minor: int) -> bool:
    import matplotlib

    parts = matplotlib.__version__.split(".")
    return (int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)) >= (major, minor)


@_styled
def compare_deltas_png(baseline, candidate, comparison, metric: str = "cosine", stat: str = "mean") -> str | None:
    """candidate - baseline of ``metric``'s ``stat`` per cell (with 95% intervals for the mean); the
    cells where a rule on it failed in red."""
    deltas = [d for d in comparison.deltas if d.metric == metric and d.stat == stat and d.difference is not None]
    if not deltas:
        return None
    rows = []
    for d in deltas:
        delta = d.difference
        if d.interval is not None:
            low, high = d.interval
        elif stat != "mean":  # only the mean has an interval in the results
            low = high = delta
        else:  # the runs' own intervals, taken as independent: half-widths add in quadrature
            half = [
                (
                    r.get(d.augmentation, d.severity).summary(metric)["ci95_high"]
                    - r.get(d.augmentation, d.severity).summary(metric)["ci95_low"]
                )
                / 2
                for r in (baseline, candidate)
            ]
            spread = float(np.hypot(*half))
            low, high = delta - spread, delta + spread
        rows.append((f"{d.augmentation}[{severity_key(d.severity)}]", delta, low, high, bool(d.failed)))
    fig, ax = _subplots((6.4, 0.3 * len(rows) + 1.3))
    for i, (_label, delta, low, high, failed) in enumerate(rows):
        colour = "#b00020" if failed else "#555555"
        ax.errorbar(
            [delta],
            [i],
            xerr=[[max(delta - low, 0)], [max(high - delta, 0)]],
            fmt="o",
            color=colour,
            markersize=4,
            capsize=2,
        )
    ax.axvline(0, color="#999999", linewidth=0.8)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    ax.invert_yaxis()
    better = "right" if metric_info(metric).higher_is_better else "left"
    ax.set_xlabel(f"{metric} {stat}: candidate - baseline (better to the {better})")
    ax.set_title(f"Change in {metric}.{stat} per cell (red: a rule failed)")
    return to_png(fig)


@_styled
def family_curves_png(run, metric: str = "cosine") -> str | None:
    """ImageNet-C error by family against severity (one line per family, points at each severity)."""
    from ..gate.corruption_error import family_curves

    curves = family_curves(run, metric)
    if not curves:
        return None
    fig, ax = _subplots((6.4, 3.2))
    for family, by_sev in curves.items():
        ax.plot(list(by_sev), list(by_sev.values()), marker="o", markersize=4, linewidth=1, label=family)
    ax.set_xlabel("severity")
    what = f"1 - {metric} mean" if metric_info(metric).higher_is_better else f"{metric} mean"
    ax.set_ylabel(f"error ({what})")
    ax.set_xticks(sorted({s for by_sev in curves.values() for s in by_sev}))
    ax.set_title("ImageNet-C error by family")
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return to_png(fig)


@_styled
def calibration_png(run) -> str | None:
    """The calibration's best predictor: accuracy drop against it per cell, with the fitted line."""
    cal = run.calibration
    if not cal or not cal.get("best"):
        return None
    best, fit = cal["best"], cal["fits"][cal["best"]]
    cells = [r for r in run.results if r.key in cal["cells"]]
    x = np.array([r.stat(best, "mean") for r in cells])
    y = np.array([r.stat(cal["target"], "mean") for r in cells])
    fig, ax = _subplots((5.2, 3.4))
    ax.scatter(x, y, s=18, color="#2c7fb8")
    line = np.linspace(x.min(), x.max(), 20)
    ax.plot(
        line,
        fit["slope"] * line + fit["intercept"],
        color="#c0392b",
        linewidth=1,
        label=f"fit: R² {fit['r2']:.2f}" if fit["r2"] is not None else "fit",
    )
    ax.set_xlabel(f"{best} (mean per cell)")
    ax.set_ylabel("accuracy drop (mean per cell)")
    ax.set_title("Shift against accuracy drop")
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return to_png(fig)


@_styled
def history_png(rows, statistic: str) -> str | None:
    """``statistic``'s mean over the cells per saved run (solid) and its worst cell (dashed), oldest first."""
    metric = statistic.rpartition(".")[0]
    means = [r.mean(statistic) for r in rows]
    if len(rows) < 2 or all(v != v for v in means):
        return None
    better = metric_info(metric).higher_is_better
    worst = []
    for r in rows:
        cells = [v for cell, v in r.values.get(statistic, {}).items() if not cell.startswith("identity[") and v == v]
        worst.append((min(cells) if better else max(cells)) if cells else np.nan)
    fig, ax = _subplots((max(4.0, 0.6 * len(rows) + 2), 2.8))
    x = np.arange(len(rows))
    ax.plot(x, means, marker="o", color="#2c7fb8", label="mean over cells")
    ax.plot(x, worst, marker="v", linestyle="--", color="#b00020", label="worst cell")
    ax.set_xticks(x, [r.name for r in rows], rotation=30, ha="right")
    ax.set_ylabel(statistic)
    ax.set_title(f"{statistic} across saved runs ({'higher' if better else 'lower'} is better)")
    ax.legend(loc="best", fontsize=8)
    return to_png(fig)


@_styled
def head_heatmap_png(key: str, table) -> str | None:
    """A layers x heads heat map of attention correlation (1: unmoved), its values written in."""
    if table is None:
        return None
    layers, heads = table.shape
    fig, ax = _subplots((0.45 * heads + 1.6, 0.32 * layers + 1.2))
    image = ax.imshow(table, cmap="viridis", vmin=min(0.0, float(np.nanmin(table))), vmax=1.0, aspect="auto")
    ax.set_xticks(range(heads), [str(h + 1) for h in range(heads)])
    ax.set_yticks(range(layers), [str(k + 1) for k in range(layers)])
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_title(f"{key}: attention correlation per head")
    fig.colorbar(image, ax=ax, fraction=0.05)
    return to_png(fig)
