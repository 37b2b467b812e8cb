"""The plugin as its users meet it: real pytest sessions run by ``pytester``."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from tests.conftest import build_tiny_clip, make_user_project, save_with_processor

pytest_plugins = ["pytester"]

BUDGETS = """
[settings]
augmentations = ["identity", "gaussian_noise", "horizontal_flip"]
severities = [1, 5]

[defaults]
"cosine.mean" = ">= 0.5"

[augmentations.gaussian_noise.s5]
"patch_similarity.mean" = ">= 0.99"
"""


@pytest.fixture
def project(pytester, tiny_clip_dir, small_images):
    """A user's project: images, a budgets file, an ini pointing at the tiny model."""
    return make_user_project(
        pytester, tiny_clip_dir, small_images, BUDGETS, 4, "clipshift_cache_dir = .cache-clipshift\n"
    )


def run_json(pytester, *args, name="out.json"):
    result = pytester.runpytest("--clipshift", f"--clipshift-json={name}", *args)
    path = pytester.path / name
    return result, (json.loads(path.read_text()) if path.exists() else None)


def test_skipped_without_the_flag_and_torch_never_imported(pytester):
    pytester.makepyfile(
        test_user="""
        import pytest
        def test_plain():
            pass
        def test_robust(clipshift, augmentation):
            raise AssertionError("must not run")
        @pytest.mark.clipshift
        def test_marked():
            raise AssertionError("must not run")
    """
    )
    pytester.makeconftest("""
        import sys
        def pytest_sessionfinish(session):
            with open("modules.txt", "w") as fh:
                fh.write(" ".join(m for m in ("torch", "transformers", "albumentations") if m in sys.modules))
    """)
    result = pytester.runpytest_subprocess("-rs")
    result.assert_outcomes(passed=1, skipped=11)
    result.stdout.fnmatch_lines(["*run with `pytest --clipshift`*"])
    assert (pytester.path / "modules.txt").read_text() == ""


def test_help_lists_every_option_in_one_group(pytester):
    result = pytester.runpytest("--help")
    text = result.stdout.str()
    assert "clipshift: CLIP embedding-shift robustness gate:" in text
    for flag in (
        "--clipshift-model",
        "--clipshift-device",
        "--clipshift-precision",
        "--clipshift-images",
        "--clipshift-max-images",
        "--clipshift-seed",
        "--clipshift-batch-size",
        "--clipshift-budgets",
        "--clipshift-json",
        "--clipshift-save",
        "--clipshift-compare",
        "--clipshift-compare-fail",
        "--clipshift-update-baseline",
        "--clipshift-cache-dir",
        "--clipshift-no-cache",
        "--clipshift-shard",
    ):
        assert flag in text, flag
    for ini in ("clipshift_model (string)", "clipshift_seed (int)", "clipshift_no_cache (bool)"):
        assert ini in text, ini


def test_zero_code_suite_gates_on_the_budgets(project):
    result, data = run_json(project, "--clipshift-budgets=budgets.toml", "-v")
    result.stdout.fnmatch_lines(
        [
            "clipshift::identity[[]s1[]] PASSED*",
            "clipshift::gaussian_noise[[]s5[]] FAILED*",
        ]
    )
    result.assert_outcomes(passed=5, failed=1)
    assert result.ret == 1
    text = result.stdout.str()
    # the failure names augmentation, severity, metric, statistic, threshold, value with CI, worst images
    assert "gaussian_noise[s5]: patch_similarity.mean = " in text
    assert "95% CI [" in text and "required >= 0.99" in text
    assert "worst images: img" in text
    assert "budget from " in text and "budgets.toml [augmentations.gaussian_noise.s5]" in text
    # the end-of-run table
    assert "augmentation[severity]" in text and "PASS (1)" in text and "FAIL patch_similarity.mean >= 0.99" in text
    checks = [c for c in data["budgets"] if c["augmentation"] == "gaussian_noise" and c["severity"] == 5]
    assert {(c["metric"], c["passed"]) for c in checks} == {("cosine", True), ("patch_similarity", False)}


def test_custom_tests_with_fixtures_marker_and_helpers(project):
    project.makepyfile(
        test_custom="""
        import pytest
        from pytest_clipshift import assert_shift_within, assert_attention_similar

        def test_model_and_images(clip_model, clipshift_images):
            assert clip_model.info["layers"] == 2 and len(clipshift_images) == 4

        @pytest.mark.clipshift(augmentations=["gaussian_blur"], severities=[1, 2])
        def test_blur_is_mild(clipshift, augmentation):
            result = clipshift.measure(augmentation)
            assert result.n_images == 4
            assert_shift_within(result, "cosine", min=0.9)

        @pytest.mark.clipshift(images=["img0.png", "img1.png"], budget={"cosine.mean": ">= 1.01"})
        def test_marker_budget_override(clipshift):
            clipshift.measure("gaussian_noise", severity=5)

        def test_attention_helper_message(clipshift):
            result = clipshift.measure("horizontal_flip", 1)
            assert_attention_similar(result, min_correlation=0.999, aligned=False)
    """
    )
    result, data = run_json(project, "-v")
    result.stdout.fnmatch_lines(
        ["*test_blur_is_mild[[]gaussian_blur-s1[]] PASSED*", "*test_blur_is_mild[[]gaussian_blur-s2[]] PASSED*"]
    )
    result.assert_outcomes(passed=3, failed=2)
    text = result.stdout.str()
    assert "gaussian_noise[s5]: cosine.mean = " in text and "required >= 1.01" in text
    assert "@pytest.mark.clipshift(budget=...)" in text
    assert "horizontal_flip[s1]: attention_correlation_raw.mean" in text
    subset = [r for r in data["results"] if r.get("image_subset")]
    assert subset and subset[0]["image_subset"] == ["img0.png", "img1.png"] and subset[0]["n_images"] == 2


@pytest.mark.parametrize(
    "content,message",
    [
        ('[defaults]\n"cosin.mean" = ">= 0.9"\n', "unknown metric 'cosin'"),
        ('[defaults]\n"cosine.average" = ">= 0.9"\n', "unknown statistic 'average'; valid: mean"),
        ('[augmentations.fog]\n"cosine.mean" = 0.9\n', "unknown augmentation 'fog'; valid: "),
        ('[defaults]\n"cosine.mean" = "=> 0.9"\n', "unknown operator; write one of >=, <=, >, <"),
        ('[defaults]\n"cosine.mean" = ">= high"\n', "'high' is not a number"),
        ('[defaults]\n"cosine.mean" = true\n', "is not a number"),
        ("[defaults\n", "not valid TOML"),
        ("[settings]\nconfidence = 2\n", "settings.confidence = 2 must be a number in [0.5, 1)"),
        ('[augmentations.gaussian_noise.s9]\n"cosine.mean" = 0.9\n', "severity 's9' is not one of"),
    ],
)
def test_invalid_budget_files_are_usage_errors(project, content, message):
    (project.path / "bad.toml").write_text(content)
    result = project.runpytest("--clipshift", "--clipshift-budgets=bad.toml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "bad.toml" in err and message in err, err


def test_missing_budget_file_and_bad_options(project):
    result = project.runpytest("--clipshift", "--clipshift-budgets=nope.toml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        "--clipshift-budgets: budgets file" in result.stderr.str() and "nope.toml does not exist" in result.stderr.str()
    )
    result = project.runpytest("--clipshift", "--clipshift-precision=fp64")
    assert (
        result.ret == pytest.ExitCode.USAGE_ERROR
        and "--clipshift-precision = 'fp64': valid: fp32, fp16, bf16" in result.stderr.str()
    )
    result = project.runpytest("--clipshift", "--clipshift-shard=3/2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR and "expected K/N" in result.stderr.str()
    result = project.runpytest("--clipshift", "--clipshift-compare-fail=cosine.mean:lots")
    assert result.ret == pytest.ExitCode.USAGE_ERROR and "tolerance 'lots' is not a number" in result.stderr.str()


def test_budgets_from_pyproject_and_ini_precedence(pytester, tiny_clip_dir, small_images):
    images = pytester.path / "pics"
    images.mkdir()
    for name, arr in zip(small_images.names[:3], small_images.arrays[:3]):
        Image.fromarray(arr).save(images / name)
    pytester.makepyprojecttoml(f"""
        [tool.pytest.ini_options]
        clipshift_model = "{tiny_clip_dir}"
        clipshift_images = "pics"
        clipshift_seed = 7
        clipshift_no_cache = true

        [tool.clipshift.budgets.settings]
        augmentations = ["gaussian_blur"]

        [tool.clipshift.budgets.defaults]
        "cosine.mean" = 0.5
    """)
    result, data = run_json(pytester, "-v")
    result.stdout.fnmatch_lines(["clipshift::gaussian_blur[[]s3[]] PASSED*"])
    assert data["seed"] == 7 and data["images"]["count"] == 3
    assert data["budgets"][0]["op"] == ">=" and data["budgets"][0]["threshold"] == 0.5
    result, data = run_json(pytester, "--clipshift-seed=3", name="cli.json")
    assert data["seed"] == 3  # the command line beats the ini file
    assert not (pytester.path / ".clipshift" / "cache").exists()  # clipshift_no_cache = true honoured


def test_results_json_follows_the_schema(project):
    jsonschema = pytest.importorskip("jsonschema")
    from pytest_clipshift.core.runs.schema import results_schema

    result, data = run_json(project, "--clipshift-budgets=budgets.toml")
    jsonschema.validate(data, results_schema())
    assert data["images"]["names"] == ["img0.png", "img1.png", "img2.png", "img3.png"]
    first = data["results"][0]
    assert first["augmentation"] == "identity" and len(first["metrics"]["cosine"]["per_image"]) == 4
    assert set(first["metrics"]["cosine"]) >= {"mean", "std", "median", "min", "max", "p05", "p95", "ci95", "per_image"}
    assert data["model"]["fingerprint"] and data["versions"]["torch"]


def test_cache_hit_on_rerun(project):
    _, cold = run_json(project, "--clipshift-budgets=budgets.toml", name="cold.json")
    _, warm = run_json(project, "--clipshift-budgets=budgets.toml", name="warm.json")
    assert cold["extra"]["timing"]["cache"]["hits"] == 0
    assert warm["extra"]["timing"]["cache"]["hits"] > 0 and warm["extra"]["timing"]["cache"]["misses"] == 0
    assert cold["results"] == warm["results"]


def strip_volatile(data: dict) -> dict:
    data = dict(data)
    for key in ("extra", "machine"):
        data.pop(key, None)
    return data


def test_xdist_gives_the_same_json(project):
    pytest.importorskip("xdist")
    single = project.runpytest_subprocess(
        "--clipshift", "--clipshift-budgets=budgets.toml", "--clipshift-json=single.json", "-p", "no:randomly"
    )
    multi = project.runpytest_subprocess(
        "--clipshift",
        "--clipshift-budgets=budgets.toml",
        "--clipshift-json=multi.json",
        "-n",
        "2",
        "--clipshift-no-cache",
    )
    assert single.ret == multi.ret == 1
    a = json.loads((project.path / "single.json").read_text())
    b = json.loads((project.path / "multi.json").read_text())
    assert strip_volatile(a) == strip_volatile(b)
    assert len(b["results"]) == 6 and len(b["budgets"]) == 7


def test_shards_merge_into_the_unsharded_run(project):
    from pytest_clipshift.cli import main

    project.runpytest(
        "--clipshift", "--clipshift-budgets=budgets.toml", "--clipshift-json=all.json", "--clipshift-no-cache"
    )
    for k in (1, 2):
        r = project.runpytest(
            "--clipshift",
            "--clipshift-budgets=budgets.toml",
            f"--clipshift-json=shard{k}.json",
            f"--clipshift-shard={k}/2",
            "--clipshift-no-cache",
        )
        assert "deselected" in r.stdout.str()
    out = project.path / "merged.json"
    assert main(["merge", str(project.path / "shard1.json"), str(project.path / "shard2.json"), "-o", str(out)]) == 0
    merged = json.loads(out.read_text())
    unsharded = json.loads((project.path / "all.json").read_text())
    assert strip_volatile(merged) == strip_volatile(unsharded)


def test_save_compare_and_a_perturbed_model_fails_the_gate(project, tmp_path):
    save = project.runpytest("--clipshift", "--clipshift-budgets=budgets.toml", "--clipshift-save=release-1")
    saved = list((project.path / ".clipshift").glob("0001_release-1.json"))
    assert saved, save.stdout.str()
    # the candidate: the same architecture with noise added to its weights
    import torch

    model = build_tiny_clip(0)
    with torch.no_grad():
        for p in model.vision_model.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    candidate = save_with_processor(model, tmp_path / "candidate")
    result = project.runpytest(
        "--clipshift",
        "--clipshift-budgets=budgets.toml",
        f"--clipshift-model={candidate}",
        "--clipshift-compare=release-1",
        "--clipshift-compare-fail=patch_similarity.mean:0.0001",
        "--clipshift-compare-fail=cosine.mean:0%",
    )
    text = result.stdout.str()
    assert "compared with" in text and "0001_release-1.json" in text
    same_model = project.runpytest(
        "--clipshift",
        "--clipshift-budgets=budgets.toml",
        "--clipshift-compare=release-1",
        "--clipshift-compare-fail=cosine.mean:0%",
    )
    assert "no regression beyond tolerance" in same_model.stdout.str()
    if "regression(s) beyond tolerance" in text:
        assert result.ret == 1
    # a noisier model: cosine moves, the gate must fail
    with torch.no_grad():
        for p in model.vision_model.parameters():
            p.mul_(3.0)
    worse = save_with_processor(model, tmp_path / "worse")
    gate = project.runpytest(
        "--clipshift",
        "--clipshift-budgets=budgets.toml",
        f"--clipshift-model={worse}",
        "--clipshift-compare=release-1",
        "--clipshift-compare-fail=cosine.mean:0.1%",
    )
    gate.stdout.fnmatch_lines(["*regression(s) beyond tolerance*"])
    assert gate.ret == 1
    # update the baseline instead of failing
    upd = project.runpytest(
        "--clipshift",
        "--clipshift-budgets=budgets.toml",
        f"--clipshift-model={worse}",
        "--clipshift-compare=release-1",
        "--clipshift-compare-fail=cosine.mean:0.1%",
        "--clipshift-update-baseline",
    )
    assert "baseline" in upd.stdout.str() and "updated" in upd.stdout.str()
    again = project.runpytest(
        "--clipshift",
        "--clipshift-budgets=budgets.toml",
        f"--clipshift-model={worse}",
        "--clipshift-compare=release-1",
        "--clipshift-compare-fail=cosine.mean:0.1%",
    )
    assert "no regression beyond tolerance" in again.stdout.str()


def test_compare_refuses_another_seed(project):
    project.runpytest("--clipshift", "--clipshift-budgets=budgets.toml", "--clipshift-save=base")
    result = project.runpytest(
        "--clipshift", "--clipshift-budgets=budgets.toml", "--clipshift-seed=1", "--clipshift-compare=base"
    )
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*clipshift compare refused*it used seed 0, this run seed 1*"])


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_every_broken_image_of_the_set_is_one_start_up_error(project, workers):
    """Before any item runs, exit 4, once, naming every image that cannot be measured (not one per run,
    not one per item); the suite's items never start."""
    (project.path / "images" / "broken.png").write_bytes(b"not a png")
    (project.path / "images" / "empty.png").write_bytes(b"")
    result = project.runpytest("--clipshift", "--clipshift-budgets=budgets.toml", *workers)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = result.stdout.str() + result.stderr.str()
    assert "2 of 6 image(s) cannot be measured" in text
    assert "broken.png': not an image file" in text and "empty.png': file is empty" in text
    assert text.count("cannot be measured") == 1 and "Traceback" not in text and "PASSED" not in text


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_a_missing_model_is_one_start_up_error(project, workers):
    result = project.runpytest(
        "--clipshift", "--clipshift-budgets=budgets.toml", "--clipshift-model=./no/such/model", *workers
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = result.stdout.str() + result.stderr.str()
    assert text.count("no such directory") == 1 and "ModelLoadError" not in text


def test_weights_that_cannot_be_loaded_are_one_start_up_error(project, tiny_clip_dir, tmp_path):
    """A checkpoint that passes the start-up checks but whose weights fail to load: in one process the
    model is loaded before any item runs, so this too is exit 4, said once."""
    import shutil

    model = tmp_path / "torn"
    shutil.copytree(tiny_clip_dir, model)
    for weights in model.glob("*.safetensors"):
        weights.write_bytes(weights.read_bytes()[:100])
    result = project.runpytest("--clipshift", "--clipshift-budgets=budgets.toml", f"--clipshift-model={model}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = result.stdout.str() + result.stderr.str()
    assert text.count("could not load model") == 1 and "model.safetensors" in text


def test_xdist_workers_spread_over_gpus(monkeypatch):
    import torch

    from pytest_clipshift.integration.run.resources import device_for_worker

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert device_for_worker("auto", 3) == "cuda:1"
    assert device_for_worker("auto", None) == "auto"
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert device_for_worker("auto", 5) == "auto"  # one GPU: every worker shares it


def test_a_compare_without_rules_says_it_gates_nothing(project):
    """Deltas without a --clipshift-compare-fail rule are shown, never reported as a passed gate: the
    terminal, the HTML report and `clipshift compare` (and its diff page) all say nothing was gated."""
    from pytest_clipshift.cli import main

    project.runpytest("--clipshift", "--clipshift-budgets=budgets.toml", "--clipshift-save=release")
    result = project.runpytest(
        "--clipshift",
        "--clipshift-budgets=budgets.toml",
        "--clipshift-compare=release",
        "--clipshift-json=run.json",
        "--html=report.html",
        "--self-contained-html",
    )
    text = result.stdout.str()
    assert "no compare rules: the deltas are shown, nothing is gated" in text
    assert "no regression beyond tolerance" not in text
    assert "nothing is gated" in (project.path / "report.html").read_text()
    saved = next((project.path / ".clipshift").glob("0001_release.json"))
    out = project.path / "diff.html"
    assert main(["compare", str(saved), str(project.path / "run.json"), "-o", str(out)]) == 0
    page = out.read_text()
    assert "NOT GATED" in page and "nothing is gated (--fail RULE gates them)" in page


def test_a_rule_checked_by_two_tests_is_counted_and_shown_once(pytester, tiny_clip_dir, small_images):
    """A test measuring a cell the budgets file also gates checks the same rules on the same numbers:
    each (cell, rule) is recorded once, the report cell and the counts name each rule once, and the
    test that asked still fails when its rule breaks."""
    budgets = (
        '[settings]\naugmentations = ["gaussian_noise"]\n\n[defaults]\n'
        '"cosine.mean" = ">= 0.99999"\n"cosine.p05" = ">= 0.0"\n'
    )
    project = make_user_project(pytester, tiny_clip_dir, small_images, budgets, 3, "clipshift_no_cache = true\n")
    project.makepyfile(
        test_own="""
        def test_noise(clipshift):
            clipshift.measure("gaussian_noise", 3)
        """
    )
    result = project.runpytest(
        "--clipshift", "--clipshift-budgets=budgets.toml", "--clipshift-json=out.json", "-p", "no:randomly"
    )
    result.assert_outcomes(failed=2)  # the suite's item and the test: both asked for the broken rule
    checks = json.loads((project.path / "out.json").read_text())["budgets"]
    assert sorted((c["metric"], c["stat"], c["passed"]) for c in checks) == [
        ("cosine", "mean", False),
        ("cosine", "p05", True),
    ]
    row = next(line for line in result.stdout.lines if line.startswith("gaussian_noise[s3] ") and "FAIL" in line)
    assert row.count("cosine.mean >= 0.99999") == 1, row  # the cell names its broken rule once


def test_saved_runs_and_the_cache_default_to_the_rootdir(project, monkeypatch):
    """Started from a subfolder, a run saves beside the ini file (as pytest's .pytest_cache), so the
    next run, started anywhere in the project, compares with it."""
    sub = project.path / "src" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    project.runpytest("--clipshift", "--clipshift-budgets=../../budgets.toml", "--clipshift-save=release")
    assert (project.path / ".clipshift" / "0001_release.json").is_file()
    assert not (sub / ".clipshift").exists()
    monkeypatch.chdir(project.path)
    again = project.runpytest("--clipshift", "--clipshift-budgets=budgets.toml", "--clipshift-compare=release")
    assert "0001_release.json" in again.stdout.str()


def test_a_budgets_file_carries_its_own_compare_rules(pytester, tiny_clip_dir, small_images, tmp_path):
    """``[compare] fail`` in the budgets file gates a compare that names no rule on the command line;
    --clipshift-compare-fail, when given, replaces them."""
    other = save_with_processor(build_tiny_clip(1), tmp_path / "candidate")
    budgets = (
        '[settings]\naugmentations = ["gaussian_noise", "gaussian_blur"]\n'
        '[compare]\nfail = ["attention_correlation.mean:0"]\n'
    )
    project = make_user_project(pytester, tiny_clip_dir, small_images, budgets, 4)
    assert project.runpytest("--clipshift", "--clipshift-budgets=budgets.toml", "--clipshift-save=base").ret == 0
    args = ["--clipshift", "--clipshift-budgets=budgets.toml", "--clipshift-compare=base", f"--clipshift-model={other}"]
    gated = project.runpytest(*args, "--clipshift-json=run.json")
    comparison = json.loads((project.path / "run.json").read_text())["extra"]["comparison"]
    assert comparison["rules"] == ["attention_correlation.mean:0"] and comparison["failed"] >= 1
    assert gated.ret == 1 and "regression(s) against" in gated.stdout.str()
    loose = project.runpytest(*args, "--clipshift-compare-fail=attention_correlation.mean:100%")
    assert loose.ret == 0


@pytest.mark.parametrize(
    "table, message",
    [
        ('[compare]\nfail = "cosine.mean:2%"\n', "must be a list of rules"),
        ('[compare]\nfail = ["cosine.mean"]\n', "expected METRIC.STAT:TOLERANCE"),
        ('[compare]\nfails = ["cosine.mean:2%"]\n', "[compare] holds only fail"),
    ],
)
def test_a_bad_compare_table_is_a_start_up_error_naming_it(pytester, tiny_clip_dir, small_images, table, message):
    project = make_user_project(pytester, tiny_clip_dir, small_images, table, 2)
    result = project.runpytest("--clipshift", "--clipshift-budgets=budgets.toml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str() and "budgets.toml" in result.stderr.str()
