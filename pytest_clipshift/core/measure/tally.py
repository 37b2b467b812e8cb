"""``Tally``: what a measurement has gathered so far, image by image: per case every stored metric's
values, the augmented embeddings and how many images the case left unchanged; the clean embeddings."""

from __future__ import annotations

import numpy as np


class Tally:
    def __init__(self, n_cases: int, n_images: int, stored_metrics):
        self.metrics = tuple(stored_metrics)
        self.values = [{m: np.full(n_images, np.nan) for m in self.metrics} for _ in range(n_cases)]
        self.embeddings: list[list] = [[None] * n_images for _ in range(n_cases)]
        self.clean: list = [None] * n_images
        self.unchanged = [0] * n_cases

    def store(self, case: int, image: int, embedding, row: dict[str, float], unchanged: bool) -> None:
        for m in self.metrics:
            self.values[case][m][image] = row[m]
        self.embeddings[case][image] = embedding
        if unchanged:
            self.unchanged[case] += 1

    def embeddings_of(self, case: int) -> np.ndarray:
        """(N, D): the case's augmented embedding of every image."""
        return np.stack(self.embeddings[case])

    def clean_embeddings(self) -> np.ndarray:
        return np.stack(self.clean)
