"""xdist on few cores: wall time of the quickstart suite with ``-n 2`` against one process.

    python benchmarks/bench_xdist.py [--repeats 3] [--images 16 128] [--out benchmarks/results/xdist_cpu.json]

Alternates the runs (fresh pytest processes, no cache, same suite) and reports medians; the budget
is on (the default) or off (``CLIPSHIFT_THREADS`` set to the core count, as before thread budgets).
Each ``--images`` size is a separate row: at 16 scenes the run is mostly start-up, at 128 mostly
measurement, which is where ``-n`` is meant to be used.
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

ROOT = Path(__file__).resolve().parents[1]


def run(extra: list[str], env: dict, images: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                str(ROOT / "example_suites" / "quickstart"),
                "-q",
                "-p",
                "no:cacheprovider",
                "--clipshift-no-cache",
                f"--html={tmp}/r.html",
                f"--clipshift-max-images={images}",
                *extra,
            ],
            cwd=tmp,
            capture_output=True,
            text=True,
            env=env,
        )
        seconds = time.perf_counter() - start
    # budgets tuned on 16 scenes may fail on more; a failed budget is still a full measurement
    if done.returncode not in (0, 1) or " error" in done.stdout.splitlines()[-1]:
        raise SystemExit(done.stdout[-2000:])
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--images", type=int, nargs="+", default=[16, 128])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "xdist_cpu.json")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    base = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "CLIPSHIFT_THREADS",
            "OMP_NUM_THREADS",
            "MKL_NUM_THREADS",
            "OPENBLAS_NUM_THREADS",
            "NUMEXPR_NUM_THREADS",
        )
    }
    unbudgeted = {**base, "CLIPSHIFT_THREADS": str(cores), "OMP_NUM_THREADS": str(cores)}
    rows = {}
    for images in args.images:
        times: dict[str, list[float]] = {"one process": [], "-n 2 (budget)": [], "-n 2 (no budget)": []}
        run([], base, images)  # warm the file cache
        for _ in range(args.repeats):
            times["one process"].append(run([], base, images))
            times["-n 2 (budget)"].append(run(["-n", "2"], base, images))
            times["-n 2 (no budget)"].append(run(["-n", "2"], unbudgeted, images))
        medians = {k: statistics.median(v) for k, v in times.items()}
        print(f"{images} scenes:")
        for k, v in medians.items():
            print(f"  {k:18s} {v:6.1f} s   ({v / medians['one process']:.2f}x one process)")
        rows[str(images)] = {
            "seconds": times,
            "medians": medians,
            "ratios": {k: v / medians["one process"] for k, v in medians.items()},
        }
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"cpu_count": cores, "platform": platform.platform(), "python": sys.version.split()[0]},
        "repeats": args.repeats,
        "images": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
