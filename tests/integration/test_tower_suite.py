"""Inside the tower through the plugin: per-head budgets, the most-moved heads in the terminal and a
heat map per augmentation in the report, a sink budget, and families a model cannot give named."""

from __future__ import annotations

import json

import pytest

from tests.conftest import make_user_project

BUDGETS = """
[settings]
augmentations = ["identity", "gaussian_noise", "horizontal_flip"]
metrics = ["head_attention_correlation", "direct_effect_shift", "sink_count_change", "attention_correlation_nosink"]

[augmentations.gaussian_noise]
"attention_correlation@2h1.mean" = ">= -1"
"direct_effect_shift.max" = "<= 1.5"
"""


@pytest.fixture
def project(pytester, tiny_clip_dir, small_images):
    return make_user_project(pytester, tiny_clip_dir, small_images, BUDGETS, 3, "clipshift_no_cache = true\n")


def test_per_head_budgets_heads_that_moved_and_the_heat_map(project):
    result = project.runpytest(
        "--clipshift",
        "--clipshift-budgets=budgets.toml",
        "--clipshift-json=run.json",
        "--html=report.html",
        "--self-contained-html",
    )
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(
        ["heads that moved most, gaussian_noise[[]s3[]] (attention correlation): layer * head * *, layer *, layer *"]
    )
    data = json.loads((project.path / "run.json").read_text())
    noise = next(r for r in data["results"] if r["augmentation"] == "gaussian_noise")
    heads = {m for m in noise["metrics"] if "@" in m and "h" in m.split("@")[1]}
    assert {f"attention_correlation@{k}h{h}" for k in (1, 2) for h in (1, 2)} <= heads  # 2 layers x 2 heads
    assert {"direct_effect_shift", "sink_count_change", "attention_correlation_nosink"} <= set(noise["metrics"])
    assert {(c["metric"], c["passed"]) for c in data["budgets"]} == {
        ("attention_correlation@2h1", True),
        ("direct_effect_shift", True),
    }
    page = (project.path / "report.html").read_text()
    assert "<h2>Heads</h2>" in page and page.count('alt="heads ') == 2  # noise and flip at their strongest


def test_a_family_the_model_cannot_give_is_named_and_its_rule_fails(pytester, tiny_siglip_dir, small_images):
    """SigLIP pools with an attention head: no direct decomposition. Not measured, said once, and a
    budget on it fails as unmeasured (never passes)."""
    budgets = (
        '[settings]\naugmentations = ["gaussian_noise"]\n'
        '[augmentations.gaussian_noise]\n"direct_effect_shift.mean" = "<= 1"\n'
    )
    project = make_user_project(pytester, tiny_siglip_dir, small_images, budgets, 2, "clipshift_no_cache = true\n")
    result = project.runpytest("--clipshift", "--clipshift-budgets=budgets.toml")
    assert result.ret == 1
    text = result.stdout.str()
    assert "cannot give direct_effect_shift" in text and "metric 'direct_effect_shift' was not measured" in text
