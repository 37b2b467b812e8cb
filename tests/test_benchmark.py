"""The benchmark runs end to end in its tiny mode (it proves the script works; timings are not asserted)."""

import json
import os
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


def test_the_accelerator_suite_runs_on_cpu_with_a_tiny_model(tmp_path):
    """benchmarks/gpu_suite.sh as a lent accelerator would run it, here on the CPU (--device cpu
    --tiny): every part writes its JSON and status.json records each part's exit and time."""
    out = tmp_path / "gpu"
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_suite.sh"), str(out), "--device", "cpu", "--tiny"],
        capture_output=True,
        text=True,
        timeout=300,
        # the script calls python3: the interpreter running these tests, venv activated or not
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    status = json.loads((out / "status.json").read_text())
    assert set(status) == {"check", "engine", "augment", "ceiling", "w4lite", "profile"}
    assert all(part["exit"] == 0 for part in status.values()), status
    engine = json.loads((out / "engine.json").read_text())
    assert {(r["workload"], r["augment_device"]) for r in engine["rows"]} == {("W1", "cpu"), ("W3", "cpu")}
    assert all(r["floor_s"] > 0 and r["cold_s"] > 0 for r in engine["rows"])
    ceiling = json.loads((out / "ceiling.json").read_text())
    assert [r["path"] for r in ceiling["rows"]] == ["cpu", "torch-cpu"]
    w4 = json.loads((out / "w4lite.json").read_text())
    assert w4["forwards"] == 4 * 3 * 2 and w4["imagenet_val_x_c_projection_h"] > 0
