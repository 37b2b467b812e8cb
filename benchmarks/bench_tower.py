"""What reading inside the tower costs: the engine on the demo model with the default metrics, and
with each tower family added (per-head maps, sinks, direct contributions, the logit lens), same images.

    python benchmarks/bench_tower.py [--images 32] [--out benchmarks/results/tower_cpu.json]

32 demo scenes x 3 augmentations at severity 3, no cache, medians of 3 after a warm-up, alternated.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

VARIANTS = {
    "default metrics": [],
    "+ per-head maps": ["head_attention_correlation"],
    "+ sinks": ["sink_count_change", "sink_attention_share_change", "attention_correlation_nosink"],
    "+ direct contributions": ["direct_effect_shift"],
    "+ logit lens": ["answer_layer_shift"],
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "tower_cpu.json")
    args = parser.parse_args(argv)
    import torch

    from pytest_clipshift import DEFAULT_METRICS, load_encoder, load_image_set, measure
    from pytest_clipshift.core.models.textalign import text_spec_for

    encoder = load_encoder("demo", device="cpu")
    images = load_image_set("demo-scenes", max_images=args.images, seed=0)
    augs = ["gaussian_noise", "gaussian_blur", "horizontal_flip"]
    runs = {name: [] for name in VARIANTS}
    for extra in VARIANTS.values():  # warm-up
        metrics = [*DEFAULT_METRICS, *extra]
        measure(encoder, images.subset(max_images=2), augs[:1], metrics=metrics, text=text_spec_for(metrics, images))
    for _ in range(3):
        for name, extra in VARIANTS.items():
            metrics = [*DEFAULT_METRICS, *extra]
            start = time.perf_counter()
            measure(encoder, images, augs, metrics=metrics, text=text_spec_for(metrics, images))
            runs[name].append(time.perf_counter() - start)
    base = statistics.median(runs["default metrics"])
    rows = [
        {"variant": name, "seconds": statistics.median(t), "over_default": statistics.median(t) / base}
        for name, t in runs.items()
    ]
    for row in rows:
        print(f"{row['variant']:26s} {row['seconds']:7.2f} s  {row['over_default']:.2f}x")
    result = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__},
        "date": time.strftime("%Y-%m-%d"),
        "images": args.images,
        "augmentations": augs,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
