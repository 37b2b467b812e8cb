"""The verdict where teams decide, through the plugin: a job summary (to --clipshift-summary and to
$GITHUB_STEP_SUMMARY), a pull-request comment body, JUnit XML properties under xdist, and the saved
runs' history across releases in the report."""

from __future__ import annotations

import json
from xml.etree import ElementTree

import pytest

from tests.conftest import make_user_project

BUDGETS = """
[settings]
augmentations = ["identity", "gaussian_noise", "gaussian_blur"]
severities = [1, 5]

[defaults]
"cosine.mean" = ">= 0.5"

[augmentations.gaussian_noise.s5]
"patch_similarity.mean" = ">= 0.99"
"""


@pytest.fixture
def project(pytester, tiny_clip_dir, small_images):
    return make_user_project(pytester, tiny_clip_dir, small_images, BUDGETS, 4, "clipshift_no_cache = true\n")


def test_the_job_summary_and_the_comment_name_the_failed_rule(project, monkeypatch):
    step_summary = project.path / "github-step-summary.md"
    step_summary.write_text("earlier step's summary\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"):
        monkeypatch.setenv(
            name, {"GITHUB_SERVER_URL": "https://github.com"}.get(name, "org/repo" if "REPO" in name else "42")
        )
    result = project.runpytest(
        "--clipshift",
        "--clipshift-budgets=budgets.toml",
        "--clipshift-summary=summary.md",
        "--clipshift-comment=comment.md",
    )
    assert result.ret == 1
    summary = (project.path / "summary.md").read_text()
    appended = step_summary.read_text()
    assert appended.startswith("earlier step's summary\n") and appended.endswith(
        summary + "\n"
    )  # appended, as GitHub wants
    assert summary.startswith("## ❌ clipshift: FAILED")
    assert "| gaussian\\_noise\\[s5\\] | patch\\_similarity.mean >= 0.99 |" in summary
    assert "[this run](https://github.com/org/repo/actions/runs/42)" in summary
    comment = (project.path / "comment.md").read_text()
    assert (
        comment.startswith("<!-- clipshift -->\n## ❌ clipshift: FAILED")
        and "patch\\_similarity.mean >= 0.99" in comment
    )


def test_junit_xml_carries_each_cells_numbers_under_xdist(project):
    """Properties are recorded on the item as record_property does, so a worker's teardown report carries
    them to the controller's JUnit file; the gate, when it fails, is a test case of its own."""
    result = project.runpytest(
        "--clipshift", "--clipshift-budgets=budgets.toml", "-n", "2", "--junitxml=out.xml", "--clipshift-json=run.json"
    )
    assert result.ret == 1
    cases = {case.get("name"): case for case in ElementTree.parse(project.path / "out.xml").iter("testcase")}
    checks = json.loads((project.path / "run.json").read_text())["budgets"]
    for check in checks:
        case = cases[f"{check['augmentation']}[s{check['severity']}]"]
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        key = f"clipshift.{check['metric']}.{check['stat']}"
        outcome = "PASS" if check["passed"] else "FAIL"
        assert props[key] == f"{check['value']:.6g} ({check['op']} {check['threshold']:g}: {outcome})"
        assert props["clipshift_verdict"] == ("FAIL" if case.find("failure") is not None else "PASS")


def test_the_report_shows_the_suites_runs_across_releases(project):
    for name in ("release-1", "release-2"):
        assert project.runpytest("--clipshift", "--clipshift-budgets=budgets.toml", f"--clipshift-save={name}").ret == 1
    project.runpytest("--clipshift", "--clipshift-budgets=budgets.toml", "--html=report.html", "--self-contained-html")
    page = (project.path / "report.html").read_text()
    section = page[page.index("<h2>Across releases</h2>") :]
    assert "0001_release-1" in section and "0002_release-2" in section and "this run" in section
    assert section.count('alt="cosine.mean across runs"') == 1
