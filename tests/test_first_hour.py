"""What a new user met in the first hour (issue 16, the parts done so far): stray files in an image
folder, a misspelled marker keyword, a deprecation warning on every run."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from .conftest import make_user_project

pytest_plugins = ["pytester"]


@pytest.fixture
def project(pytester, tiny_clip_dir, small_images):
    return make_user_project(
        pytester, tiny_clip_dir, small_images, '[defaults]\n"cosine.mean" = 0.1\n', 2, "clipshift_no_cache = true\n"
    )


def test_files_that_are_not_images_are_skipped_with_one_warning(project):
    (project.path / "images" / "README").write_text("about these images")
    (project.path / "images" / "notes.txt").write_text("notes")
    (project.path / "images" / ".DS_Store").write_bytes(b"\x00\x01")
    project.makepyfile(
        test_one="""
        def test_blur(clipshift):
            assert clipshift.measure("gaussian_blur", 1).n_images == 2
    """
    )
    result = project.runpytest("--clipshift", "--clipshift-json=out.json")
    assert result.ret == 0
    lines = [line for line in result.stdout.lines if "not images by their extension" in line]
    assert len(lines) == 1 and ".DS_Store, README, notes.txt" in lines[0]
    assert any("notes.txt" in w for w in json.loads((project.path / "out.json").read_text())["warnings"])


def test_a_folder_of_no_images_names_what_it_holds(project):
    (project.path / "docs").mkdir()
    (project.path / "docs" / "README").write_text("x")
    result = project.runpytest("--clipshift", "--clipshift-images=docs")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "holds no image files (it holds only README); image files end in .png, .jpg" in result.stderr.str()


def test_a_broken_image_among_them_is_still_an_error(project):
    (project.path / "images" / "broken.png").write_bytes(b"not a png")
    project.makepyfile(
        test_one="""
        def test_blur(clipshift):
            clipshift.measure("gaussian_blur", 1)
    """
    )
    result = project.runpytest("--clipshift")
    assert result.ret == 1
    assert "broken.png" in result.stdout.str()


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


def test_drawing_the_report_figures_warns_about_nothing():
    from pytest_clipshift.core.runs.results import RunResult, ShiftResult
    from pytest_clipshift.report import figures as F

    rng = np.random.default_rng(0)
    results = [
        ShiftResult(
            augmentation=a, severity=3, image_names=list("abcd"), values={"cosine": rng.uniform(0.8, 1, 4)}, seed=0
        )
        for a in ("identity", "gaussian_blur")
    ]
    run = RunResult(
        model={"name": "m", "fingerprint": "f"},
        seed=0,
        image_names=list("abcd"),
        image_hash="h",
        image_source="s",
        results=results,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "vert: bool" deprecation used to print on every run
        assert F.distributions_png(run, 3)


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


def test_cli_compare_lists_failures_first_and_can_show_only_them(tmp_path, capsys):
    from pytest_clipshift.cli import main
    from pytest_clipshift.core.runs.results import RunResult, ShiftResult

    def write(name, noise, flip):
        cells = [
            ShiftResult(
                augmentation="gaussian_noise",
                severity=3,
                image_names=list("abcdefgh"),
                values={"cosine": np.full(8, noise)},
                seed=0,
            ),
            ShiftResult(
                augmentation="horizontal_flip",
                severity=3,
                image_names=list("abcdefgh"),
                values={"cosine": np.full(8, flip)},
                seed=0,
            ),
        ]
        return str(
            RunResult(
                model={"name": "m", "fingerprint": "f"},
                seed=0,
                image_names=list("abcdefgh"),
                image_hash="h",
                image_source="s",
                results=cells,
            ).write_json(tmp_path / name)
        )

    base, cand = write("base.json", 0.9, 0.95), write("cand.json", 0.9, 0.80)
    assert main(["compare", base, cand, "--fail", "cosine.mean:0.05", "--paired"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("horizontal_flip[s3] cosine.mean: 0.9500 -> 0.8000 (-0.1500)  significant  FAIL")
    assert out[1] == "gaussian_noise[s3] cosine.mean: 0.9000 -> 0.9000 (+0.0000)  not significant"
    assert main(["compare", base, cand, "--fail", "cosine.mean:0.05", "--regressions-only"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["horizontal_flip[s3] cosine.mean"]


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
        ["*clipshift gate FAILED: 1 regression(s) against *better.json*", "*2 passed*1 clipshift gate failed*"]
    )


def test_an_empty_model_directory_names_the_real_problem(tmp_path):
    from pytest_clipshift.core.errors import ModelLoadError
    from pytest_clipshift.core.models.encoders import load_encoder

    (tmp_path / "model").mkdir()
    with pytest.raises(ModelLoadError) as info:
        load_encoder(str(tmp_path / "model"), "cpu")
    message = str(info.value)
    assert "has no config.json" in message and "it is empty" in message and "download it" not in message
    (tmp_path / "model" / "weights.bin").write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="it holds weights.bin"):
        load_encoder(str(tmp_path / "model"), "cpu")


def test_a_mistyped_hub_id_offline_fails_fast_and_suggests_the_cached_one(tmp_path, monkeypatch):
    """No network: the download is not attempted (transformers would retry for ~26 s); the error says
    the hub cannot be reached and names the cached id the user probably meant."""
    import transformers

    from pytest_clipshift.core.errors import ModelLoadError
    from pytest_clipshift.core.models import encoders

    cache = tmp_path / "hub"
    (cache / "models--openai--clip-vit-base-patch32").mkdir(parents=True)
    monkeypatch.setattr(encoders, "_hub_cache_dir", lambda: str(cache))
    monkeypatch.setattr(encoders, "_hub_reachable", lambda timeout=2.0: False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    attempts = []
    real = transformers.AutoModel.from_pretrained

    def recording(location, *args, local_files_only=False, **kwargs):
        attempts.append(local_files_only)
        return real(location, *args, local_files_only=local_files_only, **kwargs)

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", recording)
    with pytest.raises(ModelLoadError) as info:
        encoders.load_encoder("openai/clip-vit-base-patch23", "cpu")
    message = str(info.value)
    assert "cannot be reached from this machine (offline)" in message
    assert "Did you mean openai/clip-vit-base-patch32" in message
    assert attempts == [True]  # the local cache was tried; no download (transformers retries for ~26 s)


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
