"""The ``clipshift`` command on crafted results files and impossible output targets: a clean exit 2
with a message, never a traceback or a half-written file; files keep the umask's mode; terminal
text from outside cannot steer the terminal."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from pytest_clipshift.cli import main as cli
from pytest_clipshift.core.text import clean_text
from tests.core.runs.test_hostile_files import results_dict, write  # noqa: F401  (the module's fixture)


def mutated(results_dict, mutate) -> dict:
    data = json.loads(json.dumps(results_dict))
    mutate(data)
    return data


@pytest.mark.parametrize(
    "mutate,message",
    [
        (
            lambda d: d["results"][1]["metrics"]["cosine"].__setitem__("per_image", [1e308, -1e308, 1e308]),
            "per_image[0]: 1e+308 is greater than the maximum",
        ),
        (
            lambda d: d["results"][1]["metrics"]["cosine"].__setitem__("mean", -1e308),
            "cosine.mean: -1e+308 is less than",
        ),
        (lambda d: d["extra"].__setitem__("timing", "fast"), "field extra.timing: 'fast' is not of type 'object'"),
    ],
)
def test_schema_valid_looking_but_crafted_fields_exit_2(tmp_path, results_dict, capsys, mutate, message):
    path = write(tmp_path, "crafted.json", mutated(results_dict, mutate))
    for argv in (["report", path, "-o", str(tmp_path / "r.html")], ["compare", path, path]):
        assert cli(argv) == 2
        assert message in capsys.readouterr().err


def test_infinity_written_as_a_huge_literal_and_deep_nesting_exit_2(tmp_path, results_dict, capsys):
    text = json.dumps(results_dict).replace('"seed": 0', '"seed": 1e999', 1)
    assert cli(["report", write(tmp_path, "inf.json", text), "-o", str(tmp_path / "r.html")]) == 2
    assert "1e999 is out of range" in capsys.readouterr().err
    assert cli(["report", write(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000), "-o", "r.html"]) == 2
    assert "nested too deeply" in capsys.readouterr().err


def test_output_targets_that_cannot_be_written_exit_2_naming_them(tmp_path, results_dict, capsys):
    path = write(tmp_path, "run.json", results_dict)
    (tmp_path / "a-file").write_text("x")
    for argv, message in (
        (["report", path, "-o", str(tmp_path)], "it is a directory"),
        (["report", path, "-o", str(tmp_path / "a-file" / "r.html")], "its folder cannot be created"),
        (["compare", path, path, "-o", str(tmp_path)], "cannot write the comparison report"),
    ):
        assert cli(argv) == 2
        assert message in capsys.readouterr().err


def test_a_full_disk_leaves_the_old_report_whole(tmp_path, results_dict, capsys, monkeypatch):
    path = write(tmp_path, "run.json", results_dict)
    target = tmp_path / "r.html"
    target.write_text("the previous report")
    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, data):
            self.fh.write(data[: len(data) // 2])
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: FullDisk(real_fdopen(fd, mode)))
    assert cli(["report", path, "-o", str(target)]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert target.read_text() == "the previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "run.json"]  # no temporary file left


def test_written_files_take_the_umask_mode_not_0600(tmp_path, results_dict):
    from pytest_clipshift.core.runs.jsonfile import _file_mode, write_json_atomic

    old = os.umask(0o022)
    _file_mode.cache_clear()
    try:
        written = write_json_atomic(tmp_path / "baseline.json", results_dict)
        assert stat.S_IMODE(written.stat().st_mode) == 0o644
    finally:
        os.umask(old)
        _file_mode.cache_clear()


def test_compare_into_a_closed_pipe_exits_quietly(tmp_path, results_dict):
    path = write(tmp_path, "run.json", results_dict)
    script = "import sys; from pytest_clipshift.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run(
        f"{sys.executable} -c '{script}' compare {path} {path} | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout.count("\n") == 1
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr


def test_escape_sequences_and_bidi_overrides_are_shown_not_obeyed():
    assert clean_text("cat\x1b[2J\x1b[31m.png") == "cat\\x1b[2J\\x1b[31m.png"
    assert clean_text("photo\u202egpj.exe") == "photo\\u202egpj.exe"
    assert clean_text("line one\nline two\tok") == "line one\nline two\tok"


def test_an_image_name_with_escapes_reaches_the_terminal_escaped(pytester, tiny_clip_dir, small_images):
    from PIL import Image

    folder = pytester.path / "images"
    folder.mkdir()
    Image.fromarray(small_images.arrays[0]).save(folder / "a.png")
    (folder / "evil\x1b[31m.txt").write_text("not an image")
    pytester.makeini(
        f"[pytest]\nclipshift_model = {tiny_clip_dir}\nclipshift_images = images\nclipshift_device = cpu\n"
        "clipshift_no_cache = true\nclipshift_augmentations = identity\nclipshift_severities = 1\n"
    )
    pytester.makepyfile(test_gate="def test_gate(clipshift, augmentation):\n    clipshift.measure(augmentation)\n")
    result = pytester.runpytest_subprocess("--clipshift")
    assert result.ret == 0, result.stdout.str()
    assert "\x1b[31m.txt" not in result.stdout.str() and "evil\\x1b[31m.txt" in result.stdout.str()


def test_history_tabulates_the_saved_runs_and_draws_their_trend(tmp_path, capsys):
    """Two saved runs of a suite: one row each, oldest first, with the verdict and each statistic's
    mean over the cells; a file that is not a run is named and skipped; the page draws the trend."""
    import numpy as np

    from pytest_clipshift.cli import main
    from pytest_clipshift.core.runs.results import RunResult, ShiftResult
    from pytest_clipshift.gate.storage import Storage

    storage = Storage(tmp_path / "runs")
    for version, cosine in (("release-1", 0.9), ("release-2", 0.7)):
        cells = [
            ShiftResult(augmentation=a, severity=3, image_names=["x", "y"], values={"cosine": np.full(2, c)}, seed=0)
            for a, c in (("identity", 1.0), ("gaussian_noise", cosine), ("gaussian_blur", cosine + 0.05))
        ]
        run = RunResult(
            model={"name": version, "fingerprint": f"fp-{version}"},
            seed=0,
            image_names=["x", "y"],
            image_hash="h",
            image_source="s",
            results=cells,
            created=f"2026-12-0{version[-1]}T10:00:00+00:00",
        )
        storage.save(run.to_dict(), version)
    (tmp_path / "runs" / "0003_broken.json").write_text("{")
    page = tmp_path / "history.html"
    assert main(["history", str(tmp_path / "runs"), "--statistic", "cosine.mean", "-o", str(page)]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split() == ["run", "created", "fingerprint", "verdict", "cosine.mean"]
    assert lines[1].split() == ["0001_release-1", "2026-12-01T10:00:00+00:00", "fp-release-1", "measured", "0.9250"]
    assert lines[2].split()[0] == "0002_release-2" and lines[2].split()[-1] == "0.7250"  # the noise floor aside
    assert "skipped 0003_broken.json" in err
    assert page.read_text().count('alt="cosine.mean across runs"') == 1
    assert main(["history", str(tmp_path / "empty")]) == 2


def test_export_writes_github_action_benchmarks_custom_formats(tmp_path):
    import json

    import numpy as np

    from pytest_clipshift.cli import main
    from pytest_clipshift.core.runs.results import RunResult, ShiftResult

    cell = ShiftResult(
        augmentation="gaussian_noise",
        severity=3,
        image_names=["x", "y"],
        seed=0,
        values={"cosine": np.array([0.8, 0.9]), "l2": np.array([0.2, np.nan])},
    )
    run = RunResult(
        model={"name": "m", "fingerprint": "f"},
        seed=0,
        image_names=["x", "y"],
        image_hash="h",
        image_source="s",
        results=[cell],
    )
    run.write_json(tmp_path / "run.json")
    args = ["export", str(tmp_path / "run.json"), "--format", "github-action-benchmark", "-o", str(tmp_path / "out")]
    assert main([*args, "--statistic", "cosine.mean", "--statistic", "l2.mean", "--statistic", "l2.min"]) == 0
    bigger = json.loads((tmp_path / "out" / "bigger-is-better.json").read_text())
    smaller = json.loads((tmp_path / "out" / "smaller-is-better.json").read_text())
    assert bigger == [{"name": "gaussian_noise[s3] cosine.mean", "unit": "cosine", "value": 0.85}]
    assert smaller == [  # an undefined value is left out of the mean, never written as a number
        {"name": "gaussian_noise[s3] l2.mean", "unit": "l2", "value": 0.2},
        {"name": "gaussian_noise[s3] l2.min", "unit": "l2", "value": 0.2},
    ]
    assert main([*args, "--statistic", "cosine.avg"]) == 2
