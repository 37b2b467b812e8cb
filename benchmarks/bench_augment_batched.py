"""The device augmentation path on CPU torch: image by image against the whole batch in a few tensor
ops (the same draws, the same bytes), for every augmentation with a batched form.

    python benchmarks/bench_augment_batched.py [--batches 64 256] [--out benchmarks/results/augment_batched_cpu.json]

Severity 3, demo scenes at 224 px, the medians of 2 after a warm-up call, alternated.
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

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--out", type=Path, default=HERE / "results" / "augment_batched_cpu.json")
    args = parser.parse_args(argv)
    import torch
    from PIL import Image

    from pytest_clipshift.core.augment.augment_batched import BATCHED
    from pytest_clipshift.core.augment.device_apply import apply_batch
    from pytest_clipshift.core.cases import Case
    from pytest_clipshift.core.data.images import load_image_set

    images = load_image_set("demo-scenes", max_images=max(args.batches), seed=0)
    canvases = np.stack([np.asarray(Image.fromarray(a).resize((224, 224))) for a in images.arrays])
    cpu = torch.device("cpu")
    rows = []
    for size in args.batches:
        batch, seeds = canvases[:size], list(range(size))
        for name in BATCHED:
            case = Case(name, 3)
            apply_batch(case, batch[:2], seeds[:2], cpu, batched=False)
            apply_batch(case, batch[:2], seeds[:2], cpu)
            times = {"per_image": [], "batched": []}
            for _ in range(2):
                for label, batched in (("per_image", False), ("batched", True)):
                    start = time.perf_counter()
                    apply_batch(case, batch, seeds, cpu, batched=batched)
                    times[label].append(time.perf_counter() - start)
            per_image, batched = (1e3 * statistics.median(times[k]) / size for k in ("per_image", "batched"))
            rows.append(
                {
                    "augmentation": name,
                    "batch": size,
                    "per_image_ms": per_image,
                    "batched_ms": batched,
                    "speedup": per_image / batched,
                }
            )
            print(
                f"{name:28s} batch {size:4d}: {per_image:7.2f} -> {batched:7.2f} ms/image ({per_image / batched:.2f}x)",
                flush=True,
            )
    result = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        },
        "date": time.strftime("%Y-%m-%d"),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
