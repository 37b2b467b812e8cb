"""The benchmark runs end to end in its tiny mode (it proves the script works; timings are not asserted)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_tiny_mode(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_engine.py"),
            "--tiny",
            "--workloads",
            "W1,W2",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(out.read_text())
    assert {r["workload"] for r in data["rows"]} == {"W1", "W2"}
    for row in data["rows"]:
        assert set(row["median_s"]) == {"reference", "engine-cold", "engine-warm", "floor"}
        assert row["forwards"] == 3 * 3  # 3 images x (clean + 2 augmentations)
    assert data["machine"]["cpus"] >= 1 and "workload" in result.stdout
