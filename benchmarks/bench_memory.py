"""Peak memory of a whole ``pytest --clipshift`` run as the image set grows 8x: a folder of demo
scenes (PNG), the study's nine at severity 3 with the noise floor, default metrics, the demo model.

    python benchmarks/bench_memory.py [--sizes 400 3200] [--out benchmarks/results/memory_cpu.json]

Each run is a fresh process (/usr/bin/time's maximum resident set); the cache off so every image is
augmented and encoded. The target: at most +10% from 400 to 3,200 images (embeddings streamed:
--clipshift-keep-embeddings no, which auto picks above 1,000 images). The 3,200-image run is also
measured keeping every embedding, to show what streaming saves.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

BUDGETS = '[settings]\naugmentations = ["identity", "study"]\nseverities = [3]\n'


def make_folder(root: Path, count: int) -> Path:
    from PIL import Image

    from pytest_clipshift.demo.scenes import describe_scenes, render_scene

    folder = root / f"images-{count}"
    if not folder.exists():
        folder.mkdir(parents=True)
        for name, scene in describe_scenes(count, seed=0):
            Image.fromarray(render_scene(scene, size=224)).save(folder / name)
    return folder


def peak(folder: Path, keep: str, project: Path) -> dict:
    (project / "budgets.toml").write_text(BUDGETS)
    (project / "pytest.ini").write_text("[pytest]\n")
    command = [
        "/usr/bin/time",
        "-v",
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-q",
        "--clipshift",
        "--clipshift-budgets=budgets.toml",
        f"--clipshift-images={folder}",
        "--clipshift-model=demo",
        "--clipshift-device=cpu",
        "--clipshift-no-cache",
        f"--clipshift-keep-embeddings={keep}",
    ]
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=project, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}
    )
    seconds = time.perf_counter() - start
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    if rss is None or done.returncode not in (0, 1):
        raise SystemExit(done.stdout[-2000:] + done.stderr[-2000:])
    return {
        "images": int(folder.name.split("-")[1]),
        "keep_embeddings": keep,
        "peak_rss_mb": int(rss.group(1)) / 1024,
        "seconds": seconds,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[400, 3200])
    parser.add_argument("--out", type=Path, default=HERE / "results" / "memory_cpu.json")
    args = parser.parse_args(argv)
    root = Path(tempfile.gettempdir()) / "clipshift-bench-memory"
    rows = []
    with tempfile.TemporaryDirectory() as project:
        for n in args.sizes:
            rows.append(peak(make_folder(root, n), "no", Path(project)))
            print(json.dumps(rows[-1]), flush=True)
        rows.append(peak(make_folder(root, max(args.sizes)), "yes", Path(project)))
        print(json.dumps(rows[-1]), flush=True)
    streamed = [r for r in rows if r["keep_embeddings"] == "no"]
    growth = streamed[-1]["peak_rss_mb"] / streamed[0]["peak_rss_mb"] - 1
    result = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "date": time.strftime("%Y-%m-%d"),
        "rows": rows,
        "growth_streamed": growth,
        "target": "<= +10% from the smallest to the largest set",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"peak RSS growth {100 * growth:+.1f}% from {streamed[0]['images']} to {streamed[-1]['images']} images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
