"""An on-disk cache of per-image measurements, packed: a few files per run, memory-mapped on read.

One entry per (model fingerprint, image hash, augmentation, its parameters, severity, seed,
preprocessing, metric set, batch size). An entry holds the augmented embedding and every metric
value for that image, so a rerun with nothing changed skips augmenting and the model entirely.

Entries are collected in memory and written as one **pack** per model and ``flush`` (the engine
flushes at the end of each ``measure``, and every 4,096 entries): ``<fingerprint>/pack-<time>-<id>.bin`` =
a magic line, the length of a JSON index (key -> offset, length, values, CRC-32), the index, then
the float32 embeddings back to back. A pack is written to a temporary file and renamed into place
(``jsonfile.write_bytes_atomic``), so a reader never sees half of one; on read its embeddings are
memory-mapped, not loaded. A torn pack, a bad index or an entry whose bytes fail their CRC is a miss,
never an error. A cache that cannot be written is switched off with one warning.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import time
import uuid
import zlib
from pathlib import Path

import numpy as np

MAGIC = b"clipshift-pack/1\n"
FLUSH_EVERY = 4096
FLUSH_SECONDS = 30.0
"""Pending entries are written at least this often: a run that crashes loses at most this much work,
the rest is read back on the rerun (a shard restarted by its scheduler resumes)."""


class EmbeddingCache:
    def __init__(self, directory: str | os.PathLike, flush_seconds: float | None = None):
        self.directory = Path(directory)
        # CLIPSHIFT_CACHE_FLUSH_SECONDS: how much work a crash may lose (0: every entry written at once)
        env = os.environ.get("CLIPSHIFT_CACHE_FLUSH_SECONDS")
        self.flush_seconds = flush_seconds if flush_seconds is not None else float(env or FLUSH_SECONDS)
        self._flushed_at = time.monotonic()
        self.hits = 0
        self.misses = 0
        self.writes = 0  # entries written
        self.packs_written = 0
        self.problem: str | None = None  # set when the cache cannot be written: it is then off
        self._pending: dict[str, dict[str, tuple[np.ndarray, dict]]] = {}
        self._index: dict[str, dict[str, tuple[np.memmap, dict]]] = {}  # folder -> key -> (embedding view, entry)

    @staticmethod
    def key(*parts) -> str:
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:40]

    def _folder(self, fingerprint: str) -> Path:
        return self.directory / fingerprint[:16]

    # ------------------------------------------------------------------ reading
    def _packs(self, fingerprint: str) -> dict[str, tuple[np.memmap, dict]]:
        folder = str(self._folder(fingerprint))
        if folder not in self._index:
            index: dict[str, tuple[np.memmap, dict]] = {}
            for pack in sorted(Path(folder).glob("pack-*.bin")) if Path(folder).is_dir() else []:
                index.update(_read_pack(pack))
            self._index[folder] = index
        return self._index[folder]

    def get(
        self, fingerprint: str, key: str, metrics=(), dim: int | None = None
    ) -> tuple[np.ndarray, dict[str, float]] | None:
        """The entry, or None (a miss) when it is absent, unreadable or not what an entry must be: a
        1-d finite float embedding (of ``dim`` values when given) and a number or null for each of
        ``metrics``."""
        if self.problem is not None:
            return None
        found = self._pending.get(fingerprint, {}).get(key)
        if found is None:
            packed = self._packs(fingerprint).get(key)
            if packed is not None:
                view, entry = packed
                try:
                    embedding = np.array(view, dtype=np.float32)
                    found = (embedding, entry["v"]) if zlib.crc32(embedding.tobytes()) == entry["c"] else None
                except (OSError, ValueError):
                    found = None
        if found is None or not _valid(found[0], found[1], metrics, dim):
            self.misses += 1
            return None
        self.hits += 1
        embedding, values = found
        return np.asarray(embedding, np.float32), {k: (float("nan") if v is None else v) for k, v in values.items()}

    # ------------------------------------------------------------------ writing
    def put(self, fingerprint: str, key: str, embedding: np.ndarray, values: dict[str, float]) -> None:
        """Keep an entry for the next ``flush`` (readable at once from this cache object)."""
        if self.problem is not None:
            return
        clean = {k: (None if v != v else float(v)) for k, v in values.items()}  # NaN -> null
        self._pending.setdefault(fingerprint, {})[key] = (
            np.ascontiguousarray(embedding, dtype=np.float32).reshape(-1),
            clean,
        )
        if sum(len(p) for p in self._pending.values()) >= FLUSH_EVERY or (
            time.monotonic() - self._flushed_at >= self.flush_seconds
        ):
            self.flush()

    def flush(self) -> None:
        """Write every pending entry: one pack per model fingerprint, atomically. A cache that cannot
        be written (read-only, a file in the way, a full disk) is switched off with ``problem``."""
        from ..runs.jsonfile import OutputError, write_bytes_atomic

        pending, self._pending, self._flushed_at = self._pending, {}, time.monotonic()
        for fingerprint, entries in pending.items():
            if self.problem is not None or not entries:
                continue
            index, blobs, offset = {}, [], 0
            for key, (embedding, values) in entries.items():
                raw = embedding.tobytes()
                index[key] = {"o": offset, "n": int(embedding.shape[0]), "v": values, "c": zlib.crc32(raw)}
                blobs.append(raw)
                offset += len(raw)
            header = json.dumps(index, separators=(",", ":")).encode()
            data = MAGIC + struct.pack("<Q", len(header)) + header + b"".join(blobs)
            # named in write order (packs are read sorted, a later entry replacing an earlier one of its
            # key); the uuid keeps names unique across processes
            path = self._folder(fingerprint) / f"pack-{time.time_ns():020d}-{uuid.uuid4().hex}.bin"
            try:
                write_bytes_atomic(path, data, exclusive=True, what="embedding cache pack")
            except (OutputError, FileExistsError) as exc:
                self.problem = (
                    f"the embedding cache {self.directory} cannot be written ({exc}); "
                    "this run goes on without the cache (--clipshift-cache-dir picks another folder)"
                )
                continue
            self.writes += len(entries)
            self.packs_written += 1
            folder = str(self._folder(fingerprint))
            if folder in self._index:
                self._index[folder].update(_read_pack(path))


def _read_pack(path: Path) -> dict[str, tuple[np.memmap, dict]]:
    """A pack's entries as memory-mapped embedding views; a torn or malformed pack gives none."""
    try:
        with open(path, "rb") as fh:
            if fh.read(len(MAGIC)) != MAGIC:
                return {}
            (length,) = struct.unpack("<Q", fh.read(8))
            index = json.loads(fh.read(length).decode())
        start = len(MAGIC) + 8 + length
        size = path.stat().st_size - start
        if not isinstance(index, dict) or size < 0:
            return {}
        blob = np.memmap(path, dtype=np.uint8, mode="r", offset=start, shape=(size,)) if size else np.zeros(0, np.uint8)
        out = {}
        for key, entry in index.items():
            o, n = int(entry["o"]), int(entry["n"])
            if o < 0 or o + 4 * n > size or not isinstance(entry.get("v"), dict) or not isinstance(entry.get("c"), int):
                continue  # an entry past the end of a torn pack: a miss
            out[key] = (blob[o : o + 4 * n].view(np.float32), entry)
        return out
    except (OSError, ValueError, KeyError, TypeError, struct.error, UnicodeDecodeError):
        return {}


def _valid(embedding, values, metrics, dim) -> bool:
    embedding = np.asarray(embedding)
    return (
        embedding.ndim == 1
        and embedding.dtype.kind == "f"
        and bool(np.isfinite(embedding).all())
        and (dim is None or embedding.shape[0] == dim)
        and isinstance(values, dict)
        and all(k in values for k in metrics)
        and all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values.values())
    )
