"""The attack's cost on CPU: images per second of adversarial.embedding (PGD, 10 steps, eps 2/255) and of
random-sign noise of the same size, for the demo model and a ViT-B/32-shaped CLIP (random weights).

    python benchmarks/bench_adversarial.py [--images 8] [--out benchmarks/results/adversarial_cpu.json]

Medians of 3 runs after a warm-up; each run measures the case alone (cosine only, no cache), so the
rate includes the clean forward. The ratio to random-sign noise is the attack's price in the same run.
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

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "adversarial_cpu.json")
    args = parser.parse_args(argv)

    import torch
    from bench_engine import vit_b32_dir

    from pytest_clipshift import load_encoder, load_image_set, measure

    images = load_image_set("demo-scenes", max_images=args.images, seed=0)
    models = {
        "demo": "demo",
        "ViT-B/32 shape": vit_b32_dir(Path(tempfile.gettempdir()) / "clipshift-bench-models", False),
    }
    rows = []
    for label, spec in models.items():
        encoder = load_encoder(spec, device="cpu")
        timing = {}
        for case in ("adversarial.random_sign", "adversarial.embedding"):
            measure(encoder, images.subset(max_images=2), [case], severities=[3], metrics=["cosine"])
            runs = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                measure(encoder, images, [case], severities=[3], metrics=["cosine"])
                runs.append(time.perf_counter() - start)
            timing[case] = statistics.median(runs)
        rows.append(
            {
                "model": label,
                "images": args.images,
                "attack_s": timing["adversarial.embedding"],
                "random_sign_s": timing["adversarial.random_sign"],
                "attack_images_per_s": args.images / timing["adversarial.embedding"],
                "attack_over_random_sign": timing["adversarial.embedding"] / timing["adversarial.random_sign"],
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    result = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__},
        "date": time.strftime("%Y-%m-%d"),
        "settings": {"method": "pgd", "steps": 10, "eps": "2/255", "severity": 3},
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
