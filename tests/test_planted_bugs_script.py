"""``scripts/planted_bugs.py`` stays runnable: every bug it plants still finds the one line it edits
(a refactor that moves the line would otherwise make the script stop at that bug)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_planted_edit_finds_its_line_exactly_once():
    spec = importlib.util.spec_from_file_location("planted_bugs", ROOT / "scripts" / "planted_bugs.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert len(script.BUGS) >= 37
    missing = [
        (what, old)
        for what, relative, edits, tests in script.BUGS
        for old, _ in edits
        if (ROOT / "pytest_clipshift" / relative).read_text(encoding="utf-8").count(old) != 1
    ]
    assert not missing, missing
    assert all((ROOT / t.split("::")[0]).exists() for *_, tests in script.BUGS for t in tests)
