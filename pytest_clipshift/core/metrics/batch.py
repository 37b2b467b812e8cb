"""``Batch``: everything a metric may read about B (clean, augmented) pairs, with the quantities several
metrics share (aligned attention, per-layer token comparisons) computed once, on first use."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import numpy as np

from . import functional as F


class Batch:
    """B pairs of one augmentation's images. Row i of every array is image ``image_names[i]``.

    * ``clean_embeddings``, ``augmented_embeddings``: (B, D) image embeddings.
    * ``clean_images``, ``augmented_images``: (B, H, W, 3) uint8 canvases the model saw.
    * ``clean_attention``, ``augmented_attention``: (B, L, gh, gw) CLS attention per layer, or None.
    * ``clean_hidden``, ``augmented_hidden``: (B, L, T, d) tokens after each layer, or None.
    * ``coords``: per image, the warp of a geometric augmentation (see ``augmentations.warp_map``) or None.
    * ``clean_heads``, ``augmented_heads``: (B, L, H, gh, gw) the maps per head, or None.
    * ``clean_direct``, ``augmented_direct``: ((B, L, H, D) each head's direct contribution to the
      embedding, (B, D) the rest), or None.
    * ``clean_lens``, ``augmented_lens``: (B, L, D) each layer read through the final norm and
      projection, or None; ``label_text``: (K, D) unit text embeddings of the label prompts.
    * ``sink_factor``: a patch token is a sink when its norm exceeds this times the median patch norm.
    """

    def __init__(
        self,
        *,
        clean_embeddings,
        augmented_embeddings,
        clean_images,
        augmented_images,
        coords,
        augmentations,
        image_names,
        clean_attention=None,
        augmented_attention=None,
        clean_hidden=None,
        augmented_hidden=None,
        grid=None,
        device=None,
        clean_edges: Callable | None = None,
        text_scores: Callable | None = None,
        pixel_names=(),
        clean_heads=None,
        augmented_heads=None,
        clean_direct=None,
        augmented_direct=None,
        clean_lens=None,
        augmented_lens=None,
        label_text=None,
        sink_factor: float = 10.0,
    ):
        self.clean_embeddings = clean_embeddings
        self.augmented_embeddings = augmented_embeddings
        self.clean_images = clean_images
        self.augmented_images = augmented_images
        self.coords = list(coords)
        self.augmentations = list(augmentations)
        self.image_names = list(image_names)
        self.clean_attention = clean_attention
        self.augmented_attention = augmented_attention
        self.clean_hidden = clean_hidden
        self.augmented_hidden = augmented_hidden
        self.grid = grid  # (gh, gw) patch grid of the vision tower, when known
        self.device = device
        self._clean_edges = clean_edges
        self._text_scores = text_scores
        self._pixel_names = set(pixel_names)
        self._aligned: dict = {}
        self.clean_heads, self.augmented_heads = clean_heads, augmented_heads
        self.clean_direct, self.augmented_direct = clean_direct, augmented_direct
        self.clean_lens, self.augmented_lens = clean_lens, augmented_lens
        self.label_text, self.sink_factor = label_text, sink_factor

    @property
    def size(self) -> int:
        return len(self.clean_embeddings)

    # ------------------------------------------------------------------ attention
    def attention(
        self, layer: int | None = None, aligned: bool = True, head: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(clean, augmented) maps at ``layer`` (1-based; None = last), of ``head`` (1-based; None: the
        heads averaged), (B, gh, gw) each. ``aligned``: the clean map warped into the augmented frame
        where a geometric augmentation moved the image."""
        k = self.clean_attention.shape[1] - 1 if layer is None else layer - 1
        if head is None:
            clean, augmented = self.clean_attention[:, k], self.augmented_attention[:, k]
        else:
            clean, augmented = self.clean_heads[:, k, head - 1], self.augmented_heads[:, k, head - 1]
        if not aligned:
            return clean, augmented
        if (k, head) not in self._aligned:
            self._aligned[(k, head)] = self.warped(clean)
        return self._aligned[(k, head)], augmented

    def warped(self, maps: np.ndarray) -> np.ndarray:
        """(B, ...) maps over the clean patch grid, moved into each augmented frame (where it moved)."""
        from ..augment.augmentations import warp_map

        out = maps.copy()
        for i, c in enumerate(self.coords):
            if c is not None:
                out[i] = warp_map(maps[i], c)[0]
        return out

    # ------------------------------------------------------------------ pixels
    @property
    def on_cuda(self) -> bool:
        return getattr(self.device, "type", "cpu") == "cuda"

    @cached_property
    def device_pixel_metrics(self) -> dict[str, np.ndarray]:
        """The built-in pixel metrics in torch on the model's GPU (all requested ones, one upload)."""
        from ..augment.pixel_torch import pixel_metrics

        return pixel_metrics(self.clean_images, self.augmented_images, self._pixel_names, self.device)

    @cached_property
    def clean_edge_maps(self) -> np.ndarray:
        if self._clean_edges is not None:
            return self._clean_edges()
        return F.edge_map(F.grey(self.clean_images))

    # ------------------------------------------------------------------ tokens per layer
    @cached_property
    def _has_cls(self) -> bool:
        if self.grid is None:
            return True
        return self.clean_hidden.shape[2] == self.grid[0] * self.grid[1] + 1

    @cached_property
    def _tokens(self) -> tuple[np.ndarray, np.ndarray]:
        """(B, L, T, d) outputs of each layer (the embedding layer's output dropped)."""
        return self.clean_hidden[:, 1:], self.augmented_hidden[:, 1:]

    @cached_property
    def layer_cosines(self) -> np.ndarray:
        """(B, L): cosine of the CLS token (mean token without one) after each layer."""
        ch, ah = self._tokens
        cv = ch[:, :, 0] if self._has_cls else ch.mean(axis=2)
        av = ah[:, :, 0] if self._has_cls else ah.mean(axis=2)
        n_layers = ch.shape[1]
        return F.cosine_similarity(cv.reshape(-1, cv.shape[-1]), av.reshape(-1, av.shape[-1])).reshape(-1, n_layers)

    @cached_property
    def layer_ckas_raw(self) -> np.ndarray:
        """(B, L): linear CKA of clean vs augmented tokens compared by position."""
        return F.linear_cka(*self._tokens)

    @cached_property
    def layer_ckas(self) -> np.ndarray:
        """(B, L): linear CKA with the clean tokens moved through a geometric augmentation's warp."""
        ch, ah = self._tokens
        cka = self.layer_ckas_raw.copy()
        for i, c in enumerate(self.coords):
            if c is not None and self.grid is not None:
                cka[i] = self._aligned_cka(ch[i], ah[i], c)
        return cka

    def _aligned_cka(self, clean_tokens: np.ndarray, aug_tokens: np.ndarray, coords: np.ndarray) -> np.ndarray:
        """CKA per layer after moving the clean patch tokens into the augmented frame.

        (L, T, d) each. The patch tokens, seen as d maps over the patch grid, go through the same
        warp as attention maps; cells mostly filled from outside the canvas are dropped from both
        sides. A CLS token has no position and is kept as is.
        """
        from ..augment.augmentations import warp_map

        gh, gw = self.grid
        start = 1 if self._has_cls else 0
        n_layers, _, dim = clean_tokens.shape
        grid = np.moveaxis(clean_tokens[:, start:].reshape(n_layers, gh, gw, dim), -1, 1)  # (L, d, gh, gw)
        warped, coverage = warp_map(grid, coords)
        warped = np.moveaxis(warped, 1, -1).reshape(n_layers, gh * gw, dim)
        keep = coverage.reshape(-1) >= 0.5
        if start + int(keep.sum()) < 4:
            return np.full(n_layers, np.nan)
        clean = np.concatenate([clean_tokens[:, :start], warped[:, keep]], axis=1)
        aug = np.concatenate([aug_tokens[:, :start], aug_tokens[:, start:][:, keep]], axis=1)
        return F.linear_cka(clean, aug)

    # ------------------------------------------------------------------ text
    @cached_property
    def text_scores(self) -> dict[str, np.ndarray]:
        return self._text_scores()
