"""``Tally``: what a measurement has gathered, image by image: per case every metric's values and how
many images the case left unchanged. Embeddings live only as long as they are needed: each chunk's
are folded into the views' distance sums (and the metrics computed across draws) when the chunk ends,
and kept for the whole run only when asked (``MeasureSettings.keep_embeddings``), so memory does not
grow with the number of images."""

from __future__ import annotations

import numpy as np

from ..cases import severity_key


class Tally:
    def __init__(self, plan, n_images: int, keep_embeddings: bool):
        self.plan, self.keep = plan, keep_embeddings
        self.metrics = tuple(plan.stored_metrics)
        across = tuple(m.name for m in plan.across)
        self.values = [
            {m: np.full(n_images, np.nan) for m in self.metrics + (across if p < plan.asked else ())}
            for p in range(len(plan.cases))
        ]
        self.embeddings: list[dict[int, np.ndarray]] = [{} for _ in plan.cases]
        self.clean: dict[int, np.ndarray] = {}
        self.unchanged = [0] * len(plan.cases)
        self.views = _view_groups(plan)  # severity -> case indices whose views are clustered with the original
        self.sums = {s: None for s in self.views}  # severity -> (K, K) sum over images of cosine similarities
        self.counted = 0

    def store(self, case: int, image: int, embedding, row: dict[str, float], unchanged: bool) -> None:
        for m in self.metrics:
            self.values[case][m][image] = row[m]
        self.embeddings[case][image] = np.asarray(embedding, np.float32)
        if unchanged:
            self.unchanged[case] += 1

    def end_chunk(self, images: list[int]) -> None:
        """Fold the chunk's embeddings into the distance sums and the metrics across draws; let them go
        unless the whole run's are kept."""
        for p in range(self.plan.asked):
            draws = self.plan.draws_of(p)
            for metric in self.plan.across:  # a case that draws nothing at random (identity): no spread
                for i in images:
                    self.values[p][metric.name][i] = (
                        metric.across_draws(np.stack([self.embeddings[q][i] for q in draws])) if len(draws) > 1 else 0.0
                    )
        for severity, cases in self.views.items():
            stack = np.stack([[self.clean[i]] + [self.embeddings[p][i] for p in cases] for i in images])
            # at the precision the results file stores (float16): the same distances from memory or a file
            e = stack.astype(np.float16).astype(np.float64)
            e /= np.maximum(np.linalg.norm(e, axis=-1, keepdims=True), 1e-12)
            chunk = np.einsum("nkd,njd->kj", e, e)
            self.sums[severity] = chunk if self.sums[severity] is None else self.sums[severity] + chunk
        self.counted += len(images)
        if not self.keep:
            for store in (*self.embeddings, self.clean):
                for i in images:
                    store.pop(i, None)

    def view_distances(self) -> dict[str, dict]:
        """severity key -> {labels, distance}: the mean cosine distance between the original and each
        augmentation's view over every image (as ``functional.cosine_distance_matrix`` computes it)."""
        out = {}
        for severity, cases in self.views.items():
            if self.sums[severity] is None:
                continue
            dist = 1.0 - self.sums[severity] / self.counted
            dist = (dist + dist.T) / 2
            np.fill_diagonal(dist, 0.0)
            labels = ["original"] + [self.plan.cases[p].augmentation for p in cases]
            out[severity_key(severity)] = {"labels": labels, "distance": np.maximum(dist, 0.0).tolist()}
        return out

    def embeddings_of(self, case: int) -> np.ndarray | None:
        """(N, D): the case's augmented embedding of every image, when they were kept."""
        return np.stack([self.embeddings[case][i] for i in sorted(self.embeddings[case])]) if self.keep else None

    def clean_embeddings(self) -> np.ndarray | None:
        return np.stack([self.clean[i] for i in sorted(self.clean)]) if self.keep else None


def _view_groups(plan) -> dict:
    """severity -> the asked cases (the case's own draw, not identity, not a probe) at that severity, in
    order: the views clustered with the original when there are two or more."""
    groups: dict = {}
    for p, case in enumerate(plan.cases[: plan.asked]):
        if case.augmentation != "identity" and not case.is_probe and not case.draw:
            groups.setdefault(case.severity, []).append(p)
    return {s: cases for s, cases in groups.items() if len(cases) >= 2}
