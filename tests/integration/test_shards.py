"""Shards that schedulers run: K/N from the scheduler's own variables, a shard restarted after a crash
reading back what it finished, and merges refused when shards were not measured alike."""

from __future__ import annotations

import json

import pytest

from pytest_clipshift.core.errors import ConfigError
from pytest_clipshift.integration.config import shard_from_environment
from tests.conftest import make_user_project

BUDGETS = '[settings]\naugmentations = ["identity", "gaussian_noise", "gaussian_blur", "color_jitter"]\n'


@pytest.mark.parametrize(
    "environment, shard",
    [
        ({"CLIPSHIFT_SHARD": "2/3", "RANK": "0", "WORLD_SIZE": "4"}, "2/3"),  # the explicit one first
        ({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_COUNT": "4"}, "1/4"),
        ({"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "5"}, "3/3"),
        ({"RANK": "3", "WORLD_SIZE": "4"}, "4/4"),
    ],
)
def test_auto_reads_the_schedulers_variables(environment, shard):
    assert shard_from_environment(environment) == shard


def test_auto_without_a_scheduler_names_what_it_looked_for():
    with pytest.raises(ConfigError, match="CLIPSHIFT_SHARD, SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_COUNT, RANK"):
        shard_from_environment({})
    with pytest.raises(ConfigError, match="not whole numbers"):
        shard_from_environment({"RANK": "a", "WORLD_SIZE": "2"})


def test_a_slurm_array_of_two_covers_the_suite(pytester, tiny_clip_dir, small_images, monkeypatch):
    project = make_user_project(pytester, tiny_clip_dir, small_images, BUDGETS, 2, "clipshift_no_cache = true\n")
    cells = []
    for task in ("0", "1"):
        monkeypatch.setenv("SLURM_ARRAY_TASK_ID", task)
        monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "2")
        result = project.runpytest(
            "--clipshift",
            "--clipshift-budgets=budgets.toml",
            "--clipshift-shard=auto",
            f"--clipshift-json=shard{task}.json",
        )
        data = json.loads((project.path / f"shard{task}.json").read_text())
        assert data["coverage"]["reasons"] == [f"shard {int(task) + 1}/2"], result.stdout.str()[-2000:]
        cells += [r["augmentation"] for r in data["results"]]
    assert sorted(cells) == sorted(["identity", "gaussian_noise", "gaussian_blur", "color_jitter"])
    monkeypatch.delenv("SLURM_ARRAY_TASK_ID")
    monkeypatch.delenv("SLURM_ARRAY_TASK_COUNT")
    missing = project.runpytest("--clipshift", "--clipshift-budgets=budgets.toml", "--clipshift-shard=auto")
    assert missing.ret == pytest.ExitCode.USAGE_ERROR and "none of CLIPSHIFT_SHARD" in missing.stderr.str()


CRASHING_CONFTEST = """
import os

from pytest_clipshift import register_metric

calls = []


def tripwire(batch):
    calls.append(1)
    if os.environ.get("CRASH_AFTER") and len(calls) > int(os.environ["CRASH_AFTER"]):
        os._exit(9)  # the machine went down: no cleanup, no results
    return batch.clean_embeddings[:, 0] * 0


register_metric("tripwire", tripwire, higher_is_better=True)
"""


def test_a_shard_restarted_after_a_crash_reads_back_what_it_finished(
    pytester, tiny_clip_dir, small_images, monkeypatch
):
    """A shard killed in the middle of its measuring (os._exit: nothing cleaned up) is run again: the
    batches it had finished are read back from the cache (written as they finish with
    CLIPSHIFT_CACHE_FLUSH_SECONDS=0, at most every 30 s by default), the rest measured, and its results
    equal those of a run that never crashed."""
    project = make_user_project(pytester, tiny_clip_dir, small_images, BUDGETS, 4, "clipshift_metrics = tripwire\n")
    project.makeconftest(CRASHING_CONFTEST)
    args = ["--clipshift", "--clipshift-budgets=budgets.toml", "--clipshift-batch-size=2", "-p", "no:randomly"]
    monkeypatch.setenv("CLIPSHIFT_CACHE_FLUSH_SECONDS", "0")
    monkeypatch.setenv("CRASH_AFTER", "4")
    crashed = project.runpytest_subprocess(*args, "--clipshift-cache-dir=cache", "--clipshift-json=crashed.json")
    assert crashed.ret == 9 and not (project.path / "crashed.json").exists()
    monkeypatch.delenv("CRASH_AFTER")
    resumed = project.runpytest_subprocess(*args, "--clipshift-cache-dir=cache", "--clipshift-json=resumed.json")
    clean = project.runpytest_subprocess(*args, "--clipshift-cache-dir=fresh", "--clipshift-json=clean.json")
    assert resumed.ret == clean.ret == 0
    resumed_run, clean_run = (json.loads((project.path / f"{n}.json").read_text()) for n in ("resumed", "clean"))
    cache = resumed_run["extra"]["timing"]["cache"]
    assert cache["hits"] >= 4 and cache["misses"] > 0  # the finished batches read back, the rest measured
    for a, b in zip(resumed_run["results"], clean_run["results"]):
        assert a["metrics"]["cosine"]["per_image"] == b["metrics"]["cosine"]["per_image"]


def test_merge_refuses_shards_measured_differently_naming_the_setting(tmp_path):
    from pytest_clipshift.core.runs.combine import merge_runs
    from tests.gate.test_gate_core import run

    a, b = run(), run()
    a.settings, b.settings = {"precision": "fp32", "batch_size": 32}, {"precision": "bf16", "batch_size": 32}
    with pytest.raises(ConfigError, match="different precision .* the same --clipshift-precision"):
        merge_runs([a, b], ["shard-1.json", "shard-2.json"])
    b.settings = {"precision": "fp32", "batch_size": 16}
    with pytest.raises(ConfigError, match="different batch_size"):
        merge_runs([a, b])
