"""xdist on few cores: wall time of the quickstart suite with ``-n 2`` against one process.

    python benchmarks/bench_xdist.py [--repeats 3] [--out benchmarks/results/xdist_cpu.json]

Alternates the two (fresh pytest processes, no cache, same suite) and reports medians; the budget
is on (the default) or off (``CLIPSHIFT_THREADS`` set to the core count, as before thread budgets).
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


def run(extra: list[str], env: dict) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "example_suites" / "quickstart"), "-q",
                               "-p", "no:cacheprovider", "--clipshift-no-cache", f"--html={tmp}/r.html", *extra],
                              cwd=tmp, capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(done.stdout[-2000:])
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "xdist_cpu.json")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    base = {k: v for k, v in os.environ.items() if k not in ("CLIPSHIFT_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                                "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")}
    unbudgeted = {**base, "CLIPSHIFT_THREADS": str(cores), "OMP_NUM_THREADS": str(cores)}
    times: dict[str, list[float]] = {"one process": [], "-n 2 (budget)": [], "-n 2 (no budget)": []}
    run([], base)  # warm the file cache
    for _ in range(args.repeats):
        times["one process"].append(run([], base))
        times["-n 2 (budget)"].append(run(["-n", "2"], base))
        times["-n 2 (no budget)"].append(run(["-n", "2"], unbudgeted))
    medians = {k: statistics.median(v) for k, v in times.items()}
    for k, v in medians.items():
        print(f"{k:18s} {v:6.1f} s   ({v / medians['one process']:.2f}x one process)")
    result = {"date": time.strftime("%Y-%m-%d"), "machine": {"cpu_count": cores, "platform": platform.platform(),
              "python": sys.version.split()[0]}, "repeats": args.repeats, "seconds": times, "medians": medians}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
