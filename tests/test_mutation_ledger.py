"""``scripts/mutation_test.py`` keeps every mutant's result in a ledger, so a mutation run goes on
where the last one stopped: what it reads from mutmut's ``mutants/*.meta`` it writes back there,
result for result, and the survivors can be sent to run again."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_script():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        spec = importlib.util.spec_from_file_location("mutation_test", ROOT / "scripts" / "mutation_test.py")
        script = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(script)
        return script
    finally:
        sys.path.remove(str(ROOT / "scripts"))


def meta(codes: dict, hashes: dict) -> dict:
    # the fields mutmut 3.8 writes (mutmut/mutation/data.py, SourceFileMutationData.save)
    empty = {"type_check_error_by_key": {}, "durations_by_key": {}, "estimated_durations_by_key": {}}
    return {"exit_code_by_key": codes, "hash_by_function_name": hashes, **empty}


def test_the_ledger_writes_back_every_result_it_read_and_forgets_no_mutant(tmp_path, monkeypatch):
    script = load_script()
    monkeypatch.setattr(script, "ROOT", tmp_path)
    codes = {
        "pkg.mod.x_f__mutmut_1": 1,
        "pkg.mod.x_f__mutmut_2": 0,
        "pkg.mod.x_f__mutmut_10": 36,
        "pkg.mod.x_f__mutmut_3": None,  # not run: stays out of the ledger, so it runs next time
        "pkg.mod.xǁCǁm__mutmut_1": 33,
    }
    hashes = {"x_f": "aaa", "xǁCǁm": "bbb"}
    written = tmp_path / "mutants" / "pkg" / "mod.py.meta"
    written.parent.mkdir(parents=True)
    written.write_text(json.dumps(meta(codes, hashes)), encoding="utf-8")

    ledger = {"files": script.read_ledger_from_mutants()}
    assert ledger["files"] == {
        "pkg/mod.py": {"hashes": hashes, "codes": {"x_f": {"1": 1, "2": 0, "10": 36}, "xǁCǁm": {"1": 33}}}
    }
    written.unlink()
    assert script.seed_from_ledger(ledger) == 4
    ran = {k: v for k, v in codes.items() if v is not None}
    assert json.loads(written.read_text(encoding="utf-8")) == meta(ran, hashes)


def test_retrying_survivors_keeps_the_kills_timeouts_equivalents_and_survivors_not_asked(tmp_path, monkeypatch):
    script = load_script()
    monkeypatch.setattr(script, "ROOT", tmp_path)
    monkeypatch.setattr(script, "LEDGER", tmp_path / "ledger.json")
    ledger = {
        "files": {
            "pkg/mod.py": {"hashes": {"x_f": "a"}, "codes": {"x_f": {"1": 1, "2": 0, "3": 36, "4": 33, "5": 0}}},
            "pkg/other.py": {"hashes": {"x_g": "b"}, "codes": {"x_g": {"1": 0}}},  # not asked: kept
        },
        "equivalent": ["pkg.mod.x_f__mutmut_5"],  # its reason is known: not run again
    }
    script.LEDGER.write_text(json.dumps(ledger), encoding="utf-8")
    asked = []
    monkeypatch.setattr(script, "mutmut", lambda *args, check=True: asked.append(args) or "")
    monkeypatch.setattr(script, "write_page", lambda ledger: ["pkg.other.x_g__mutmut_1"])
    monkeypatch.setattr(sys, "argv", ["mutation_test.py", "--retry-survivors", "pkg.mod.x_f*"])
    script.main()
    seeded = json.loads((tmp_path / "mutants" / "pkg" / "mod.py.meta").read_text(encoding="utf-8"))
    kept = {"pkg.mod.x_f__mutmut_1": 1, "pkg.mod.x_f__mutmut_3": 36, "pkg.mod.x_f__mutmut_5": 0}
    assert seeded["exit_code_by_key"] == kept
    other = json.loads((tmp_path / "mutants" / "pkg" / "other.py.meta").read_text(encoding="utf-8"))
    assert other["exit_code_by_key"] == {"pkg.other.x_g__mutmut_1": 0}
    assert asked == [("run", "--max-children", "2", "pkg.mod.x_f*")]
    recorded = json.loads(script.LEDGER.read_text(encoding="utf-8"))
    assert recorded["runs"][-1]["only"] == ["--retry-survivors", "pkg.mod.x_f*"]
    assert recorded["files"]["pkg/mod.py"]["codes"] == {"x_f": {"1": 1, "3": 36, "5": 0}}
    assert recorded["equivalent"] == ["pkg.other.x_g__mutmut_1"]  # what the page named, for the next retry


def test_the_page_shows_for_each_module_the_run_that_ran_more_of_it(tmp_path, monkeypatch):
    script = load_script()
    monkeypatch.setattr(script, "OUT", tmp_path / "page.md")
    results = {
        "pkg.a.x_f__mutmut_1": "killed",
        "pkg.a.x_f__mutmut_2": "survived",
        "pkg.a.x_f__mutmut_3": "not checked",
        "pkg.a.x_f__mutmut_8": "killed",  # a survivor of the run before, run again by name
        "pkg.b.x_g__mutmut_1": "killed",
        "pkg.b.x_g__mutmut_2": "killed",
        "pkg.b.x_g__mutmut_3": "survived",
    }

    def fake_mutmut(*args, check=True):
        if args[0] == "results":
            return "\n".join(f"    {name}: {status}" for name, status in results.items())
        if args[1] == "pkg.b.x_g__mutmut_3":  # a change with a known reason (NaN spelled otherwise)
            return '--- a\n+++ b\n-    x = float("nan")\n+    x = float(None)\n'
        return "--- a\n+++ b\n-    x = 1\n+    x = 2\n"  # show: one line changed

    monkeypatch.setattr(script, "mutmut", fake_mutmut)
    monkeypatch.setattr(script, "mutmut_version", lambda: "3.8.1")  # CI does not install mutmut
    earlier = {  # the run before the ledger: more of pkg.a ran then, less of pkg.b
        "pkg.a": {
            "commit": "old",
            "counts": {"killed": 4, "survived": 2},
            "survivors": [["pkg.a.x_f__mutmut_9", "survived", ["+ y"]], ["pkg.a.x_f__mutmut_8", "survived", ["+ z"]]],
        },
        "pkg.b": {"commit": "old", "counts": {"killed": 1, "not checked": 2}, "survivors": []},
    }
    equivalent = script.write_page({"earlier": earlier, "runs": [], "notes": ["a note by hand"]})
    assert equivalent == ["pkg.b.x_g__mutmut_3"]
    page = (tmp_path / "page.md").read_text(encoding="utf-8")
    assert "| pkg.a* | 6 | 0 | 5 | 1 | 0 | 0 | 83.3% |" in page
    assert "| pkg.b | 3 | 0 | 2 | 1 | 0 | 1 | 100.0% |" in page
    assert "pkg.a.x_f__mutmut_9" in page and "pkg.a.x_f__mutmut_2" not in page  # the shown run's survivors
    assert "pkg.a.x_f__mutmut_8" not in page  # ...less those caught since
    assert "pkg.b.x_g__mutmut_3" in page
    assert "- a note by hand" in page


def test_recording_without_mutmuts_folder_stops_before_emptying_the_ledger(tmp_path, monkeypatch):
    script = load_script()
    monkeypatch.setattr(script, "ROOT", tmp_path)
    monkeypatch.setattr(script, "LEDGER", tmp_path / "ledger.json")
    kept = {"files": {"pkg/mod.py": {"hashes": {"x_f": "a"}, "codes": {"x_f": {"1": 1}}}}}
    script.LEDGER.write_text(json.dumps(kept), encoding="utf-8")
    monkeypatch.setattr(script, "OUT", tmp_path / "page.md")  # a version that goes on writes here, not to docs/
    monkeypatch.setattr(script, "mutmut", lambda *args, check=True: "")
    monkeypatch.setattr(sys, "argv", ["mutation_test.py", "--reuse"])
    with pytest.raises(SystemExit, match="no mutants/ folder"):
        script.main()
    assert json.loads(script.LEDGER.read_text(encoding="utf-8")) == kept


def test_a_mutant_mutmut_cannot_reach_says_why_and_any_other_without_tests_is_not_killed():
    script = load_script()
    assert script.unreached("pytest_clipshift.core.metrics.builtin.x__pixel__mutmut_1", "no tests").startswith(
        "runs once, at import"
    )
    assert script.unreached("pkg.mod.x_f__mutmut_1", "no tests") == "not yet killed (no tests)"


def test_a_dropped_last_argument_is_read_through_mutmuts_redrawn_closing_line():
    """mutmut drops a call's last argument and redraws its closing bracket at another indent: the
    dropped line alone is judged. A diff that also adds code is not a dropped argument."""
    script = load_script()
    name = "pytest_clipshift.core.metrics.functional.x_enclosing_ball_radius__mutmut_65"
    options = '-            options={"ftol": 1e-15, "maxiter": 500},'
    assert script.reason([options, "-        )", "+            )"], name) == script.SOLVER_PATH
    assert script.reason([options, "-        )", "+            tol=1.0)"], name) == "not yet killed"
    assert script.reason([options, "-        )", "+            )"], "pkg.mod.x_f__mutmut_1") == "not yet killed"


def test_a_mutant_in_the_severity_tables_takes_effect_though_collection_built_the_registry(monkeypatch):
    """mutmut's fork server collects (building the registry) before it switches a mutant on: the
    selection plugin empties the registry in the mutant's process, so tables are read again."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import mutation_selection
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    from pytest_clipshift.core.augment import study
    from pytest_clipshift.core.augment.augmentations import registry

    before = registry()["gaussian_noise"].params[3]
    table = study.study_table()

    def mutated_table():
        rows = list(table)
        noise = next(a for a in rows if a.name == "gaussian_noise")
        rows[rows.index(noise)] = type(noise)(noise.name, noise.factory, {**noise.params, 3: {"std": (0.0, 0.0)}})
        return rows

    monkeypatch.setattr(study, "study_table", mutated_table)
    try:
        assert registry()["gaussian_noise"].params[3] == before  # built at collection: the mutant unseen
        mutation_selection.rebuild_registries()
        assert registry()["gaussian_noise"].params[3] == {"std": (0.0, 0.0)}
    finally:
        monkeypatch.undo()
        mutation_selection.rebuild_registries()
    assert registry()["gaussian_noise"].params[3] == before


@pytest.mark.parametrize("flag", ["--help", "-h", "--retry-survivor", "--minutes", "-x"])
def test_help_or_an_unknown_flag_stops_before_mutmut_runs(flag, tmp_path, monkeypatch, capsys):
    # an unknown flag used to be dropped from the patterns, so "--help" started a whole run over main
    script = load_script()
    monkeypatch.setattr(script, "ROOT", tmp_path)
    monkeypatch.setattr(script, "LEDGER", tmp_path / "ledger.json")  # a version that goes on writes here
    monkeypatch.setattr(script, "OUT", tmp_path / "page.md")
    ran = []
    monkeypatch.setattr(script, "mutmut", lambda *args, check=True: ran.append(args) or "")
    monkeypatch.setattr(sys, "argv", ["mutation_test.py", flag, "pkg.*"])
    with pytest.raises(SystemExit) as stopped:
        script.main()
    assert ran == []
    if flag in ("--help", "-h"):
        assert stopped.value.code == 0 and "--retry-survivors" in capsys.readouterr().out
    else:
        assert repr(flag) in str(stopped.value.code)
