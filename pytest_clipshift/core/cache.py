"""An on-disk cache of per-image measurements.

One entry per (model fingerprint, image hash, augmentation, its parameters, severity, seed,
preprocessing, metric set). An entry holds the augmented embedding and every metric value for that
image, so a rerun with nothing changed skips augmenting and the model entirely. Writes go to a
temporary file that is renamed into place (atomic on POSIX and Windows), so concurrent workers never
read a torn entry; an unreadable or malformed entry is a miss, never an error, and a cache that
cannot be written is switched off with one warning.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np


class EmbeddingCache:
    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.hits = 0
        self.misses = 0
        self.writes = 0
        self.problem: str | None = None  # set when the cache cannot be written: it is then off

    @staticmethod
    def key(*parts) -> str:
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:40]

    def _path(self, fingerprint: str, key: str) -> Path:
        return self.directory / fingerprint[:16] / key[:2] / f"{key}.npz"

    def get(self, fingerprint: str, key: str, metrics=(), dim: int | None = None) -> tuple[np.ndarray, dict[str, float]] | None:
        """The entry, or None (a miss) when it is absent, unreadable or not what an entry must be: a
        1-d finite float embedding (of ``dim`` values when given) and a number or null for each of
        ``metrics``."""
        if self.problem is not None:
            return None
        try:
            with np.load(self._path(fingerprint, key), allow_pickle=False) as data:
                embedding = np.asarray(data["embedding"])
                values = json.loads(bytes(np.asarray(data["values"], dtype=np.uint8)).decode())
            valid = (embedding.ndim == 1 and embedding.dtype.kind == "f" and np.isfinite(embedding).all()
                     and (dim is None or embedding.shape[0] == dim) and isinstance(values, dict)
                     and all(k in values for k in metrics)
                     and all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values.values()))
        except (OSError, KeyError, ValueError, TypeError, EOFError, zipfile.BadZipFile, UnicodeDecodeError):
            valid = False
        if not valid:
            self.misses += 1
            return None
        self.hits += 1
        return embedding.astype(np.float32), {k: (float("nan") if v is None else v) for k, v in values.items()}

    def put(self, fingerprint: str, key: str, embedding: np.ndarray, values: dict[str, float]) -> None:
        """Store an entry atomically. A cache that cannot be written (read-only, a file in the way, a
        full disk) is switched off with ``problem`` saying why: the run goes on without it."""
        if self.problem is not None:
            return
        path = self._path(fingerprint, key)
        clean = {k: (None if v != v else float(v)) for k, v in values.items()}  # NaN -> null
        buf = io.BytesIO()
        np.savez(buf, embedding=np.asarray(embedding, np.float32),
                 values=np.frombuffer(json.dumps(clean).encode(), dtype=np.uint8))
        from .jsonfile import OutputError, write_bytes_atomic

        try:
            write_bytes_atomic(path, buf.getvalue(), what="embedding cache entry")
        except OutputError as exc:
            self.problem = (f"the embedding cache {self.directory} cannot be written ({exc}); "
                            "this run goes on without the cache (--clipshift-cache-dir picks another folder)")
        if self.problem is None:
            self.writes += 1
