"""The README's promises that a test can keep: its Python API example runs as written, and every
option it lists exists."""

import re
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


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
