"""A model that costs nothing: the engine's own ceiling is what it reaches with it.

``NullEncoder`` follows the encoder protocol (``name``, ``fingerprint``, ``canvas_size``, ``info``,
``to_canvas``, ``encode``): the canvas is a plain resize, the embedding is each canvas's mean colour
repeated (so augmentations still move it), and attention maps, when asked for, are the patch grid's
mean brightness. Everything else the engine does (augmenting, metrics, bookkeeping) is measured.
"""

from __future__ import annotations

import numpy as np


class NullEncoder:
    name = "null"
    fingerprint = "null-encoder-v1"
    grid = (7, 7)

    def __init__(self, size: int = 224, dim: int = 512, layers: int = 1):
        self.canvas_size = (size, size)
        self.dim = dim
        self.info = {"name": "null", "fingerprint": self.fingerprint, "layers": layers, "embedding_dim": dim}

    def to_canvas(self, image: np.ndarray) -> np.ndarray:
        from PIL import Image

        if image.shape[:2] == self.canvas_size:
            return image
        return np.asarray(Image.fromarray(image).resize(self.canvas_size[::-1], Image.Resampling.BILINEAR))

    def encode(self, canvases: np.ndarray, *, attention: bool = False, hidden_states: bool = False):
        from pytest_clipshift.core.models.encoders import Encoded

        means = canvases.reshape(len(canvases), -1, 3).mean(axis=1, dtype=np.float32)  # (N, 3)
        embeddings = np.tile(means, (1, self.dim // 3 + 1))[:, : self.dim] + 1.0
        out = Encoded(embeddings.astype(np.float32))
        if attention:
            gh, gw = self.grid
            h, w = canvases.shape[1] // gh * gh, canvases.shape[2] // gw * gw
            cells = canvases[:, :h, :w].reshape(len(canvases), gh, h // gh, gw, w // gw, 3).mean(axis=(2, 4, 5))
            out.attention = np.repeat(cells[:, None], self.info["layers"], axis=1).astype(np.float32)
        return out
