"""The embedding cache's own contract, read from its files: the key's recipe, where packs go, the
pack format (strict JSON index, float32 embeddings, bounds and CRC of each entry), when pending
entries are written, and its counters. The engine's tests cover what a rerun gets back; these pin
what another reader of the folder, or a later clipshift, relies on."""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from pytest_clipshift.core.measure import cache as cache_module
from pytest_clipshift.core.measure.cache import MAGIC, EmbeddingCache

FP = "0123456789abcdef0123"  # a model fingerprint longer than the folder's 16 characters


def read_pack(path: Path) -> tuple[dict, bytes]:
    data = path.read_bytes()
    assert data.startswith(MAGIC)
    (length,) = struct.unpack("<Q", data[len(MAGIC) : len(MAGIC) + 8])
    header = data[len(MAGIC) + 8 : len(MAGIC) + 8 + length].decode()

    def no_constants(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(header, parse_constant=no_constants), data[len(MAGIC) + 8 + length :]


def test_the_key_is_the_sha256_of_the_sorted_json_of_its_parts():
    parts = ("fp", "hash", "gaussian_noise", {"std": (0.1, 0.2), "a": 1}, "3", 0, Path("prep"), np.int64(5))
    expected = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:40]
    assert EmbeddingCache.key(*parts) == expected and len(expected) == 40
    reordered = ("fp", "hash", "gaussian_noise", {"a": 1, "std": (0.1, 0.2)}, "3", 0, Path("prep"), np.int64(5))
    assert EmbeddingCache.key(*reordered) == expected  # a dict's order is not part of the key


def test_a_pack_holds_strict_json_float32_embeddings_and_a_crc_for_each(tmp_path):
    cache = EmbeddingCache(tmp_path, flush_seconds=float("inf"))
    cache.put(FP, "k1", np.arange(4, dtype=np.float64).reshape(1, 4), {"cosine": 0.25, "undefined": float("nan")})
    cache.put(FP, "k2", np.full(3, 7.0), {})
    assert list(tmp_path.rglob("pack-*.bin")) == []  # pending until flushed
    cache.flush()
    (pack,) = tmp_path.rglob("pack-*.bin")
    assert pack.parent == tmp_path / FP[:16]
    index, blob = read_pack(pack)  # NaN written as null: the index is JSON any reader parses
    first = np.arange(4, dtype=np.float32).tobytes()
    assert index == {
        "k1": {"o": 0, "n": 4, "v": {"cosine": 0.25, "undefined": None}, "c": zlib.crc32(first)},
        "k2": {"o": 16, "n": 3, "v": {}, "c": zlib.crc32(np.full(3, 7.0, np.float32).tobytes())},
    }
    assert blob == first + np.full(3, 7.0, np.float32).tobytes()
    assert (cache.writes, cache.packs_written) == (2, 1)
    cache.put(FP, "k3", np.ones(2), {})
    cache.flush()
    assert (cache.writes, cache.packs_written) == (3, 2)
    embedding, values = EmbeddingCache(tmp_path).get(FP, "k1")
    assert embedding.dtype == np.float32 and embedding.tolist() == [0, 1, 2, 3]
    assert values["cosine"] == 0.25 and np.isnan(values["undefined"])


def test_an_entry_past_the_end_or_with_a_bad_field_is_a_miss_and_its_neighbours_are_not(tmp_path):
    folder = tmp_path / FP[:16]
    folder.mkdir()
    good = np.ones(2, np.float32).tobytes()
    index = {
        "good": {"o": 0, "n": 2, "v": {}, "c": zlib.crc32(good)},
        # 4 + 8 bytes > the 8 there are; the CRC is that of the 4 bytes a slice would give
        "past_the_end": {"o": 4, "n": 2, "v": {}, "c": zlib.crc32(good[4:])},
        "values_not_a_dict": {"o": 0, "n": 2, "v": [], "c": zlib.crc32(good)},
        "crc_not_a_number": {"o": 0, "n": 2, "v": {}, "c": "x"},
        "negative_offset": {"o": -4, "n": 1, "v": {}, "c": zlib.crc32(b"")},  # the empty slice's CRC
    }
    header = json.dumps(index).encode()
    (folder / "pack-0.bin").write_bytes(MAGIC + struct.pack("<Q", len(header)) + header + good)
    cache = EmbeddingCache(tmp_path)
    assert cache.get(FP, "good")[0].tolist() == [1.0, 1.0]
    for key in ("past_the_end", "values_not_a_dict", "crc_not_a_number", "negative_offset"):
        assert cache.get(FP, key) is None, key


def test_pending_entries_are_written_at_the_count_or_the_age_set(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_module, "FLUSH_EVERY", 3)
    now = [1000.0]
    monkeypatch.setattr(cache_module.time, "monotonic", lambda: now[0])
    by_count = EmbeddingCache(tmp_path / "count", flush_seconds=60)
    for i in range(2):
        by_count.put(FP, f"k{i}", np.ones(2), {})
    assert by_count.packs_written == 0  # two of three
    by_count.put(FP, "k2", np.ones(2), {})
    assert by_count.packs_written == 1  # the third: written
    by_age = EmbeddingCache(tmp_path / "age", flush_seconds=60)
    now[0] += 59.5
    by_age.put(FP, "a", np.ones(2), {})
    assert by_age.packs_written == 0
    now[0] += 0.5  # exactly the age set
    by_age.put(FP, "b", np.ones(2), {})
    assert by_age.packs_written == 1


def test_the_flush_age_comes_from_the_argument_then_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CLIPSHIFT_CACHE_FLUSH_SECONDS", "7.5")
    assert EmbeddingCache(tmp_path).flush_seconds == 7.5
    assert EmbeddingCache(tmp_path, flush_seconds=2).flush_seconds == 2
    assert EmbeddingCache(tmp_path, flush_seconds=0).flush_seconds == 0  # 0 is an answer, not a default
    monkeypatch.delenv("CLIPSHIFT_CACHE_FLUSH_SECONDS")
    assert EmbeddingCache(tmp_path).flush_seconds == cache_module.FLUSH_SECONDS == 30.0
    fresh = EmbeddingCache(tmp_path)
    assert (fresh.hits, fresh.misses, fresh.writes, fresh.packs_written, fresh.problem) == (0, 0, 0, 0, None)


@pytest.mark.parametrize("bad", [float("inf"), float("nan")])
def test_a_non_finite_embedding_read_back_is_a_miss(tmp_path, bad):
    cache = EmbeddingCache(tmp_path)
    cache.put(FP, "k", np.array([1.0, bad]), {})
    cache.flush()
    assert EmbeddingCache(tmp_path).get(FP, "k") is None
