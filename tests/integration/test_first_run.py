"""A first run as a user meets it: a misspelled marker keyword, a run without the flag, collected
counts with the suite and shards, a failed compare in the final line, cores shared by xdist workers."""

from __future__ import annotations

import json

import pytest

from tests.conftest import make_user_project

pytest_plugins = ["pytester"]


@pytest.fixture
def project(pytester, tiny_clip_dir, small_images):
    return make_user_project(
        pytester, tiny_clip_dir, small_images, '[defaults]\n"cosine.mean" = 0.1\n', 2, "clipshift_no_cache = true\n"
    )


def test_a_misspelled_marker_keyword_is_refused_with_the_valid_ones(project):
    project.makepyfile(
        test_typo="""
        import pytest

        @pytest.mark.clipshift(augmentation=["gaussian_blur"])
        def test_blur(clipshift):
            pass
    """
    )
    result = project.runpytest("--clipshift")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        "test_typo.py::test_blur: @pytest.mark.clipshift got unknown keyword(s) augmentation; "
        "valid: augmentations, severities, images, budget"
    ) in result.stderr.str()


def test_without_the_flag_one_line_says_why_tests_were_skipped(pytester):
    pytester.makepyfile(
        test_user="""
        def test_plain():
            pass
        def test_robust(clipshift):
            raise AssertionError("must not run")
    """
    )
    result = pytester.runpytest("--clipshift-seed=3", "--clipshift-device=cpu")
    result.assert_outcomes(passed=1, skipped=1)
    lines = [line for line in result.stdout.lines if line.startswith("clipshift: ")]
    assert lines == [
        "clipshift: 1 robustness test(s) skipped because --clipshift is off (although "
        "--clipshift-device, --clipshift-seed were given); run pytest --clipshift, or set clipshift = true "
        "in the ini file"
    ]
    quiet = pytester.runpytest()
    assert [line for line in quiet.stdout.lines if line.startswith("clipshift: ")] == [
        "clipshift: 1 robustness test(s) skipped because --clipshift is off; run pytest --clipshift, or set "
        "clipshift = true in the ini file"
    ]


def test_collected_counts_include_the_suite_and_shards_add_up(project):
    """The zero-code suite's items are counted in "collected N items"; a shard's deselection leaves a
    non-negative selection that adds up to what runs."""
    project.makefile(
        ".toml",
        suite='[settings]\naugmentations = ["identity", "gaussian_noise", "gaussian_blur", '
        '"horizontal_flip"]\n[defaults]\n"cosine.mean" = 0.1\n',
    )
    whole = project.runpytest("--clipshift", "--clipshift-budgets=suite.toml")
    whole.stdout.fnmatch_lines(["collected 4 items"])
    whole.assert_outcomes(passed=4)
    ran = 0
    for k in (1, 2):
        shard = project.runpytest("--clipshift", "--clipshift-budgets=suite.toml", f"--clipshift-shard={k}/2")
        line = next(x for x in shard.stdout.lines if x.startswith("collected"))
        numbers = [int(t) for t in line.replace("/", " ").split() if t.isdigit()]
        assert numbers[0] == 4 and (len(numbers) == 1 or numbers[0] - numbers[1] == numbers[2] >= 0), line
        ran += shard.parseoutcomes().get("passed", 0)
    assert ran == 4


def test_a_failed_compare_is_red_and_counted_in_the_final_line(project):
    """Every test passes but the gate fails: a red line says so, and pytest's last line counts it."""
    project.makefile(".toml", suite='[settings]\naugmentations = ["identity", "gaussian_noise"]\n')
    project.runpytest("--clipshift", "--clipshift-budgets=suite.toml", "--clipshift-save=base")
    data = json.loads((project.path / ".clipshift" / "0001_base.json").read_text())
    for cell in data["results"]:  # a baseline in which noise did not move: today's run is a regression
        if cell["augmentation"] == "gaussian_noise":
            cosine = cell["metrics"]["cosine"]
            cosine["per_image"] = [1.0] * len(cosine["per_image"])
            for stat in ("mean", "median", "min", "max", "p05", "p95"):
                cosine[stat] = 1.0
            cosine["std"], cosine["ci95"] = 0.0, [1.0, 1.0]
    (project.path / "better.json").write_text(json.dumps(data))
    result = project.runpytest(
        "--clipshift",
        "--clipshift-budgets=suite.toml",
        "--clipshift-compare=better.json",
        "--clipshift-compare-fail=cosine.mean:0.000001",
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "clipshift ..*[[]100%[]]F",
            "*_ clipshift gate _*",
            "clipshift gate FAILED: 1 regression(s) against *better.json",
            "*clipshift gate FAILED: 1 regression(s) against *better.json*",
            "FAILED clipshift::gate - clipshift gate FAILED: 1 regression*",
            "*1 failed, 2 passed*",
        ]
    )


def test_xdist_workers_share_the_cores_instead_of_fighting_for_them(project, monkeypatch):
    """Each of -n 2 workers gets cores // 2 threads (torch, BLAS, OpenCV), recorded in the results;
    a budget the user set wins; nothing is left in the environment afterwards."""
    import os

    for var in (
        "CLIPSHIFT_THREADS",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
    ):
        monkeypatch.delenv(var, raising=False)
    project.makefile(".toml", suite='[settings]\naugmentations = ["identity", "gaussian_noise"]\n')
    result = project.runpytest("--clipshift", "--clipshift-budgets=suite.toml", "-n", "2", "--clipshift-json=out.json")
    result.assert_outcomes(passed=2)
    timing = json.loads((project.path / "out.json").read_text())["extra"]["timing"]
    assert timing["threads_per_worker"] == max(1, (os.cpu_count() or 1) // 2)
    assert "CLIPSHIFT_THREADS" not in os.environ and "OMP_NUM_THREADS" not in os.environ
    monkeypatch.setenv("CLIPSHIFT_THREADS", "1")
    project.runpytest("--clipshift", "--clipshift-budgets=suite.toml", "-n", "2", "--clipshift-json=out.json")
    assert json.loads((project.path / "out.json").read_text())["extra"]["timing"]["threads_per_worker"] == 1
    single = project.runpytest("--clipshift", "--clipshift-budgets=suite.toml", "--clipshift-json=out.json")
    single.assert_outcomes(passed=2)
