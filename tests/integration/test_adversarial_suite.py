"""The worst case through the plugin: adversarial cells gated like any augmentation, their attack
settings in the results, the worst case beside the typical case in the terminal and the report, and
an attack that cannot run refused at start-up."""

from __future__ import annotations

import json

import pytest

from tests.conftest import make_user_project

BUDGETS = """
[settings]
augmentations = ["identity", "adversarial"]
severities = [1, 4]

[augmentations."adversarial.embedding"]
"cosine.mean" = ">= -1.0"
"""


@pytest.fixture
def project(pytester, tiny_clip_dir, small_images):
    return make_user_project(pytester, tiny_clip_dir, small_images, BUDGETS, 3, "clipshift_no_cache = true\n")


def test_adversarial_cells_are_gated_and_shown_beside_the_typical_case(project):
    result = project.runpytest(
        "--clipshift",
        "--clipshift-budgets=budgets.toml",
        "--clipshift-json=run.json",
        "--clipshift-attack-steps=4",
        "--html=report.html",
        "--self-contained-html",
    )
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(
        [
            "collected 6 items",
            "worst case s1 (eps 0.5/255): cosine under attack *, under random-sign noise *",
            "worst case s4 (eps 4/255): cosine under attack *, under random-sign noise *",
        ]
    )
    data = json.loads((project.path / "run.json").read_text())
    cells = {(r["augmentation"], r["severity"]): r for r in data["results"]}
    attack = cells["adversarial.embedding", 4]
    assert attack["parameters"]["steps"] == 4 and attack["parameters"]["eps"] == pytest.approx(4 / 255)
    assert attack["metrics"]["cosine"]["mean"] <= cells["adversarial.random_sign", 4]["metrics"]["cosine"]["mean"]
    assert {c["augmentation"] for c in data["budgets"]} == {"adversarial.embedding"}
    page = (project.path / "report.html").read_text()
    assert "<h2>The worst case</h2>" in page and page.count("<tr><td>s1</td><td>0.5/255</td>") == 1


def test_an_attack_at_half_precision_is_refused_at_start_up(project):
    result = project.runpytest("--clipshift", "--clipshift-budgets=budgets.toml", "--clipshift-precision=bf16")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "adversarial.embedding: attacks run at fp32" in result.stderr.str()
