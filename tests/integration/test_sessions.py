"""Hostile and broken sessions, as a user meets them in pytest: interrupted and partial
runs against baselines, outputs that cannot be written, sizes that cannot fit, start-up errors."""

from __future__ import annotations

import json

import pytest

from tests.conftest import make_user_project

pytest_plugins = ["pytester"]

SUITE = """
[settings]
augmentations = ["identity", "gaussian_noise"]
severities = [1]

[defaults]
"cosine.mean" = ">= 0.1"
"""


@pytest.fixture
def project(pytester, tiny_clip_dir, small_images):
    return make_user_project(
        pytester, tiny_clip_dir, small_images, SUITE, 3, "clipshift_budgets = budgets.toml\nclipshift_no_cache = true\n"
    )


def saved(pytester) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((pytester.path / ".clipshift").glob("*.json"))]


def cells(run: dict) -> list[str]:
    return sorted(f"{r['augmentation']}[s{r['severity']}]" for r in run["results"])


def test_a_partial_candidate_fails_the_compare_on_what_it_did_not_measure(project):
    assert project.runpytest("--clipshift", "--clipshift-save=base").ret == 0
    assert saved(project)[0]["coverage"] == {"complete": True, "reasons": []}
    result = project.runpytest("--clipshift", "--clipshift-compare=base", "-k", "identity")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*1 baseline cell(s) not measured in this run: gaussian_noise[[]s1[]]*"])
    allowed = project.runpytest(
        "--clipshift", "--clipshift-compare=base", "-k", "identity", "--clipshift-compare-allow-missing"
    )
    assert allowed.ret == 0
    allowed.stdout.fnmatch_lines(["*allowed by --clipshift-compare-allow-missing*gaussian_noise[[]s1[]]*"])


def test_a_partial_update_keeps_the_baseline_cells_it_did_not_measure(project):
    assert project.runpytest("--clipshift", "--clipshift-save=base").ret == 0
    before = saved(project)[0]
    result = project.runpytest(
        "--clipshift", "--clipshift-compare=base", "--clipshift-update-baseline", "--clipshift-seed=0", "-k", "identity"
    )
    result.stdout.fnmatch_lines(
        [
            "*baseline*updated with this run's 1 cell(s); kept 1 cell(s) this run did not "
            "measure: gaussian_noise[[]s1[]]*"
        ]
    )
    after = saved(project)[0]
    assert cells(after) == cells(before) == ["gaussian_noise[s1]", "identity[s1]"]
    noise = [r for r in after["results"] if r["augmentation"] == "gaussian_noise"]
    assert noise == [r for r in before["results"] if r["augmentation"] == "gaussian_noise"]


def test_an_interrupted_session_saves_an_incomplete_run_and_never_updates_a_baseline(project):
    assert project.runpytest("--clipshift", "--clipshift-save=base").ret == 0
    before = (project.path / ".clipshift" / "0001_base.json").read_text()
    # Ctrl-C after the first gate item: a user test that raises KeyboardInterrupt, ordered last
    project.makepyfile(
        test_zz_stop="""
        def test_stop():
            raise KeyboardInterrupt
    """
    )
    project.makeconftest("""
        def pytest_collection_modifyitems(items):
            items.sort(key=lambda item: ("stop" in item.name, "noise" in item.name))
    """)
    result = project.runpytest(
        "--clipshift",
        "--clipshift-compare=base",
        "--clipshift-update-baseline",
        "--clipshift-save=partial",
        no_reraise_ctrlc=True,
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*baseline*NOT updated: this session was interrupted*"])
    assert (project.path / ".clipshift" / "0001_base.json").read_text() == before
    partial = json.loads((project.path / ".clipshift" / "0002_partial.json").read_text())
    assert partial["coverage"] == {"complete": False, "reasons": ["interrupted"]}


def test_outputs_that_cannot_be_written_fail_the_run_with_the_path(project):
    (project.path / "out.json").mkdir()
    (project.path / "store").write_text("a file, not a folder")
    result = project.runpytest(
        "--clipshift", "--clipshift-json=out.json", "--clipshift-save=x", "--clipshift-storage=store"
    )
    assert result.ret == 1
    text = result.stdout.str()
    assert "out.json: it is a directory" in text and "storage folder" in text and "is a file" in text
    assert "Traceback" not in text
    assert sorted(p.name for p in project.path.iterdir() if p.name.endswith(".tmp")) == []


def test_an_unwritable_cache_warns_once_and_the_run_passes(project):
    (project.path / "blocked").write_text("a file where the cache folder should be")
    result = project.runpytest(
        "--clipshift", "--clipshift-cache-dir=blocked", "-p", "no:clipshift_no_cache", "-o", "clipshift_no_cache=false"
    )
    assert result.ret == 0
    result.assert_outcomes(passed=2)
    assert result.stdout.str().count("cannot be written") == 1


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["--clipshift-canvas-size=100000"],
            "--clipshift-canvas-size = 100000: must be a whole number between 8 and 4096",
        ),
        (
            ["--clipshift-batch-size=100000"],
            "--clipshift-batch-size = 100000: must be a whole number between 1 and 4096",
        ),
        (["--clipshift-device=cuda"], "--clipshift-device: device 'cuda' requested but torch"),
        (["--clipshift-images=empty"], "--clipshift-images: image directory"),
        (["--clipshift-metrics", "attention_correlation@99"], "metric 'attention_correlation@99': model"),
    ],
)
def test_startup_errors_are_usage_errors_before_any_item(project, args, message):
    (project.path / "empty").mkdir()
    result = project.runpytest("--clipshift", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert message in err, err
    assert "passed" not in result.stdout.str() and "failed" not in result.stdout.str()


PATH_OPTIONS = (
    "--clipshift-model",
    "--clipshift-images",
    "--clipshift-budgets",
    "--clipshift-json",
    "--clipshift-storage",
    "--clipshift-cache-dir",
)


@pytest.mark.parametrize("flag", PATH_OPTIONS)
def test_a_path_value_written_with_a_space_never_silently_loses_the_ini_file(pytester, flag):
    """Issue 17: ``--clipshift-model ../candidate`` made pytest take ``../candidate`` for a test path
    while finding its ini file: rootdir moved up, the suite's pytest.ini was missed, nothing ran."""
    outside = pytester.path.parent / f"outside-{flag[12:]}"
    outside.mkdir(exist_ok=True)
    pytester.makeini("[pytest]\nclipshift_seed = 3\n")
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    spaced = pytester.runpytest(flag, f"../{outside.name}")
    assert spaced.ret == pytest.ExitCode.USAGE_ERROR
    err = spaced.stderr.str()
    assert f"{flag} ../{outside.name}: pytest read" in err and f"Write it with '=': {flag}=../{outside.name}" in err
    joined = pytester.runpytest(f"{flag}=../{outside.name}")
    assert joined.ret == 0 and "pytest read" not in joined.stderr.str()
    joined.assert_outcomes(passed=1)
    inside = pytester.runpytest(flag, "inside.json")  # a value that moves nothing works as written
    assert inside.ret == 0


def test_deselection_under_xdist_is_recorded_as_an_incomplete_run(project):
    pytest.importorskip("xdist")
    result = project.runpytest_subprocess("--clipshift", "--clipshift-json=out.json", "-n", "2", "-k", "identity")
    assert result.ret == 0
    data = json.loads((project.path / "out.json").read_text())
    assert data["coverage"] == {"complete": False, "reasons": ["1 item(s) deselected"]}
