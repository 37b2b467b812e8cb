"""Every example suite runs as its README says (each copied to a temporary folder first)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SUITES = Path(__file__).resolve().parents[1] / "example_suites"


def run_suite(tmp_path: Path, name: str, *args: str, env=None) -> subprocess.CompletedProcess:
    copy = tmp_path / name
    if not copy.exists():
        shutil.copytree(SUITES / name, copy)
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "pytest", str(copy), "-p", "no:cacheprovider", *args],
                          cwd=tmp_path, capture_output=True, text=True, env=environment, timeout=600)


def test_quickstart_writes_the_report(tmp_path):
    result = run_suite(tmp_path, "quickstart")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "20 passed" in result.stdout
    assert "demo model trained on synthetic scenes" in result.stdout
    report = (tmp_path / "report.html").read_text()
    assert "clipshift summary" in report and "clipshift::perspective[s3]" in report
    data = json.loads((tmp_path / "quickstart" / "clipshift-results.json").read_text())  # ini paths: beside the ini
    assert len(data["results"]) == 20 and all(c["passed"] for c in data["budgets"])


def test_paper_suite_with_the_demo_model(tmp_path):
    result = run_suite(tmp_path, "paper", "--clipshift-model=demo", "--clipshift-max-images=6")
    assert result.returncode == 0, result.stdout[-3000:]
    summary = json.loads((tmp_path / "paper" / "paper-summary.json").read_text())
    ranking = [name for name, _ in summary["ranking_most_shift_first"]]
    assert len(ranking) == 9 and set(summary["dendrogram_order_ward"]) == set(summary["dendrogram_order_average"])
    data = json.loads((tmp_path / "paper" / "paper-results.json").read_text())
    assert {r["severity"] for r in data["results"]} == {"paper"}
    assert "attention_inverse_mse_raw" in data["results"][1]["metrics"]


def test_paper_suite_skips_without_the_checkpoint(tmp_path):
    result = run_suite(tmp_path, "paper", "-rs", env={"HF_HOME": str(tmp_path / "empty-hf")})
    assert result.returncode == 0, result.stdout[-3000:]
    assert "skipped" in result.stdout and "huggingface-cli download openai/clip-vit-base-patch32" in result.stdout


def test_custom_suite(tmp_path):
    result = run_suite(tmp_path, "custom")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "12 passed" in result.stdout


def test_release_gate_fails_a_perturbed_candidate(tmp_path):
    saved = run_suite(tmp_path, "release_gate", "--clipshift-model=demo", "--clipshift-save=release")
    assert saved.returncode == 0, saved.stdout[-3000:]
    assert (tmp_path / "release_gate" / ".clipshift" / "0001_release.json").exists()
    same = run_suite(tmp_path, "release_gate", "--clipshift-model=demo", "--clipshift-compare=release")
    assert same.returncode == 0 and "no regression beyond tolerance" in same.stdout
    candidate = tmp_path / "candidate"
    subprocess.run([sys.executable, str(SUITES / "release_gate" / "make_candidate.py"), str(candidate), "--noise", "0.5"],
                   check=True, capture_output=True)
    gate = run_suite(tmp_path, "release_gate", f"--clipshift-model={candidate}", "--clipshift-compare=release")
    assert gate.returncode == 1, gate.stdout[-3000:]
    assert "regression(s) beyond tolerance" in gate.stdout
    workflow = (SUITES / "release_gate" / ".github" / "workflows" / "clipshift-gate.yml").read_text()
    assert "--clipshift-compare=release" in workflow and "upload-artifact" in workflow
