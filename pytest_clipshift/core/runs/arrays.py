"""Arrays in JSON: float16, base64 (embeddings in results files and between xdist processes)."""

from __future__ import annotations

import base64

import numpy as np


def encode_array(a: np.ndarray) -> dict:
    a16 = np.ascontiguousarray(a, dtype=np.float16)
    return {"dtype": "float16", "shape": list(a16.shape), "b64": base64.b64encode(a16.tobytes()).decode("ascii")}


def decode_array(d: dict) -> np.ndarray:
    raw = base64.b64decode(d["b64"])
    return np.frombuffer(raw, dtype=np.dtype(d["dtype"])).reshape(d["shape"]).astype(np.float32)
