"""Benchmark: the study's reference approach vs clipshift's engine vs the model's own floor.

    python benchmarks/bench_engine.py                     # W1, W2, W3 on this machine's CPU
    python benchmarks/bench_engine.py --device cuda       # plus images/s at fp32 and bf16
    python benchmarks/bench_engine.py --tiny              # a seconds-long smoke run (used by the tests)

Variants, run alternately in one process on the same inputs, medians over --repeats:
  reference    one image at a time through transformers' CLIPProcessor and get_image_features, a
               second per-image forward (eager) for the attention map, pixel metrics per image, the
               clean image re-encoded for every augmentation, no caching (the study's code path)
  engine-cold  pytest_clipshift.core.measure.engine.measure with an empty cache
  engine-warm  the same call again, cache filled
  floor        one batched forward with attentions over all already-preprocessed clean and
               augmented inputs: the model cost no tool can avoid
Workloads: W1 = 32 images x 9 augmentations x 1 severity, embedding + attention + pixel metrics,
ViT-B/32 architecture (transformers' default CLIP config, random weights, seed 0: the real
checkpoint's cost), fp32; W2 = W1 on the demo model; W3 = W1 with 5 severities.
Writes a table to stdout and JSON to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from pytest_clipshift.core.augment.augmentations import STUDY_AUGMENTATIONS, apply_augmentation  # noqa: E402
from pytest_clipshift.core.data.images import load_image_set  # noqa: E402
from pytest_clipshift.core.measure.cache import EmbeddingCache  # noqa: E402
from pytest_clipshift.core.measure.engine import measure  # noqa: E402
from pytest_clipshift.core.metrics import DEFAULT_METRICS  # noqa: E402
from pytest_clipshift.core.models.encoders import DEMO_MODEL_DIR  # noqa: E402


def vit_b32_dir(root: Path, tiny: bool) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    out = root / ("tiny" if tiny else "vit-b32")
    if (out / "config.json").exists():
        return out
    torch.manual_seed(0)
    if tiny:
        cfg = CLIPConfig(
            text_config=dict(
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=1,
                num_attention_heads=2,
                vocab_size=100,
                max_position_embeddings=16,
                eos_token_id=2,
                bos_token_id=1,
                pad_token_id=2,
            ),
            vision_config=dict(
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=2,
                image_size=32,
                patch_size=8,
            ),
            projection_dim=16,
        )
        size = 32
    else:
        cfg = CLIPConfig()  # ViT-B/32: 12 layers, 12 heads, 224 px, patch 32, 512-d projection
        size = 224
    CLIPModel(cfg).save_pretrained(out)
    CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size}).save_pretrained(out)
    return out


# ----------------------------------------------------------------------------- variants
def run_reference(model_dir: Path, images, pairs, device: str, seed: int) -> None:
    """The study's approach, faithfully: per image, per augmentation, per metric."""
    import torch
    from PIL import Image

    from pytest_clipshift.core import metrics as M

    state = _reference_models(model_dir, device)
    model, eager, processor = state
    size = processor.crop_size["height"]

    def embed(img):
        inputs = processor(images=Image.fromarray(img), return_tensors="pt").to(device)
        with torch.no_grad():
            out = model.get_image_features(**inputs)
        return (out if torch.is_tensor(out) else out.pooler_output)[0].float().cpu().numpy()

    def attention(img):
        inputs = processor(images=Image.fromarray(img), return_tensors="pt").to(device)
        with torch.no_grad():
            out = eager.vision_model(**inputs, output_attentions=True)
        a = out.attentions[-1][0].float().mean(0)[0, 1:].cpu().numpy()
        g = int(round(len(a) ** 0.5))
        return a.reshape(g, g)

    for i, image in enumerate(images.arrays):
        squashed = np.asarray(Image.fromarray(image).resize((size, size)))  # the study squashed to 224
        for name, sev in pairs:
            aug = apply_augmentation(name, squashed, sev, seed, images.hashes[i]).image
            c, a = embed(squashed), embed(aug)  # cosine / L2 loop: clean re-encoded every time
            M.cosine_similarity(c[None], a[None]), M.l2_distance(c[None], a[None])
            ma, mb = attention(squashed), attention(aug)  # attention loop: another forward each
            M.attention_inverse_mse(ma, mb), M.attention_correlation(ma, mb)
            M.patch_similarity(squashed[None], aug[None]), M.edge_preservation(squashed[None], aug[None])
            M.detail_preservation(squashed[None], aug[None])


_REFERENCE_CACHE: dict = {}


def _reference_models(model_dir, device):
    if (model_dir, device) not in _REFERENCE_CACHE:
        from transformers import CLIPImageProcessor, CLIPModel

        model = CLIPModel.from_pretrained(model_dir).to(device).eval()
        eager = CLIPModel.from_pretrained(model_dir, attn_implementation="eager").to(device).eval()
        _REFERENCE_CACHE[(model_dir, device)] = (model, eager, CLIPImageProcessor.from_pretrained(model_dir))
    return _REFERENCE_CACHE[(model_dir, device)]


def prepare_floor(encoder, images, pairs, seed):
    canv = [encoder.to_canvas(a) for a in images.arrays]
    batch = list(canv)
    for i, c in enumerate(canv):
        for name, sev in pairs:
            batch.append(apply_augmentation(name, c, sev, seed, images.hashes[i]).image)
    return encoder.pixel_values(np.stack(batch))


def run_floor(encoder, pixels, batch_size: int) -> None:
    import torch

    encoder._set_attention_path(True)
    with torch.inference_mode():
        for start in range(0, len(pixels), batch_size):
            encoder.model.get_image_features(pixel_values=pixels[start : start + batch_size], output_attentions=True)
    if pixels.device.type == "cuda":
        torch.cuda.synchronize()


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def bench_workload(name, model_dir, images, pairs, device, precision, repeats, batch_size, seed, with_reference=True):
    from pytest_clipshift import load_encoder

    encoder = load_encoder(model_dir, device=device, precision=precision)
    pixels = prepare_floor(encoder, images, pairs, seed)
    times: dict[str, list[float]] = {v: [] for v in ("reference", "engine-cold", "engine-warm", "floor")}
    if not with_reference:
        times.pop("reference")
    # one untimed warm-up of each path (allocator, kernels, lazy imports)
    measure(encoder, images.subset(max_images=2), pairs[:1], metrics=DEFAULT_METRICS, seed=seed, batch_size=batch_size)
    run_floor(encoder, pixels[:batch_size], batch_size)
    if with_reference:
        run_reference(model_dir, images.subset(max_images=1), pairs[:1], device, seed)
    for _ in range(repeats):
        cache_dir = tempfile.mkdtemp(prefix="clipshift-bench-")
        for variant in list(times):  # alternate the variants inside every repeat
            _sync(device)
            t0 = time.perf_counter()
            if variant == "reference":
                run_reference(model_dir, images, pairs, device, seed)
            elif variant == "engine-cold" or variant == "engine-warm":
                measure(
                    encoder,
                    images,
                    pairs,
                    metrics=DEFAULT_METRICS,
                    seed=seed,
                    batch_size=batch_size,
                    cache=EmbeddingCache(cache_dir),
                )
            else:
                run_floor(encoder, pixels, batch_size)
            _sync(device)
            times[variant].append(time.perf_counter() - t0)
    med = {v: statistics.median(t) for v, t in times.items()}
    n_forward = len(images) * (1 + len(pairs))
    row = {
        "workload": name,
        "images": len(images),
        "pairs": len(pairs),
        "forwards": n_forward,
        "device": device,
        "precision": precision,
        "repeats": repeats,
        "median_s": med,
        "all_s": times,
        "cold_over_floor": med["engine-cold"] / med["floor"],
        "warm_over_cold": med["engine-warm"] / med["engine-cold"],
        "images_per_s_cold": n_forward / med["engine-cold"],
    }
    if "reference" in med:
        row["reference_over_cold"] = med["reference"] / med["engine-cold"]
    return row


def memory_probe(model_dir: str, count: int, device: str) -> float:
    """Peak RSS in MB (VmHWM) of a fresh process measuring ``count`` demo scenes x 9 augmentations.

    VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec from the forking parent."""
    code = (
        "import resource, sys\n"
        f"sys.path.insert(0, {str(HERE.parent)!r})\n"
        "from pytest_clipshift import load_encoder, load_image_set, measure, STUDY_AUGMENTATIONS\n"
        f"enc = load_encoder({model_dir!r}, device={device!r})\n"
        f"imgs = load_image_set('demo-scenes', max_images={count})\n"
        "measure(enc, imgs, STUDY_AUGMENTATIONS, seed=0)\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print(int(hwm.split()[1]) / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def plugin_overhead(repeats: int = 5) -> dict:
    """``pytest --help`` and a run without --clipshift, with the plugin and without it (-p no:clipshift)."""
    work = Path(tempfile.mkdtemp(prefix="clipshift-overhead-"))
    (work / "test_plain.py").write_text("def test_one():\n    assert True\n")

    def timed(args):
        samples = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "pytest", *args], cwd=work, capture_output=True, check=False)
            samples.append(time.perf_counter() - t0)
        return statistics.median(samples)

    out = {}
    for label, args in (("help", ["--help"]), ("run", ["-q", "-p", "no:cacheprovider"])):
        base = timed(args + ["-p", "no:clipshift"])
        with_plugin = timed(args)
        out[label] = {"plain_s": base, "with_plugin_s": with_plugin, "overhead_s": with_plugin - base}
    return out


def machine() -> dict:
    import torch
    import transformers

    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workloads", default="W1,W2,W3")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--tiny", action="store_true", help="tiny model, 3 images, 2 augmentations, 1 repeat")
    parser.add_argument("--no-reference-w3", action="store_true", help="skip the reference variant on W3 (slow on CPU)")
    parser.add_argument("--memory", action="store_true", help="also measure peak RSS (fresh processes)")
    parser.add_argument("--overhead", action="store_true", help="also measure the plugin's start-up overhead")
    parser.add_argument("--overhead-repeats", type=int, default=15)
    parser.add_argument("--out", type=Path, default=HERE / "out" / "results.json")
    args = parser.parse_args()
    root = Path(tempfile.gettempdir()) / "clipshift-bench-models"
    seed = 0
    count = 3 if args.tiny else 32
    augs = list(STUDY_AUGMENTATIONS[:2] if args.tiny else STUDY_AUGMENTATIONS)
    repeats = 1 if args.tiny else args.repeats
    images = load_image_set("demo-scenes", max_images=count, seed=seed)
    big = vit_b32_dir(root, args.tiny)
    rows = []
    wanted = args.workloads.split(",")
    plans = {
        "W1": (big, [(a, 3) for a in augs], True),
        "W2": (DEMO_MODEL_DIR, [(a, 3) for a in augs], True),
        "W3": (big, [(a, s) for a in augs for s in (1, 2, 3, 4, 5)], not args.no_reference_w3),
    }
    for name in [w for w in wanted if w]:
        model_dir, pairs, ref = plans[name]
        print(f"running {name} ...", flush=True)
        rows.append(
            bench_workload(name, model_dir, images, pairs, args.device, "fp32", repeats, args.batch_size, seed, ref)
        )
        if args.device.startswith("cuda") and name == "W1":
            rows.append(
                bench_workload(
                    "W1-bf16", model_dir, images, pairs, args.device, "bf16", repeats, args.batch_size, seed, False
                )
            )
    result = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "device": args.device, "rows": rows}
    if args.memory:
        result["memory_mb"] = {
            "W1_32": memory_probe(str(big), count, args.device),
            "demo_32": memory_probe(str(DEMO_MODEL_DIR), 32, args.device),
            "demo_256": memory_probe(str(DEMO_MODEL_DIR), 256, args.device),
        }
    if args.overhead:
        result["plugin_overhead"] = plugin_overhead(args.overhead_repeats)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"\nmachine: {result['machine']}")
    print(
        f"{'workload':10s} {'reference':>10s} {'cold':>8s} {'warm':>8s} {'floor':>8s} {'ref/cold':>9s} "
        f"{'cold/floor':>11s} {'warm/cold':>10s} {'img/s':>8s}"
    )
    for r in rows:
        m = r["median_s"]
        print(
            f"{r['workload']:10s} {m.get('reference', float('nan')):10.2f} {m['engine-cold']:8.2f} "
            f"{m['engine-warm']:8.2f} "
            f"{m['floor']:8.2f} {r.get('reference_over_cold', float('nan')):9.2f} {r['cold_over_floor']:11.2f} "
            f"{r['warm_over_cold']:10.3f} {r['images_per_s_cold']:8.1f}"
        )
    if "memory_mb" in result:
        print("peak RSS MB:", result["memory_mb"])
    if "plugin_overhead" in result:
        print("plugin overhead:", json.dumps(result["plugin_overhead"]))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
