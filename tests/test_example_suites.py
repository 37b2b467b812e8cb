"""Every example suite runs as its README says (each copied to a temporary folder first)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

SUITES = Path(__file__).resolve().parents[1] / "example_suites"


def run_suite(tmp_path: Path, name: str, *args: str, env=None) -> subprocess.CompletedProcess:
    copy = tmp_path / name
    if not copy.exists():
        shutil.copytree(SUITES / name, copy)
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(copy), "-p", "no:cacheprovider", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )


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


WORKFLOW = SUITES / "release_gate" / ".github" / "workflows" / "clipshift-gate.yml"


def _workflow_steps() -> dict:
    import yaml

    workflow = yaml.safe_load(WORKFLOW.read_text())
    return workflow, {step.get("name", step.get("uses")): step for step in workflow["jobs"]["gate"]["steps"]}


def _run_step(step: dict, tmp_path: Path, suite: Path, model, **env) -> subprocess.CompletedProcess:
    """A workflow step's shell command, as the runner would run it (pytest through this interpreter)."""
    command = step["run"].replace("pytest ", f"{sys.executable} -m pytest -p no:cacheprovider ", 1)
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "SUITE": str(suite), "MODEL_DIR": str(model), **env}
    environment.pop("GITHUB_STEP_SUMMARY", None)
    environment.update(env)
    return subprocess.run(
        ["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, env=environment, timeout=600
    )


def test_release_gate_workflow_saves_on_main_and_fails_a_perturbed_candidate_on_a_pull_request(tmp_path):
    """The shipped GitHub workflow, as a user copies it: installs from the repository (not the index),
    saves the baseline on main where pull requests restore it, compares, and puts the verdict where the
    team decides. Its own commands run here: on main (the demo model saved), then on a pull request (a
    perturbed candidate): the job summary and the comment body name the failed rules, the JUnit file
    carries each cell's numbers, and every uploaded file exists."""
    from xml.etree import ElementTree

    from markdown_it import MarkdownIt

    workflow, steps = _workflow_steps()
    assert set(workflow[True]) == {"push", "pull_request"}  # YAML reads the key `on` as True
    install = steps["Install (CPU torch first, so pip does not pull a CUDA build)"]["run"]
    assert (
        "torch==2.13.0" in install
        and '"$CLIPSHIFT_SOURCE"' in install
        and "git+" in workflow["env"]["CLIPSHIFT_SOURCE"]
    )
    saved_to = steps["Keep the baseline for pull requests"]["with"]
    restored = steps["Restore the latest main baseline"]["with"]
    assert restored["path"] == saved_to["path"] and saved_to["key"].startswith(restored["restore-keys"])
    assert steps["Keep the baseline for pull requests"]["if"].startswith("always()")  # main's verdict aside
    assert steps["Upload the report"]["if"].startswith("always()")
    suite = tmp_path / "release_gate"
    shutil.copytree(SUITES / "release_gate", suite)

    saved = _run_step(steps["Measure main and save it as the baseline"], tmp_path, suite, "demo")
    assert saved.returncode == 0, saved.stdout[-3000:]
    assert (tmp_path / saved_to["path"] / "0001_release.json").exists()
    candidate = tmp_path / "candidate"
    subprocess.run(
        [sys.executable, str(SUITES / "release_gate" / "make_candidate.py"), str(candidate), "--noise", "0.5"],
        check=True,
        capture_output=True,
    )
    summary = tmp_path / "step-summary.md"
    gate_step = steps["Gate the candidate against the baseline"]
    gate = _run_step(
        gate_step,
        tmp_path,
        suite,
        candidate,
        BASELINE_FOUND="clipshift-baseline-main-abc",
        GITHUB_STEP_SUMMARY=str(summary),
    )
    assert gate.returncode == 1, gate.stdout[-3000:]
    assert "regression(s) beyond tolerance" in gate.stdout and "clipshift gate FAILED" in gate.stdout
    for uploaded in steps["Upload the report"]["with"]["path"].split():
        assert (tmp_path / uploaded).exists(), uploaded
    assert "0001_release.json" in gate.stdout  # the restored main baseline is what it compared with
    results = json.loads((tmp_path / "clipshift-results.json").read_text())
    regressed = [d for d in results["extra"]["comparison"]["deltas"] if d["failed"]]
    assert regressed
    comment = (tmp_path / "clipshift-comment.md").read_text()
    for text, limit in ((summary.read_text(), 1024 * 1024), (comment, 65536)):
        assert len(text.encode()) < limit
        parser = MarkdownIt("commonmark").enable("table")  # GitHub renders both as CommonMark with tables
        tokens, rendered = parser.parse(text), parser.render(text)
        headings = [t.content for i, t in enumerate(tokens) if i and tokens[i - 1].type == "heading_open"]
        assert headings[0].startswith("❌ clipshift: FAILED") and any("Regressions against" in h for h in headings)
        for d in regressed:  # every failed rule: its cell, statistic and rule in one table row
            row = f"<td>{d['augmentation']}[s{d['severity']}]</td>\n<td>{d['metric']}.{d['stat']}</td>"
            assert row in rendered and ", ".join(d["failed"]) in rendered
    assert (tmp_path / "clipshift-comment.md").read_text().startswith("<!-- clipshift -->\n")
    suite_cases = [
        case
        for case in ElementTree.parse(tmp_path / "clipshift-junit.xml").iter("testcase")
        if case.get("name") != "gate"
    ]
    properties = {p.get("name"): p.get("value") for p in suite_cases[1].iter("property")}
    assert properties["clipshift_cell"].endswith("[s2]") and properties["clipshift_verdict"] in ("PASS", "FAIL")
    assert re.fullmatch(r"-?[0-9.e+-]+ \(>= 0\.5: (PASS|FAIL)\)", properties["clipshift.cosine.mean"])
    assert "clipshift.attention_correlation.mean.delta" in properties  # a compare rule's statistic

    first = tmp_path / "first-pr"  # a pull request before main ever saved a baseline
    first.mkdir()
    first_summary = first / "summary.md"
    fresh = _run_step(gate_step, first, suite, candidate, BASELINE_FOUND="", GITHUB_STEP_SUMMARY=str(first_summary))
    assert fresh.returncode == 0, fresh.stdout[-3000:]  # judged by its budgets alone, which it keeps
    assert "no baseline from main yet" in first_summary.read_text() and "--clipshift-compare" not in fresh.stdout


def test_the_shipped_workflow_is_valid_and_has_no_security_finding():
    """GitHub's workflow schema (check-jsonschema's vendored copy), and zizmor's audits offline: actions
    pinned to commits, least-privilege permissions, no persisted credentials, no template injection."""
    schema = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr
    zizmor = shutil.which("zizmor") or str(Path(sys.executable).parent / "zizmor")
    audit = subprocess.run(
        [zizmor, "--offline", "--persona=auditor", str(WORKFLOW)], capture_output=True, text=True, timeout=120
    )
    assert audit.returncode == 0 and "No findings to report" in audit.stdout + audit.stderr, audit.stdout
    workflow, steps = _workflow_steps()
    uses = [step["uses"] for job in workflow["jobs"].values() for step in job["steps"] if "uses" in step]
    assert uses and all(re.fullmatch(r"actions/[a-z/-]+@[0-9a-f]{40}", u) for u in uses), uses
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["jobs"]["comment"]["permissions"] == {"pull-requests": "write"}


def test_imagenet_c_suite_gates_per_family_and_reports_mce(tmp_path):
    first = run_suite(tmp_path, "imagenet_c", "--clipshift-save=release", "--clipshift-max-images=6")
    assert first.returncode == 0, first.stdout[-3000:]
    assert "40 passed" in first.stdout and "ImageNet-C error (1 - cosine.mean) by family" in first.stdout
    again = run_suite(
        tmp_path, "imagenet_c", "--clipshift-compare=release", "--clipshift-json=out.json", "--clipshift-max-images=6"
    )
    assert again.returncode == 0, again.stdout[-3000:]
    assert "mCE 100.0%, relative mCE 100.0%" in again.stdout
    import json

    checks = json.loads((tmp_path / "out.json").read_text())["budgets"]
    families = {c["augmentation"] for c in checks if c["threshold"] == 0.40}
    assert families == {f"imagenet_c.{n}" for n in ("snow", "frost", "fog", "brightness", "spatter")}


def test_labelled_suite_runs_as_its_readme_says(tmp_path):
    """The labelled README's three commands as written, from a folder laid out as the repository
    (example_suites/labelled inside it): make the data, the suite on folders, the suite on parquet."""
    repo = tmp_path / "repo"
    shutil.copytree(SUITES / "labelled", repo / "example_suites" / "labelled")
    block = re.search(r"```bash\n(.*?)```", (SUITES / "labelled" / "README.md").read_text(), re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert [c.split()[0] for c in commands] == ["python", "pytest", "pytest"]
    results = []
    for command in commands:
        program, *args = command.split()
        argv = [sys.executable, *args] if program == "python" else [sys.executable, "-m", "pytest", *args]
        environment = {**os.environ, "HF_HUB_OFFLINE": "1"}
        if program == "pytest":
            argv += ["-p", "no:cacheprovider", "--clipshift-json=out.json"]
        done = subprocess.run(argv, cwd=repo, capture_output=True, text=True, env=environment, timeout=600)
        assert done.returncode == 0, (command, done.stdout[-3000:], done.stderr[-2000:])
        if program == "pytest":
            results.append((done.stdout, json.loads((repo / "out.json").read_text())))
    (folders, data), (parquet, from_parquet) = results
    assert "20 passed" in folders and "accuracy drop is best predicted by" in folders
    assert data["extra"]["calibration"]["best"] in data["extra"]["calibration"]["fits"]
    identity = next(r for r in data["results"] if r["augmentation"] == "identity")
    assert 0.5 <= identity["metrics"]["zero_shot_accuracy"]["mean"] <= 1.0 and data["images"]["count"] == 40
    assert "20 passed" in parquet and from_parquet["images"]["count"] == 40  # the same images, read from parquet
    # the same images (named and ordered as each layout has them): the same draws, the same numbers
    per_image = {
        (r["augmentation"], r["severity"]): sorted(r["metrics"]["cosine"]["per_image"]) for r in data["results"]
    }
    for r in from_parquet["results"]:
        assert np.allclose(sorted(r["metrics"]["cosine"]["per_image"]), per_image[r["augmentation"], r["severity"]])
