"""Augmentation on the device, timed on CPU torch: ms per image, the CPU reference path (one image
at a time) against the batched torch path, for every augmentation with a device version.

    python benchmarks/bench_augment_device.py [--images 32] [--out benchmarks/results/augment_device_cpu.json]

Severity 3, demo scenes at 224 px, medians of 3 after a warm-up call, the same per-image seeds.
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "augment_device_cpu.json")
    args = parser.parse_args(argv)

    import torch
    from PIL import Image

    from pytest_clipshift.core.augment.augment_torch import TORCH_AUGMENTATIONS
    from pytest_clipshift.core.augment.augmentations import apply_case, augmentation_for, draw_seed
    from pytest_clipshift.core.augment.device_apply import apply_batch
    from pytest_clipshift.core.cases import Case
    from pytest_clipshift.demo.scenes import generate_scenes

    images = np.stack(
        [np.asarray(Image.fromarray(a).resize((224, 224))) for _, a, _ in generate_scenes(args.images, seed=0)]
    )
    keys = [str(i) for i in range(len(images))]
    cpu = torch.device("cpu")
    rows = []
    for name in sorted(TORCH_AUGMENTATIONS):
        case = Case(name, 3)
        aug, level = augmentation_for(case)
        seeds = [draw_seed(0, k, aug.name, level) for k in keys]
        apply_batch(case, images[:2], seeds[:2], cpu)
        apply_case(case, images[0], 0, keys[0])

        def reference():
            for image, key in zip(images, keys):
                apply_case(case, image, 0, key)

        def device():
            apply_batch(case, images, seeds, cpu)

        timings = {}
        for label, fn in (("reference", reference), ("torch_cpu", device)):
            runs = []
            for _ in range(3):
                start = time.perf_counter()
                fn()
                runs.append(time.perf_counter() - start)
            timings[label] = statistics.median(runs) * 1000 / len(images)
        rows.append({"augmentation": name, "reference_ms": timings["reference"], "torch_cpu_ms": timings["torch_cpu"]})
        print(f"{name:28s} reference {timings['reference']:6.2f} ms/img   torch-cpu {timings['torch_cpu']:6.2f} ms/img")
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "torch": torch.__version__,
        },
        "images": len(images),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
