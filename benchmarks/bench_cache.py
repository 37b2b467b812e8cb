"""The packed cache: a warm rerun against a cold one, on the demo model (the W2 shape).

    python benchmarks/bench_cache.py [--repeats 3] [--out benchmarks/results/cache_cpu.json]

32 demo scenes x (identity + the study's nine), default metrics; each repeat starts from an empty
cache folder (cold) and reruns with a fresh ``EmbeddingCache`` on it (warm). Medians.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "cache_cpu.json")
    args = parser.parse_args(argv)

    from pytest_clipshift import load_encoder, load_image_set, measure
    from pytest_clipshift.core.augment.augmentations import STUDY_AUGMENTATIONS
    from pytest_clipshift.core.measure.cache import EmbeddingCache

    encoder = load_encoder("demo", device="cpu")
    images = load_image_set("demo-scenes", max_images=32)
    augmentations = ["identity", *STUDY_AUGMENTATIONS]
    measure(encoder, images.subset(max_images=2), augmentations[:2])  # warm up imports
    cold, warm, files = [], [], 0
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as folder:
            cache = EmbeddingCache(folder)
            start = time.perf_counter()
            measure(encoder, images, augmentations, cache=cache)
            cold.append(time.perf_counter() - start)
            again = EmbeddingCache(folder)
            start = time.perf_counter()
            measure(encoder, images, augmentations, cache=again)
            warm.append(time.perf_counter() - start)
            if again.hits != len(images) * (len(augmentations) + 1):
                raise SystemExit(f"the warm run missed: {again.hits} hits")
            files = sum(1 for p in Path(folder).rglob("*") if p.is_file())
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0]},
        "cold_s": statistics.median(cold),
        "warm_s": statistics.median(warm),
        "warm_over_cold": statistics.median(warm) / statistics.median(cold),
        "files_in_cache": files,
        "entries": len(images) * (len(augmentations) + 1),
    }
    print(
        f"cold {result['cold_s']:.2f} s, warm {result['warm_s']:.3f} s, warm/cold {result['warm_over_cold']:.3f}, "
        f"{files} file(s) for {result['entries']} entries"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
