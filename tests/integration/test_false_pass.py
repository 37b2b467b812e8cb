"""Paths that let the gate PASS when it should fail, closed; each reproduced as a user's session:
an undefined or unmeasured compare rule, a baseline update that would drop metrics, a killed xdist
worker, an interrupted run under an old results file, SIGTERM, and every worker measuring everything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import build_tiny_clip, make_user_project, save_with_processor

pytest_plugins = ["pytester"]

SUITE = """
[settings]
augmentations = ["identity", "gaussian_noise", "gaussian_blur", "horizontal_flip"]
severities = [1]

[defaults]
"cosine.mean" = ">= 0.0"
"""


@pytest.fixture(scope="module")
def collapsed_clip_dir(tmp_path_factory):
    """The tiny CLIP with its vision q and k projections zeroed: every attention map is uniform, so
    attention_correlation is undefined (NaN) on every image."""
    import torch

    model = build_tiny_clip(0)
    with torch.no_grad():
        for layer in model.vision_model.encoder.layers:
            for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj):
                proj.weight.zero_()
                proj.bias.zero_()
    return save_with_processor(model, tmp_path_factory.mktemp("collapsed-clip"))


@pytest.fixture
def project(pytester, tiny_clip_dir, small_images):
    return make_user_project(
        pytester, tiny_clip_dir, small_images, SUITE, 3, "clipshift_budgets = budgets.toml\nclipshift_no_cache = true\n"
    )


def output(result) -> str:
    return result.stdout.str() + result.stderr.str()


def test_a_collapsed_attention_candidate_fails_the_compare_and_still_writes_its_results(project, collapsed_clip_dir):
    base = project.runpytest("--clipshift", "--clipshift-metrics", "attention_correlation", "--clipshift-save=base")
    assert base.ret == 0, output(base)
    cand = project.runpytest(
        "--clipshift",
        f"--clipshift-model={collapsed_clip_dir}",
        "--clipshift-metrics",
        "attention_correlation",
        "--clipshift-compare=base",
        "--clipshift-json=cand.json",
        "--clipshift-save=cand",
        "--clipshift-compare-fail=attention_correlation.mean:0.02",
    )
    text = output(cand)
    assert cand.ret == 1, text
    assert "undefined in this run" in text and "Traceback" not in text and "not JSON compliant" not in text
    written = json.loads((project.path / "cand.json").read_text())
    assert written["extra"]["comparison"]["failed"] >= 1
    assert len(list((project.path / ".clipshift").glob("*cand.json"))) == 1


def test_a_rule_on_a_metric_the_candidate_did_not_measure_fails_and_the_update_keeps_it(project):
    assert project.runpytest("--clipshift", "--clipshift-metrics", "layer_cka", "--clipshift-save=base").ret == 0
    cand = project.runpytest("--clipshift", "--clipshift-compare=base", "--clipshift-compare-fail=layer_cka.mean:0.001")
    assert cand.ret == 1 and "not measured in this run" in output(cand)
    update = project.runpytest("--clipshift", "--clipshift-compare=base", "--clipshift-update-baseline")
    assert update.ret == 1
    assert "NOT updated: this run did not measure layer_cka" in output(update)
    saved = json.loads(next((project.path / ".clipshift").glob("*base.json")).read_text())
    assert all("layer_cka" in r["metrics"] for r in saved["results"])


def test_an_interrupted_run_leaves_no_old_verdict_under_its_results_name(project):
    assert project.runpytest("--clipshift", "--clipshift-json=r.json").ret == 0
    assert json.loads((project.path / "r.json").read_text())["coverage"]["complete"] is True
    project.makepyfile(test_stop="def test_stop(clipshift):\n    raise KeyboardInterrupt\n")
    result = project.runpytest_subprocess(
        "--clipshift", "--clipshift-json=r.json"
    )  # not in-process: the interrupt would stop this session too
    assert result.ret == pytest.ExitCode.INTERRUPTED
    path = project.path / "r.json"
    assert not path.exists() or json.loads(path.read_text())["coverage"]["complete"] is False


def test_help_and_collect_only_leave_the_results_file_alone(project):
    assert project.runpytest("--clipshift", "--clipshift-json=r.json").ret == 0
    before = (project.path / "r.json").read_text()
    assert project.runpytest("--clipshift", "--clipshift-json=r.json", "--help").ret == 0
    assert project.runpytest("--clipshift", "--clipshift-json=r.json", "--collect-only").ret == 0
    assert (project.path / "r.json").read_text() == before


def _popen_pytest(project, *args) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=project.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_sigterm_ends_the_run_like_ctrl_c_and_marks_it_interrupted(project):
    assert project.runpytest("--clipshift", "--clipshift-json=r.json").ret == 0
    project.makepyfile(
        test_slow="import time\n\ndef test_slow(clipshift):\n    clipshift.measure('identity', 1)\n"
        "    open('started', 'w').close()\n    time.sleep(60)\n"
    )
    proc = _popen_pytest(project, "--clipshift", "--clipshift-json=r.json")
    deadline = time.monotonic() + 120
    while not (project.path / "started").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out
    results = json.loads((project.path / "r.json").read_text())
    assert results["coverage"] == {"complete": False, "reasons": ["interrupted"]}


def test_a_worker_killed_after_its_items_passed_fails_the_gate(project):
    pytest.importorskip("xdist")
    project.makeconftest("""
        import os, signal

        def pytest_sessionfinish(session):
            worker = getattr(session.config, "workerinput", {}).get("workerid")
            if worker == "gw0":  # a real kill -9 of the worker, after it ran its items, before it reported
                os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = _popen_pytest(project, "--clipshift", "-n", "2", "--clipshift-json=r.json")
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode != 0, out
    assert "worker gw0 (Not properly terminated) was lost before it sent its measurements" in out
    results = json.loads((project.path / "r.json").read_text())
    assert results["coverage"]["complete"] is False
    assert any("gw0" in reason for reason in results["coverage"]["reasons"])


def test_xdist_workers_measure_their_share_not_everything(project):
    """Two workers together measure each cell once, as one process does (before, each worker
    measured every cell its collection held: twice the work)."""
    pytest.importorskip("xdist")

    def cells_measured(*args) -> int:
        proc = _popen_pytest(project, "--clipshift", "--clipshift-json=r.json", *args)
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, out
        results = json.loads((project.path / "r.json").read_text())
        assert len(results["results"]) == 4
        return results["extra"]["timing"]["cells_measured"]

    assert cells_measured("-n", "2") == 4  # the suite's 4 cells; one process measures each once too
