"""An on-disk cache of per-image measurements.

One entry per (model fingerprint, image hash, augmentation, its parameters, severity, seed,
preprocessing, metric set). An entry holds the augmented embedding and every metric value for that
image, so a rerun with nothing changed skips augmenting and the model entirely. Writes go to a
temporary file that is renamed into place (atomic on POSIX and Windows), so concurrent workers never
read a torn entry; an unreadable entry is a miss, never an error.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np


class EmbeddingCache:
    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.hits = 0
        self.misses = 0
        self.writes = 0

    @staticmethod
    def key(*parts) -> str:
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:40]

    def _path(self, fingerprint: str, key: str) -> Path:
        return self.directory / fingerprint[:16] / key[:2] / f"{key}.npz"

    def get(self, fingerprint: str, key: str) -> tuple[np.ndarray, dict[str, float]] | None:
        path = self._path(fingerprint, key)
        try:
            with np.load(path, allow_pickle=False) as data:
                embedding = data["embedding"].astype(np.float32)
                values = json.loads(bytes(data["values"]).decode())
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
            self.misses += 1
            return None
        self.hits += 1
        return embedding, {k: (float("nan") if v is None else v) for k, v in values.items()}

    def put(self, fingerprint: str, key: str, embedding: np.ndarray, values: dict[str, float]) -> None:
        path = self._path(fingerprint, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        clean = {k: (None if v != v else float(v)) for k, v in values.items()}  # NaN -> null
        buf = io.BytesIO()
        np.savez(buf, embedding=np.asarray(embedding, np.float32),
                 values=np.frombuffer(json.dumps(clean).encode(), dtype=np.uint8))
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(buf.getvalue())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.writes += 1
