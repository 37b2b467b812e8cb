"""Scoring: the model's forward pass over canvases (refusing a NaN/inf embedding, naming the image),
and every stored metric's per-image values for one augmented batch against its clean images."""

from __future__ import annotations

import numpy as np

from ..errors import NonFiniteEmbeddingError
from ..metrics import METRICS, Batch, metric_info
from ..metrics import functional as M
from ..metrics.registry import split_position
from .augmenting import Job
from .plan import Plan


class Scorer:
    def __init__(self, encoder, images, plan: Plan, text_scorer, sink_factor: float):
        # no defaults: the engine passes the run's settings, whose sink factor is the one documented
        self.encoder, self.images, self.plan, self.sink_factor = encoder, images, plan, sink_factor
        self.text_scorer = text_scorer  # text metrics (textalign.TextScorer), or None
        # the built-in pixel metrics a GPU batch computes in one upload
        self.pixel_names = {
            m for m in plan.stored_metrics if metric_info(m).needs == "pixels" and metric_info(m).builtin
        }
        self.edge_maps: dict[int, np.ndarray] = {}  # one per clean image of the chunk, for every case

    def encode(self, canvases: np.ndarray, labels: list[tuple[int, int | None]]):
        """The forward pass; ``labels``: (image, case index or None for the clean image) per row."""
        kwargs = {"tower": self.plan.tower} if self.plan.tower else {}  # a user's encoder need not know the word
        enc = self.encoder.encode(
            canvases, attention=self.plan.want_attention, hidden_states=self.plan.want_layers, **kwargs
        )
        bad = ~np.isfinite(enc.embeddings).all(axis=1)
        if bad.any():
            i, case = labels[int(np.argmax(bad))]
            what = "the clean image" if case is None else f"augmentation {self.plan.cases[case].key}"
            raise NonFiniteEmbeddingError(
                f"model {self.encoder.name} produced a NaN/inf embedding for image {self.images.names[i]!r} under "
                f"{what} (precision {self.encoder.info.get('precision')}; fp16 overflows are the usual cause: try "
                "bf16 or fp32)"
            )
        return enc

    def new_chunk(self) -> None:
        self.edge_maps.clear()  # per chunk: memory stays bounded

    def score(self, batch: list[Job], augmented, canvases, clean, rows_of) -> tuple[object, list[dict[str, float]]]:
        """(the augmented forward pass, one {metric: value} per job). ``clean``: the chunk's clean
        forward pass; ``rows_of[image]``: that image's row in it."""
        aug_images = np.stack([a.image for a in augmented])
        enc = self.encode(aug_images, [(j.image, j.case) for j in batch])
        rows = np.array([rows_of[j.image] for j in batch])
        clean_embeddings = clean.embeddings[rows]
        names = [self.plan.cases[j.case].augmentation for j in batch]
        text_scores = None
        if self.text_scorer is not None:
            image_index = np.array([j.image for j in batch])
            text_scores = lambda: self.text_scorer.scores(clean_embeddings, enc.embeddings, image_index, names)
        attention, layers = self.plan.want_attention, self.plan.want_layers
        shared = Batch(
            clean_embeddings=clean_embeddings,
            augmented_embeddings=enc.embeddings,
            clean_images=np.stack([canvases[j.image] for j in batch]),
            augmented_images=aug_images,
            coords=[a.coords for a in augmented],
            augmentations=names,
            image_names=[self.images.names[j.image] for j in batch],
            clean_attention=clean.attention[rows] if attention else None,
            augmented_attention=enc.attention if attention else None,
            clean_hidden=clean.hidden_states[rows] if layers else None,
            augmented_hidden=enc.hidden_states if layers else None,
            grid=getattr(self.encoder, "grid", None),
            device=getattr(self.encoder, "device", None),
            # one edge map per clean image, reused by every augmentation of it
            clean_edges=lambda: np.stack([self._clean_edges(j.image, canvases) for j in batch]),
            text_scores=text_scores,
            pixel_names=self.pixel_names,
            **self._tower_fields(clean, enc, rows),
        )
        values = {}
        for m in self.plan.stored_metrics:
            base, layer, head = split_position(m)
            values[m] = METRICS[base].values(shared, layer, head)
        return enc, [{m: float(values[m][k]) for m in self.plan.stored_metrics} for k in range(len(batch))]

    def _tower_fields(self, clean, enc, rows) -> dict:
        """The per-head maps, direct contributions and logit lens of the clean rows and the augmented batch."""
        fields = {"sink_factor": self.sink_factor}
        if "heads" in self.plan.tower:
            fields.update(clean_heads=clean.head_attention[rows], augmented_heads=enc.head_attention)
        if "direct" in self.plan.tower:
            fields.update(
                clean_direct=(clean.direct_heads[rows], clean.direct_rest[rows]),
                augmented_direct=(enc.direct_heads, enc.direct_rest),
            )
        if "lens" in self.plan.tower:
            fields.update(clean_lens=clean.lens[rows], augmented_lens=enc.lens, label_text=self.text_scorer.label_text)
        return fields

    def _clean_edges(self, image: int, canvases) -> np.ndarray:
        if image not in self.edge_maps:
            self.edge_maps[image] = M.edge_map(M.grey(canvases[image][None]))[0]
        return self.edge_maps[image]
