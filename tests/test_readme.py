"""The promises of the README and the docs site (``docs/*.md``) that a test can keep: their code
examples run as written, and every option exists and is documented."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README = "\n".join(page.read_text(encoding="utf-8") for page in PAGES)  # the README and every docs page


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_python_api_example_runs_as_written(tmp_path, monkeypatch, capsys):
    block = next(b for b in python_blocks() if "measure(encoder, images" in b)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "'mean'" in out and (tmp_path / "run.json").exists()


def test_every_documented_flag_exists():
    from pytest_clipshift.integration.config import OPTIONS

    documented = set(re.findall(r"`(--clipshift[a-z-]*)", README))
    real = {o.flag for o in OPTIONS}
    assert documented <= real, documented - real
    assert real <= documented, real - documented


def test_custom_tests_example_runs_as_written_on_the_demo(pytester):
    """The "Writing custom robustness tests" block, as a user's test file, on the demo model."""
    block = next(b for b in python_blocks() if "def test_where_noise_breaks" in b)
    pytester.makepyfile(test_readme_example=block)
    pytester.makeini(
        "[pytest]\nclipshift_model = demo\nclipshift_images = demo-scenes\nclipshift_max_images = 4\n"
        "clipshift_device = cpu\nclipshift_augmentations = gaussian_blur\nclipshift_severities = 1\n"
    )
    result = pytester.runpytest("--clipshift", "-p", "no:randomly")
    result.assert_outcomes(passed=4)


def test_own_metric_example_registers_and_measures(tmp_path):
    """The "Your own metric" block runs as written, and the metric it registers is measured; a results
    file carrying it renders in a process that never registered it."""
    from pytest_clipshift import load_encoder, load_image_set, measure
    from pytest_clipshift.core.metrics import METRICS
    from pytest_clipshift.core.runs.results import RunResult
    from pytest_clipshift.report.html import write_report

    block = next(b for b in python_blocks() if "register_metric(" in b)
    try:
        exec(compile(block, "README.md", "exec"), {})
        run = measure(
            load_encoder("demo", device="cpu"),
            load_image_set("demo-scenes", max_images=2),
            ["identity", "gaussian_noise"],
            metrics=["cosine", "pixel_change"],
        )
        assert run.get("identity", 3).stat("pixel_change", "mean") == 0.0
        assert run.get("gaussian_noise", 3).stat("pixel_change", "mean") > 0.01
        run.write_json(tmp_path / "run.json")
    finally:
        METRICS.pop("pixel_change", None)
    page = write_report(RunResult.read_json(tmp_path / "run.json"), tmp_path / "report.html").read_text()
    assert "pixel_change" in page and "not registered in this process" in page


def test_own_model_class_example_follows_the_encoder_protocol():
    """The own-encoder block, run with a stand-in model that has an ``encode_image``."""
    import numpy as np
    import torch

    from pytest_clipshift import load_image_set, measure

    block = next(b for b in python_blocks() if "class MyEncoder" in b)
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)

    class StandIn(torch.nn.Module):  # open_clip's interface: encode_image(batch) -> (B, D)
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.proj = torch.nn.Linear(3 * 8 * 8, 16)

        def encode_image(self, batch):
            return self.proj(torch.nn.functional.adaptive_avg_pool2d(batch, 8).flatten(1))

    def preprocess(image):
        return torch.from_numpy(np.asarray(image, np.float32) / 255.0).permute(2, 0, 1)

    encoder = scope["MyEncoder"](StandIn(), preprocess, "stand-in")
    run = measure(
        encoder,
        load_image_set("demo-scenes", max_images=3),
        ["identity", "gaussian_noise"],
        metrics=["cosine", "l2_normalized"],
    )
    assert run.get("identity", 3).stat("cosine", "mean") > 0.9999
    assert run.get("gaussian_noise", 3).stat("cosine", "mean") < 1.0


def code_blocks(language: str):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_budgets_example_runs_as_the_zero_code_suite_on_the_demo(pytester):
    """The README's complete budgets file, as written, on the demo model: 4 augmentations x 3
    severities collected and judged (the layer-6 rule included: the demo has 6 layers)."""
    block = next(b for b in code_blocks("toml") if "severities = [1, 3, 5]" in b)
    pytester.makefile(".toml", budgets=block)
    pytester.makeini(
        "[pytest]\nclipshift_model = demo\nclipshift_images = demo-scenes\nclipshift_max_images = 4\n"
        "clipshift_device = cpu\nclipshift_no_cache = true\n"
    )
    result = pytester.runpytest("--clipshift", "--clipshift-budgets=budgets.toml", "--clipshift-json=out.json")
    result.stdout.fnmatch_lines(["collected 12 items"])
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 12 and "error" not in outcomes
    import json

    checks = json.loads((pytester.path / "out.json").read_text())["budgets"]
    assert {"layer_cka@6", "zero_shot_flip", "cosine", "attention_correlation"} <= {c["metric"] for c in checks}


def test_clipshift_command_block_runs_as_written(pytester, tiny_clip_dir, small_images, monkeypatch):
    """Each line of the README's `clipshift` block, on results files made by real runs."""
    import shlex
    import shutil

    from pytest_clipshift.cli import main
    from tests.conftest import make_user_project

    project = make_user_project(
        pytester,
        tiny_clip_dir,
        small_images,
        '[settings]\naugmentations = ["identity", "gaussian_noise", "gaussian_blur"]\n',
        2,
        "clipshift_no_cache = true\n",
    )
    for k in (1, 2):
        project.runpytest(
            "--clipshift",
            "--clipshift-budgets=budgets.toml",
            f"--clipshift-shard={k}/2",
            f"--clipshift-json=shard{k}.json",
        )
    project.runpytest("--clipshift", "--clipshift-budgets=budgets.toml", "--clipshift-json=baseline.json")
    shutil.copy(project.path / "baseline.json", project.path / "candidate.json")
    monkeypatch.chdir(project.path)
    block = next(b for b in code_blocks("bash") if "clipshift merge" in b)
    lines = [line.split("#")[0].strip() for line in block.splitlines() if line.strip().startswith("clipshift ")]
    order = sorted(lines, key=lambda line: "merge" not in line)  # merge first: it writes run.json
    for line in order:
        assert main(shlex.split(line)[1:]) == 0, line  # the same runs: no regression
    assert (project.path / "report.html").exists() and (project.path / "diff.html").exists()


def test_the_ini_to_copy_runs_as_written(pytester, tiny_clip_dir, small_images):
    """The README's ``pytest.ini`` and ``budgets.toml``, as written, in a project laid out as they
    say: a ``save_pretrained`` directory at models/candidate, images in data/images."""
    import shutil

    from PIL import Image

    ini = next(b for b in code_blocks("ini") if "clipshift_model" in b)
    budgets = next(b for b in code_blocks("toml") if '"study"' in b)
    shutil.copytree(tiny_clip_dir, pytester.path / "models" / "candidate")
    (pytester.path / "data" / "images").mkdir(parents=True)
    for name, arr in zip(small_images.names[:3], small_images.arrays[:3]):
        Image.fromarray(arr).save(pytester.path / "data" / "images" / name)
    (pytester.path / "pytest.ini").write_text(ini)
    (pytester.path / "budgets.toml").write_text(budgets)
    result = pytester.runpytest("--clipshift", "--clipshift-device=cpu", "--clipshift-no-cache")
    result.stdout.fnmatch_lines(["collected 10 items"])  # identity and the study's nine, at severity 3
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 10 and "error" not in outcomes
    assert result.ret in (0, 1), result.ret  # a verdict, not a usage error


def test_every_relative_link_of_the_readme_resolves():
    """The README links into ``docs/`` (the docs site's own links are checked by ``mkdocs build --strict``)."""
    links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", (ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(links) > 10
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, missing


def test_the_open_clip_weights_block_names_the_file_its_download_writes(tmp_path, monkeypatch):
    """The docs' open_clip block as written: the file `hf download --local-dir` writes is the one the
    pytest line names, and that spec passes the start-up checks once the file is there (the download
    itself needs a network this machine does not have); before, it is one clear start-up error."""
    import shlex

    from pytest_clipshift.core.errors import ConfigError
    from pytest_clipshift.integration.preflight import _check_model

    block = next(b for b in code_blocks("bash") if "hf download laion/" in b)
    download, run = [shlex.split(line) for line in block.strip().splitlines()]
    assert download[:2] == ["hf", "download"] and download[3] == "open_clip_model.safetensors"
    written = Path(download[download.index("--local-dir") + 1]) / download[3]
    spec = next(a for a in run if a.startswith("--clipshift-model=")).split("=", 1)[1]
    assert spec == f"open_clip:ViT-B-32:{written}"
    monkeypatch.chdir(tmp_path)

    class Cfg:
        model, trust_remote_code = spec, False

    with pytest.raises(ConfigError, match="no such file"):
        _check_model(Cfg)
    written.parent.mkdir(parents=True)
    written.write_bytes(b"weights")
    _check_model(Cfg)


def test_the_ci_pages_history_and_export_block_runs_as_written(tmp_path, monkeypatch):
    """docs/ci.md's `clipshift history` and `clipshift export` lines, in a folder whose .clipshift holds
    two saved runs of a suite (0001_release, 0002_release)."""
    import shlex

    import numpy as np

    from pytest_clipshift.cli import main
    from pytest_clipshift.core.runs.results import RunResult, ShiftResult
    from pytest_clipshift.gate.storage import Storage

    monkeypatch.chdir(tmp_path)
    for cosine in (0.9, 0.8):
        cell = ShiftResult(
            augmentation="gaussian_noise", severity=3, image_names=["a"], values={"cosine": np.full(1, cosine)}, seed=0
        )
        run = RunResult(
            model={"name": "m", "fingerprint": "f"},
            seed=0,
            image_names=["a"],
            image_hash="h",
            image_source="s",
            results=[cell],
        )
        Storage(".clipshift").save(run.to_dict(), "release")
    block = next(b for b in code_blocks("bash") if "clipshift history" in b)
    for line in (line for line in block.splitlines() if line.strip()):
        assert main(shlex.split(line)[1:]) == 0, line
    assert (tmp_path / "history.html").exists() and (tmp_path / "benchmark" / "bigger-is-better.json").exists()


def test_the_worst_case_budget_example_runs_as_written_on_the_demo(pytester):
    """docs/adversarial.md's budgets, as written, on the demo model and 12 of its scenes: robust
    zero-shot accuracy at 1/255 and the worst case's cosine, gated and kept."""
    block = next(b for b in code_blocks("toml") if "adversarial.zero_shot" in b)
    pytester.makefile(".toml", budgets=block)
    pytester.makeini(
        "[pytest]\nclipshift_model = demo\nclipshift_images = demo-scenes\nclipshift_max_images = 12\n"
        "clipshift_device = cpu\nclipshift_no_cache = true\n"
    )
    result = pytester.runpytest("--clipshift", "--clipshift-budgets=budgets.toml", "--clipshift-json=out.json")
    result.stdout.fnmatch_lines(["collected 4 items", "*zero-shot accuracy * clean, * attacked*"])
    assert result.ret == 0, result.stdout.str()[-3000:]
    import json

    checks = json.loads((pytester.path / "out.json").read_text())["budgets"]
    assert {(c["augmentation"], c["metric"]) for c in checks} == {
        ("adversarial.zero_shot", "zero_shot_accuracy"),
        ("adversarial.embedding", "cosine"),
    }


def test_the_tower_budget_example_runs_as_written_on_the_demo(pytester):
    """docs/tower.md's budgets, as written, on the demo model (6 layers, 8 heads) and 4 scenes."""
    block = next(b for b in code_blocks("toml") if "head_attention_correlation" in b)
    pytester.makefile(".toml", budgets=block)
    pytester.makeini(
        "[pytest]\nclipshift_model = demo\nclipshift_images = demo-scenes\nclipshift_max_images = 4\n"
        "clipshift_device = cpu\nclipshift_no_cache = true\n"
    )
    result = pytester.runpytest("--clipshift", "--clipshift-budgets=budgets.toml", "--clipshift-json=out.json")
    result.stdout.fnmatch_lines(["collected 2 items", "heads that moved most, gaussian_noise*"])
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 2 and "error" not in outcomes
    import json

    checks = json.loads((pytester.path / "out.json").read_text())["budgets"]
    assert {c["metric"] for c in checks} == {
        "head_attention_correlation",
        "attention_correlation@6h3",
        "sink_count_change",
    }
