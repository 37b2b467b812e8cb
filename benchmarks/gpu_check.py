"""GPU checks: the engine on CUDA agrees with the CPU, at fp32 and bf16 (run where a GPU exists).

python benchmarks/gpu_check.py
"""

import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pytest_clipshift import STUDY_AUGMENTATIONS, load_encoder, load_image_set, measure


def main() -> None:
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return
    images = load_image_set("demo-scenes", max_images=16)
    out = {"gpu": torch.cuda.get_device_name(0)}
    runs = {}
    for device, precision in (("cpu", "fp32"), ("cuda", "fp32"), ("cuda", "bf16"), ("cuda", "fp16")):
        enc = load_encoder("demo", device=device, precision=precision)
        runs[(device, precision)] = measure(enc, images, STUDY_AUGMENTATIONS, seed=0)
    ref = runs[("cpu", "fp32")]
    for key, run in runs.items():
        diffs = {}
        for a, b in zip(ref.results, run.results):
            for m in ("cosine", "attention_correlation", "patch_similarity"):
                diffs[m] = max(diffs.get(m, 0.0), float(np.nanmax(np.abs(a.values[m] - b.values[m]))))
        out["/".join(key)] = {
            "max_abs_diff_vs_cpu_fp32": diffs,
            "cosine_means": {r.key: round(r.stat("cosine", "mean"), 4) for r in run.results},
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
