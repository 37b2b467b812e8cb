"""The shift metrics: pure, vectorised numpy functions. Row i of every input is image i.

Embedding metrics take (N, D) arrays; attention metrics take (N, ..., gh, gw) maps; pixel metrics
take uint8 (N, H, W, 3) batches and compute in float (the study's uint8 subtraction wrapped
around and scored about 0.998 for everything).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

EPS = 1e-12


# ---------------------------------------------------------------- embeddings


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """cos(a_i, b_i) = <a_i, b_i> / (|a_i| |b_i|), per row. 1 = same direction."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    num = np.einsum("nd,nd->n", a, b)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.clip(num / np.maximum(den, EPS), -1.0, 1.0)


def l2_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a_i - b_i|_2 on the raw (unnormalised) embeddings, as the study measured it."""
    return np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64), axis=1)


def l2_distance_normalized(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a_i/|a_i| - b_i/|b_i||_2 = sqrt(2 - 2 cos): comparable across models, in [0, 2]."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), EPS)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), EPS)
    return np.linalg.norm(a - b, axis=1)


def cosine_distance_matrix(embeddings: np.ndarray) -> np.ndarray:
    """(N, K, D) -> (K, K): 1 - cos between every pair of the K views, averaged over the N images.

    Symmetric, zero on the diagonal.
    """
    e = np.asarray(embeddings, np.float64)
    e = e / np.maximum(np.linalg.norm(e, axis=-1, keepdims=True), EPS)
    sims = np.einsum("nkd,njd->nkj", e, e)
    dist = 1.0 - sims.mean(axis=0)
    dist = (dist + dist.T) / 2
    np.fill_diagonal(dist, 0.0)
    return np.maximum(dist, 0.0)


@dataclass
class Clustering:
    labels: list[str]
    distance: np.ndarray  # (K, K)
    linkage: np.ndarray  # scipy linkage matrix (K-1, 4)
    method: str
    order: list[str]  # leaf order of the dendrogram
    clusters: dict[str, int]  # label -> cluster id, cut at cut_fraction x the top merge height
    cut_height: float

    def to_dict(self) -> dict:
        return {
            "labels": self.labels,
            "distance": np.round(self.distance, 6).tolist(),
            "linkage": np.round(self.linkage, 6).tolist(),
            "method": self.method,
            "order": self.order,
            "clusters": self.clusters,
            "cut_height": round(float(self.cut_height), 6),
        }


EUCLIDEAN_LINKAGES = ("ward", "centroid", "median")


def cluster_views(
    distance: np.ndarray, labels: list[str], method: str = "average", cut_fraction: float = 0.7
) -> Clustering:
    """Hierarchical clustering of the views from their mean cosine distance matrix D (scipy ``linkage``).

    ``average`` linkage suits cosine distances. ``ward`` (the study's choice), ``centroid`` and
    ``median`` assume Euclidean distances, so they get sqrt(2 D): exactly the Euclidean distance
    between two views' stacked unit embeddings (each image's unit vector, all images concatenated,
    scaled by 1/sqrt(N)), since |u - v|^2 = 2 - 2 cos. Clusters are cut at ``cut_fraction`` x the
    top merge height. ``Clustering.distance`` keeps D.
    """
    from scipy.cluster.hierarchy import dendrogram, fcluster, linkage
    from scipy.spatial.distance import squareform

    valid = ("average", "complete", "single", "weighted", *EUCLIDEAN_LINKAGES)
    if method not in valid:
        raise ConfigError(f"unknown linkage method {method!r}; valid: {', '.join(valid)}")
    if len(labels) < 2:
        raise ConfigError("clustering needs at least two views")
    d = np.asarray(distance, np.float64)
    condensed = squareform(np.sqrt(2.0 * np.maximum(d, 0.0)) if method in EUCLIDEAN_LINKAGES else d, checks=False)
    z = linkage(condensed, method=method)
    cut = cut_fraction * float(z[-1, 2])
    ids = fcluster(z, t=cut, criterion="distance")
    order = [labels[i] for i in dendrogram(z, no_plot=True, labels=None)["leaves"]]
    return Clustering(list(labels), d, z, method, order, {lab: int(c) for lab, c in zip(labels, ids)}, cut)


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1."""
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), EPS)


def _polish(w: np.ndarray, gram: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """Exact weights on the support the iterative solve found: the centre equidistant from the
    support points within their affine hull (a small linear system); kept only if it stays feasible."""
    support = np.flatnonzero(w > 1e-7 * w.max())
    n = len(support)
    system = np.zeros((n + 1, n + 1))
    system[:n, :n] = -2.0 * gram[np.ix_(support, support)]
    system[:n, n] = -1.0
    system[n, :n] = 1.0
    rhs = np.concatenate([-norms[support], [1.0]])
    try:
        solution = np.linalg.lstsq(system, rhs, rcond=None)[0]
    except np.linalg.LinAlgError:
        return w
    exact = np.zeros_like(w)
    exact[support] = solution[:n]
    if exact.min() < -1e-9:
        return w
    exact = np.clip(exact, 0.0, None)
    return exact / exact.sum()


def enclosing_ball_radius(points: np.ndarray, tol: float = 1e-10) -> float:
    """Radius of the smallest ball enclosing the K rows of ``points`` (any dimension), exact to ~1e-9.

    Solves the dual of the minimum enclosing ball problem, a quadratic program in K weights on the
    simplex: maximise sum_i w_i |p_i|^2 - |sum_i w_i p_i|^2; the centre is sum_i w_i p_i and the
    radius the largest distance from it. It works on the K x K Gram matrix, so the dimension does
    not matter. Primal (the radius from the centre found) and dual (its objective) must agree to
    ``tol`` in squared radius (after scaling the spread to 1), or it says so rather than returning a
    loose value.
    """
    from scipy.optimize import minimize

    p = np.asarray(points, np.float64)
    k = len(p)
    if k == 1:
        return 0.0
    # centred and scaled to unit spread: the same precision for a tight cluster as for a wide one
    p = p - p.mean(axis=0)
    scale = float(np.sqrt((p**2).sum(axis=1).max()))
    if scale == 0.0:
        return 0.0
    p = p / scale
    gram = p @ p.T
    norms = np.diag(gram).copy()

    def negative_dual(w):
        return -(w @ norms - w @ gram @ w)

    def gradient(w):
        return -(norms - 2 * gram @ w)

    best = None
    for start in (np.full(k, 1.0 / k), np.eye(k)[int(np.argmax(norms - 2 * gram.mean(1)))]):
        out = minimize(
            negative_dual,
            start,
            jac=gradient,
            method="SLSQP",
            bounds=[(0.0, 1.0)] * k,
            constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones_like(w)}],
            options={"ftol": 1e-15, "maxiter": 500},
        )
        w = np.clip(out.x, 0.0, None)
        w /= w.sum()
        w = _polish(w, gram, norms)
        centre = w @ p
        primal = float(np.max(((p - centre) ** 2).sum(axis=1)))
        dual = float(w @ norms - w @ gram @ w)
        if best is None or primal < best[0]:
            best = (primal, max(dual, best[1] if best else -np.inf))
        elif dual > best[1]:
            best = (best[0], dual)
    primal, dual = best
    if (
        primal - dual > tol
    ):  # near-degenerate clouds (near-duplicate draws) can stall SLSQP: an exact combinatorial answer
        primal_w, dual_w = _welzl_certified(p, norms, gram)
        primal, dual = min(primal, primal_w), max(dual, dual_w)
    if primal - dual > tol:
        raise ArithmeticError(f"enclosing ball did not converge (primal {primal:.3e}, dual {dual:.3e})")
    return float(np.sqrt(max(primal, 0.0))) * scale


def _circumsphere(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre of the sphere through ``points`` within their affine hull, and its barycentric
    weights; least squares, so duplicate and near-duplicate points do not make it singular."""
    u = points[1:] - points[0]
    lam = np.linalg.lstsq(u @ u.T, 0.5 * (u * u).sum(axis=1), rcond=None)[0] if len(u) else np.zeros(0)
    return points[0] + lam @ u, np.concatenate([[1.0 - lam.sum()], lam])


def _welzl_certified(p: np.ndarray, norms: np.ndarray, gram: np.ndarray) -> tuple[float, float]:
    """Welzl's smallest enclosing ball (Gärtner's move-to-front form, a fixed order: deterministic) as
    (primal, dual): the squared radius from its centre, and the dual value of its support's weights,
    a lower bound on the true squared radius when they are non-negative."""
    order = list(range(len(p)))
    eps = 1e-13  # in the unit-spread frame

    def ball(support: list[int]):
        centre, weights = _circumsphere(p[support])
        return centre, float(((p[support] - centre) ** 2).sum(axis=1).max()), support, weights

    def mtf(end: int, boundary: list[int]):
        current = ball(boundary) if boundary else None
        if len(boundary) == len(p):
            return current
        i = 0
        while i < end:
            k = order[i]
            if current is None or float(((p[k] - current[0]) ** 2).sum()) > current[1] + eps:
                current = mtf(i, boundary + [k])
                order.insert(0, order.pop(i))
            i += 1
        return current

    centre, _, support, weights = mtf(len(p), [])
    primal = float(((p - centre) ** 2).sum(axis=1).max())
    if weights.min() < -1e-9:
        return primal, -np.inf  # no certificate from this support
    w = np.zeros(len(p))
    np.add.at(w, support, np.clip(weights, 0.0, None))
    w /= w.sum()
    return primal, float(w @ norms - w @ gram @ w)


# ---------------------------------------------------------------- attention


def _flat(maps: np.ndarray) -> np.ndarray:
    m = np.asarray(maps, np.float64)
    return m.reshape(m.shape[:-2] + (-1,))


def attention_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation between two attention maps over their cells, per map.

    (..., gh, gw) -> (...). A constant map has no defined correlation: NaN, never a silent 0.
    """
    x, y = _flat(a), _flat(b)
    x = x - x.mean(axis=-1, keepdims=True)
    y = y - y.mean(axis=-1, keepdims=True)
    den = np.sqrt((x * x).sum(-1) * (y * y).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (x * y).sum(-1) / den
    return np.where(den > EPS, np.clip(r, -1, 1), np.nan)


def _min_max(m: np.ndarray) -> np.ndarray:
    """Each map (last axis flattened) scaled to [0, 1]; a constant map has no scale: NaN."""
    lo, hi = m.min(-1, keepdims=True), m.max(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(hi - lo > EPS, (m - lo) / (hi - lo), np.nan)


def attention_inverse_mse(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 / (1 + MSE) of the two maps on the patch grid, each min-max normalised to [0, 1].

    1 = identical after normalisation; 0.5 = maximally different (MSE 1). A constant map cannot be
    min-max normalised: NaN (undefined), never a made-up number. The study's exact variant, which
    first upsamples the maps to the image size, is ``attention_inverse_mse_study``.
    """
    mse = ((_min_max(_flat(a)) - _min_max(_flat(b))) ** 2).mean(-1)
    return 1.0 / (1.0 + mse)


def attention_inverse_mse_study(a: np.ndarray, b: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The study's attention shift exactly: each (gh, gw) map resized to ``size`` (width, height)
    with OpenCV's bilinear ``cv2.resize``, min-max normalised, then 1 / (1 + MSE).

    (N, gh, gw) -> (N,). Differs from ``attention_inverse_mse`` (patch grid) by interpolation
    smoothing, up to about 0.05. A constant map is undefined: NaN (the study left it unnormalised).
    """
    import cv2

    def up(maps):
        maps = np.asarray(maps, np.float32)
        return np.stack([cv2.resize(m, size).reshape(-1) for m in maps]).astype(np.float64)

    mse = ((_min_max(up(a)) - _min_max(up(b))) ** 2).mean(-1)
    return 1.0 / (1.0 + mse)


# ---------------------------------------------------------------- pixels

_GREY_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def grey(images: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma in float32 (float32 is exact enough for 8-bit input and twice as fast)."""
    return np.tensordot(np.asarray(images, dtype=np.float32), _GREY_WEIGHTS, axes=([-1], [0]))


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape or a.ndim != 4 or a.shape[-1] != 3:
        raise ValueError(f"pixel metrics need two (N, H, W, 3) batches of one shape, got {a.shape} and {b.shape}")


def _cells(x: np.ndarray, grid: int) -> np.ndarray:
    """(N, H, W, ...) -> (N, grid, grid, h, w, ...) after cropping H, W to multiples of grid."""
    n, h, w = x.shape[:3]
    ch, cw = h // grid, w // grid
    if ch == 0 or cw == 0:
        raise ValueError(f"images of {h}x{w} px are too small for a {grid}x{grid} grid")
    x = x[:, : ch * grid, : cw * grid]
    x = x.reshape((n, grid, ch, grid, cw) + x.shape[3:])
    return np.moveaxis(x, 3, 2)


def patch_similarity(original: np.ndarray, augmented: np.ndarray, grid: int = 4) -> np.ndarray:
    """Mean over a grid x grid tiling of 1 / (1 + MSE_patch / 255^2), computed in float.

    1 = identical; an unrelated image scores clearly below a mild augmentation.
    """
    _check_pair(original, augmented)
    d = (np.asarray(original, np.float32) - np.asarray(augmented, np.float32)) * np.float32(1 / 255.0)
    mse = (_cells(d * d, grid)).mean(axis=(3, 4, 5), dtype=np.float64)
    return (1.0 / (1.0 + mse)).mean(axis=(1, 2))


def edge_map(grey: np.ndarray) -> np.ndarray:
    """(|dx| + |dy|) of central differences, each map divided by its own maximum."""
    e = np.zeros_like(grey)
    e[:, :, 1:-1] = np.abs(grey[:, :, 2:] - grey[:, :, :-2])
    e[:, 1:-1, :] += np.abs(grey[:, 2:, :] - grey[:, :-2, :])
    e *= 0.5
    top = e.reshape(e.shape[0], -1).max(axis=1)
    return e / np.maximum(top, EPS)[:, None, None]


def edge_preservation(
    original: np.ndarray, augmented: np.ndarray, *, original_edges: np.ndarray | None = None
) -> np.ndarray:
    """1 - mean |E_orig - E_aug|, E = (|dx| + |dy|) of the grey image (central differences), each
    divided by its own maximum. 1 = same edges. ``original_edges`` (``edge_map`` of the original)
    may be passed when one original is compared with many augmentations."""
    _check_pair(original, augmented)
    e0 = edge_map(grey(original)) if original_edges is None else original_edges
    return 1.0 - np.abs(e0 - edge_map(grey(augmented))).mean(axis=(1, 2), dtype=np.float64)


def detail_preservation(
    original: np.ndarray, augmented: np.ndarray, grid: int = 8, flat_std: float = 1e-3
) -> np.ndarray:
    """Mean over a grid x grid tiling of the grey image of min(r, 1/r), r = std_aug / std_orig.

    Patches flat in both images (std below ``flat_std`` grey levels) are skipped; a patch flat in
    the original but not in the augmented one scores 0 (detail invented). An image whose every
    patch is flat in both scores 1: there was no detail to lose.
    """
    _check_pair(original, augmented)
    so = _cells(grey(original), grid).std(axis=(3, 4), dtype=np.float64)
    sa = _cells(grey(augmented), grid).std(axis=(3, 4), dtype=np.float64)
    both_flat = (so < flat_std) & (sa < flat_std)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = sa / so
        score = np.where(so < flat_std, 0.0, np.minimum(r, 1.0 / np.maximum(r, EPS)))
    score = np.where(both_flat, np.nan, score)
    counted = (~both_flat).sum(axis=(1, 2))
    total = np.nansum(score, axis=(1, 2))
    return np.where(counted > 0, total / np.maximum(counted, 1), 1.0)


# ---------------------------------------------------------------- summaries (summary.py)

from ..runs.summary import STATISTICS, bootstrap_ci, summarize  # noqa: E402,F401  (their home is summary.py)

# ---------------------------------------------------------------- representations


def linear_cka(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Linear CKA between paired representations, with the unbiased HSIC estimator.

    ``x``: (..., n, d1), ``y``: (..., n, d2): n samples (tokens) seen by two representations.
    CKA = HSIC_u(K, L) / sqrt(HSIC_u(K, K) HSIC_u(L, L)), K = x x^T and L = y y^T with zeroed
    diagonals (Song et al. 2012). 1 for identical representations (up to rotation and scale); near
    0 for independent ones even at small n, where the biased estimator is inflated. Needs n > 3.
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    n = x.shape[-2]
    if n < 4:
        raise ValueError(f"unbiased CKA needs at least 4 samples, got {n}")

    def gram(a):
        k = a @ np.swapaxes(a, -1, -2)
        idx = np.arange(n)
        k[..., idx, idx] = 0.0
        return k

    def hsic(k, l):
        ones_k = k.sum(axis=(-1, -2))
        ones_l = l.sum(axis=(-1, -2))
        trace = (k * np.swapaxes(l, -1, -2)).sum(axis=(-1, -2))
        cross = (k.sum(-1) * l.sum(-1)).sum(-1)
        return (trace + ones_k * ones_l / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * cross) / (n * (n - 3))

    k, l = gram(x), gram(y)
    kl, kk, ll = hsic(k, l), hsic(k, k), hsic(l, l)
    den = np.sqrt(np.maximum(kk * ll, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > EPS, kl / den, np.nan)
