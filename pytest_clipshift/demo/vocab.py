"""A tiny word-level vocabulary written in CLIP's BPE layout, so ``CLIPTokenizer`` loads it offline.

``vocab.json`` follows CLIP's order: the 256 byte-level base characters, the same with the ``</w>``
end-of-word marker, the merge results, then ``<|startoftext|>`` and ``<|endoftext|>``.
``merges.txt`` comes from a greedy BPE over the caption words, run until every word is a single
``word</w>`` token (hand-written per-word merge chains clash across words, so they are learnt).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path


def bytes_to_unicode() -> dict[int, str]:
    """CLIP's (GPT-2's) reversible byte -> printable-unicode table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def learn_merges(words: list[str]) -> list[tuple[str, str]]:
    """Greedy BPE: merge the most frequent adjacent pair until each word is one token."""
    pieces = {w: tuple(w[:-1]) + (w[-1] + "</w>",) for w in words}
    merges: list[tuple[str, str]] = []
    while any(len(p) > 1 for p in pieces.values()):
        counts: Counter[tuple[str, str]] = Counter()
        for p in pieces.values():
            for pair in zip(p, p[1:]):
                counts[pair] += 1
        # ties broken by the pair itself so the result never depends on dict order
        best = max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        for w, p in pieces.items():
            out, i = [], 0
            while i < len(p):
                if i + 1 < len(p) and (p[i], p[i + 1]) == best:
                    out.append(p[i] + p[i + 1])
                    i += 2
                else:
                    out.append(p[i])
                    i += 1
            pieces[w] = tuple(out)
    return merges


def write_clip_vocabulary(words: list[str], directory: Path) -> dict[str, int]:
    """Write ``vocab.json`` and ``merges.txt`` into ``directory``; return the vocabulary."""
    base = list(bytes_to_unicode().values())
    tokens = base + [b + "</w>" for b in base]
    merges = learn_merges(sorted(set(words)))
    for a, b in merges:
        merged = a + b
        if merged not in tokens:
            tokens.append(merged)
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(tokens)}
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    lines = ["#version: 0.2"] + [f"{a} {b}" for a, b in merges]
    (directory / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return vocab
