"""W4: many images x (the study's nine + the 19 ImageNet-C corruptions) x 5 severities on the demo
model, on CPU: augmented images per second, and peak memory as the number of images grows.

    python benchmarks/bench_w4.py [--sizes 50 100 200] [--out benchmarks/results/w4_cpu.json]

Each size runs in a fresh process (peak RSS is that process's VmHWM), no cache, seed 0, default
metrics. The projection for ImageNet-val x ImageNet-C (50,000 images x 19 corruptions x 5
severities = 4.75 M augmented forwards) divides by the measured rate; the one for an accelerator
uses the rate measured on an H200 for the demo model (W2 in RESULTS.md), as no accelerator was lent.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

CHILD = r"""
import json, sys, time, resource
from pytest_clipshift import load_encoder, load_image_set, measure
from pytest_clipshift.core.augment.augmentations import expand_names
n = int(sys.argv[1])
encoder = load_encoder("demo", device="cpu")
images = load_image_set(f"demo-scenes:{n}", seed=0)
augs = expand_names(["study", "imagenet-c"])
start = time.perf_counter()
run = measure(encoder, images, augs, severities=[1, 2, 3, 4, 5], seed=0)
seconds = time.perf_counter() - start
with open("/proc/self/status") as fh:
    hwm = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM"))
print(json.dumps({"images": n, "cells": len(run.results), "forwards": n * len(run.results), "seconds": seconds,
                  "peak_rss_mb": hwm / 1024}))
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "w4_cpu.json")
    args = parser.parse_args(argv)
    rows = []
    for n in args.sizes:
        done = subprocess.run([sys.executable, "-c", CHILD, str(n)], capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        row = json.loads(done.stdout.strip().splitlines()[-1])
        row["images_per_s"] = row["forwards"] / row["seconds"]
        rows.append(row)
        print(
            f"{n:5d} images: {row['forwards']} augmented forwards in {row['seconds']:.1f} s "
            f"({row['images_per_s']:.0f}/s), peak RSS {row['peak_rss_mb']:.0f} MB",
            flush=True,
        )
    rate = rows[-1]["images_per_s"]
    imagenet_c = 50_000 * 19 * 5
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0]},
        "rows": rows,
        "projection_imagenet_val_x_imagenet_c_hours_cpu": imagenet_c / rate / 3600,
        "projection_h200_hours_from_w2_rate": imagenet_c / 409 / 3600,
    }
    print(f"ImageNet-val x ImageNet-C: {result['projection_imagenet_val_x_imagenet_c_hours_cpu']:.1f} h on this CPU")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
