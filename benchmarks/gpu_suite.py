"""The accelerator suite: what a CPU cannot measure, one part at a time (``gpu_suite.sh`` runs every
part with its own time limit, so one that fails or overruns leaves the others' JSON).

    python benchmarks/gpu_suite.py PART --out DIR [--device cuda] [--tiny]

Parts (each writes DIR/PART.json, with the machine and versions):
  engine     W1 (32 images x the study's nine x s3, ViT-B/32 shape, random weights) and W3 (W1 x 5
             severities): cold (empty cache), warm (cache filled) and the model's floor (one batched
             forward with attention over the already-made canvases), for augmenting on the device and
             on the CPU path, at fp32 and bf16, batch 32 and 256
  augment    milliseconds per image of every augmentation with a device version, at severity 3:
             the batched torch path on the device against the CPU reference path
  ceiling    the engine with a model that costs nothing (null_encoder.py): augmented images per
             second of the CPU path and of the device path, the number that says whether augmenting
             can keep the accelerator busy
  check      gpu_check.py: the engine on the device agrees with the CPU (fp32, bf16, fp16)
  w4lite     200 images x 28 augmentations x 5 severities on the demo model: the rate behind the
             ImageNet-val x ImageNet-C projection (50,000 x 19 x 5 forwards)
  profile    where one W1 cold run's time goes: cProfile's 25 largest cumulative entries
``--tiny``: a tiny model, 4 images, 2 augmentations, 1 repeat (the CPU smoke run the tests use).
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

import numpy as np  # noqa: E402

IMAGENET_C_FORWARDS = 50_000 * 19 * 5


def machine(device: str) -> dict:
    import torch
    import transformers

    info = {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "device": device,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.synchronize()


def _median(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _setup(args):
    from bench_engine import vit_b32_dir

    from pytest_clipshift.core.augment.augmentations import STUDY_AUGMENTATIONS
    from pytest_clipshift.core.data.images import load_image_set

    count = 4 if args.tiny else 32
    augs = list(STUDY_AUGMENTATIONS[:2] if args.tiny else STUDY_AUGMENTATIONS)
    images = load_image_set("demo-scenes", max_images=count, seed=0)
    model = vit_b32_dir(Path(tempfile.gettempdir()) / "clipshift-bench-models", args.tiny)
    return images, augs, model


def part_engine(args) -> dict:
    from pytest_clipshift import load_encoder, measure
    from pytest_clipshift.core.measure.cache import EmbeddingCache

    images, augs, model = _setup(args)
    repeats = 1 if args.tiny else 3
    workloads = {"W1": [3], "W3": [1, 2, 3, 4, 5]}
    precisions = ["fp32"] if args.tiny or not args.device.startswith("cuda") else ["fp32", "bf16"]
    rows = []
    for precision in precisions:
        encoder = load_encoder(model, device=args.device, precision=precision)
        for workload, severities in workloads.items():
            for batch in [32] if args.tiny else [32, 256]:
                for augment_device in ("cuda", "cpu") if args.device.startswith("cuda") else ("cpu",):
                    with tempfile.TemporaryDirectory() as cache_dir:

                        def cold(cache_dir=cache_dir):
                            for stale in Path(cache_dir).glob("*"):
                                import shutil

                                shutil.rmtree(stale)
                            run = measure(
                                encoder,
                                images,
                                augs,
                                severities=severities,
                                batch_size=batch,
                                cache=EmbeddingCache(cache_dir),
                                augment_device=augment_device,
                            )
                            _sync(args.device)
                            return run

                        measure(encoder, images, augs[:1], severities=[1], batch_size=batch)  # warm-up
                        cold_s = _median(cold, repeats)
                        warm_s = _median(
                            lambda cache_dir=cache_dir: measure(
                                encoder,
                                images,
                                augs,
                                severities=severities,
                                batch_size=batch,
                                cache=EmbeddingCache(cache_dir),
                                augment_device=augment_device,
                            ),
                            repeats,
                        )
                    floor_s = _floor(encoder, images, augs, severities, batch, args.device, repeats)
                    forwards = len(images) * (1 + len(augs) * len(severities))
                    rows.append(
                        {
                            "workload": workload,
                            "precision": precision,
                            "batch": batch,
                            "augment_device": augment_device,
                            "cold_s": cold_s,
                            "warm_s": warm_s,
                            "floor_s": floor_s,
                            "cold_over_floor": cold_s / floor_s,
                            "warm_over_cold": warm_s / cold_s,
                            "images_per_s_cold": forwards / cold_s,
                        }
                    )
                    print(json.dumps(rows[-1]), flush=True)
    targets = {"W1 cold/floor": 1.5, "W3 cold/floor": 1.3, "warm/cold": 0.05}
    return {"rows": rows, "targets": targets}


def _floor(encoder, images, augs, severities, batch: int, device: str, repeats: int) -> float:
    """The model's own cost: one batched forward with attention over every canvas, made beforehand."""
    from pytest_clipshift.core.augment.augmentations import apply_augmentation

    clean = [encoder.to_canvas(a) for a in images.arrays]
    canvases = clean + [
        apply_augmentation(a, c, s, 0, h).image for a in augs for s in severities for c, h in zip(clean, images.hashes)
    ]
    stack = np.stack(canvases)

    def forward():
        for start in range(0, len(stack), batch):
            encoder.encode(stack[start : start + batch], attention=True)
        _sync(device)

    forward()
    return _median(forward, repeats)


def part_augment(args) -> dict:
    import torch

    from pytest_clipshift.core.augment.augment_torch import TORCH_AUGMENTATIONS
    from pytest_clipshift.core.augment.augmentations import apply_case, augmentation_for, draw_seed
    from pytest_clipshift.core.augment.device_apply import apply_batch
    from pytest_clipshift.core.cases import Case
    from pytest_clipshift.core.data.images import load_image_set

    count = 4 if args.tiny else 64
    images = load_image_set("demo-scenes", max_images=count, seed=0)
    canvases = np.stack([np.asarray(_resize(a, 224)) for a in images.arrays])
    device = torch.device(args.device)
    rows = []
    for name in sorted(TORCH_AUGMENTATIONS)[: 3 if args.tiny else None]:
        case = Case(name, 3)
        aug, level = augmentation_for(case)
        seeds = [draw_seed(0, h, aug.name, level) for h in images.hashes]
        apply_batch(case, canvases[:2], seeds[:2], device)
        device_s = _median(lambda: (apply_batch(case, canvases, seeds, device), _sync(args.device)), 3)
        cpu_s = _median(
            lambda: [apply_case(case, c, 0, h) for c, h in zip(canvases, images.hashes)], 1 if args.tiny else 3
        )
        rows.append(
            {
                "augmentation": name,
                "device_ms_per_image": 1e3 * device_s / count,
                "cpu_ms_per_image": 1e3 * cpu_s / count,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return {"images": count, "rows": rows}


def _resize(image, size: int):
    from PIL import Image

    return Image.fromarray(image).resize((size, size), Image.Resampling.BICUBIC)


def part_ceiling(args) -> dict:
    from null_encoder import NullEncoder

    from pytest_clipshift import measure
    from pytest_clipshift.core.augment.augmentations import STUDY_AUGMENTATIONS
    from pytest_clipshift.core.data.images import load_image_set

    count = 8 if args.tiny else 128
    images = load_image_set("demo-scenes", max_images=count, seed=0)
    augs = list(STUDY_AUGMENTATIONS)
    rows = []
    devices = ["cpu"] + (["torch-cpu"] if args.tiny or not args.device.startswith("cuda") else ["cuda"])
    for path in devices:
        augment_device = {"cpu": None, "torch-cpu": "torch-cpu", "cuda": "cuda"}[path]
        if augment_device == "torch-cpu":
            import torch

            augment_device = torch.device("cpu")
        encoder = NullEncoder()
        measure(encoder, images.subset(max_images=2), augs[:1], augment_device=augment_device)
        start = time.perf_counter()
        run = measure(encoder, images, augs, augment_device=augment_device)
        seconds = time.perf_counter() - start
        forwards = count * len(run.results)
        rows.append({"path": path, "images_per_s": forwards / seconds, "seconds": seconds, "cores": os.cpu_count()})
        print(json.dumps(rows[-1]), flush=True)
    return {"images": count, "augmentations": len(augs), "rows": rows}


def part_check(args) -> dict:
    import subprocess

    done = subprocess.run([sys.executable, str(HERE / "gpu_check.py")], capture_output=True, text=True, timeout=600)
    return {"returncode": done.returncode, "stdout": done.stdout[-20_000:], "stderr": done.stderr[-5_000:]}


def part_w4lite(args) -> dict:
    from pytest_clipshift import load_encoder, measure
    from pytest_clipshift.core.augment.augmentations import expand_names
    from pytest_clipshift.core.data.images import load_image_set

    count = 4 if args.tiny else 200
    augs = expand_names(["study", "imagenet-c"])[: 3 if args.tiny else None]
    severities = [1, 2] if args.tiny else [1, 2, 3, 4, 5]
    encoder = load_encoder("demo", device=args.device)
    images = load_image_set(f"demo-scenes:{count}", seed=0)
    augment_device = args.device if args.device.startswith("cuda") else None
    start = time.perf_counter()
    run = measure(encoder, images, augs, severities=severities, augment_device=augment_device)
    _sync(args.device)
    seconds = time.perf_counter() - start
    forwards = count * len(run.results)
    rate = forwards / seconds
    return {
        "images": count,
        "cells": len(run.results),
        "forwards": forwards,
        "seconds": seconds,
        "images_per_s": rate,
        "imagenet_val_x_c_projection_h": IMAGENET_C_FORWARDS / rate / 3600,
    }


def part_profile(args) -> dict:
    import cProfile
    import io
    import pstats

    from pytest_clipshift import load_encoder, measure

    images, augs, model = _setup(args)
    encoder = load_encoder(model, device=args.device)
    measure(encoder, images, augs[:1], severities=[1])
    profiler = cProfile.Profile()
    profiler.enable()
    measure(encoder, images, augs, augment_device=args.device if args.device.startswith("cuda") else None)
    _sync(args.device)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
    return {"top_cumulative": text.getvalue()[-20_000:]}


PARTS = {
    "engine": part_engine,
    "augment": part_augment,
    "ceiling": part_ceiling,
    "check": part_check,
    "w4lite": part_w4lite,
    "profile": part_profile,
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=sorted(PARTS))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = {"part": args.part, "machine": machine(args.device), "tiny": args.tiny, **PARTS[args.part](args)}
    result["part_seconds"] = round(time.perf_counter() - started, 2)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.part}.json").write_text(json.dumps(result, indent=1))
    print(f"{args.part}: written to {args.out / (args.part + '.json')} in {result['part_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
