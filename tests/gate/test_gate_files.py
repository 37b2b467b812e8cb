"""The gate's inputs and outputs as a user sees them: budgets files and their error
messages, the JSON form of budget checks and compare deltas, and the exact bootstrap a seed fixes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pytest_clipshift.core.errors import ConfigError
from pytest_clipshift.core.runs.summary import bootstrap_ci, summarize
from pytest_clipshift.gate.budgets import budgets_from_mapping, evaluate, load_budgets, parse_rule
from pytest_clipshift.gate.compare import compare_runs, parse_compare_rule
from tests.gate.test_gate_core import cell, run


def test_a_budgets_file_and_pyproject_table_load_with_their_origin(tmp_path):
    path = tmp_path / "budgets.toml"
    path.write_text('[defaults]\n"cosine.mean" = ">= 0.9"\n[augmentations.gaussian_noise.s5]\n"l2.max" = 2\n')
    b = load_budgets(path)
    assert b.source == str(path)
    (rule,) = b.rules_for("gaussian_blur", 3)
    assert (rule.key, rule.op, rule.threshold, rule.origin) == ("cosine.mean", ">=", 0.9, f"{path} [defaults]")
    assert {r.origin for r in b.rules_for("gaussian_noise", 5)} == {
        f"{path} [defaults]",
        f"{path} [augmentations.gaussian_noise.s5]",
    }
    py = tmp_path / "pyproject.toml"
    py.write_text('[tool.clipshift.budgets.defaults]\n"cosine.p05" = 0.5\n')
    b = load_budgets(py)
    assert b.source == f"{py} [tool.clipshift.budgets]"
    assert [(r.key, r.op, r.origin) for r in b.rules_for("x", 1)] == [
        ("cosine.p05", ">=", f"{py} [tool.clipshift.budgets] [defaults]")
    ]
    py.write_text("[tool.other]\nx = 1\n")
    with pytest.raises(ConfigError, match=r"^.*pyproject.toml has no \[tool.clipshift.budgets\] table$"):
        load_budgets(py)
    with pytest.raises(ConfigError, match=r"^budgets file .*nope.toml does not exist$"):
        load_budgets(tmp_path / "nope.toml")
    (tmp_path / "bad.toml").write_text("[defaults\n")
    with pytest.raises(ConfigError, match=r"^budgets file .*bad.toml: not valid TOML \("):
        load_budgets(tmp_path / "bad.toml")


@pytest.mark.parametrize(
    "data,message",
    [
        ({"limits": {}}, "b.toml: unknown table(s) 'limits'; valid: settings, defaults, augmentations"),
        ({"settings": 3}, "b.toml: [settings] must be a table"),
        (
            {"settings": {"augmentations": "identity"}},
            "b.toml: settings.augmentations = 'identity' must be a non-empty list of names",
        ),
        (
            {"settings": {"augmentations": ["fog"]}},
            "b.toml: settings.augmentations: unknown augmentation 'fog'; valid: ",
        ),
        ({"settings": {"severities": [7]}}, "b.toml: settings.severities: severity 7 is not one of s1..s5 or 'paper'"),
        ({"settings": {"severities": "s1"}}, "b.toml: settings.severities must be a non-empty list, e.g. [1, 3, 5]"),
        (
            {"settings": {"confidence": True}},
            "b.toml: settings.confidence = True must be a number in [0.5, 1), e.g. 0.95",
        ),
        ({"settings": {"bound": "loose"}}, "b.toml: settings.bound = 'loose'; valid: favourable, unfavourable"),
        ({"settings": {"metrics": ["cosin"]}}, "b.toml: settings.metrics: unknown metric 'cosin'"),
        ({"defaults": [1]}, "b.toml [defaults]: expected a table of 'METRIC.STAT = \"OP NUMBER\"' entries, got [1]"),
        ({"augmentations": []}, "b.toml: [augmentations] must be a table of augmentation tables"),
        ({"augmentations": {"fog": {}}}, "b.toml [augmentations.fog]: unknown augmentation 'fog'; valid: "),
        ({"augmentations": {"identity": 1}}, "b.toml [augmentations.identity]: must be a table"),
        (
            {"augmentations": {"identity": {"s9": {}}}},
            "b.toml [augmentations.identity.s9]: severity 's9' is not one of",
        ),
        (
            {"augmentations": {"identity": {"cosine.mean": "~ 1"}}},
            "b.toml [augmentations.identity]: cosine.mean = '~ 1': unknown operator; write one of >=, <=, >, < then "
            "a number",
        ),
        (
            {"defaults": {"cosine.mode": 1}},
            "b.toml [defaults]: key 'cosine.mode': unknown statistic 'mode'; valid: mean, std, median",
        ),
        ({"defaults": {"cosine": 1}}, "b.toml [defaults]: key 'cosine' must be METRIC.STAT, e.g. 'cosine.mean'"),
        ({"defaults": {"cosin.mean": 1}}, "b.toml [defaults]: key 'cosin.mean': unknown metric 'cosin'"),
    ],
)
def test_every_budgets_error_names_the_file_table_and_what_is_valid(data, message):
    with pytest.raises(ConfigError) as info:
        budgets_from_mapping(data, "b.toml")
    assert str(info.value).startswith(message), str(info.value)


def test_settings_parse_severities_paper_and_metrics():
    b = budgets_from_mapping(
        {
            "settings": {"severities": ["paper", "s2", 3], "metrics": ["layer_cka"]},
            "defaults": {"l2.mean": 1},
            "augmentations": {"gaussian_blur": {"s1": {"cosine.mean": 0.9}}},
        },
        "b",
    )
    assert b.severities == ["paper", 2, 3]
    assert b.metric_names() == ["layer_cka", "l2", "cosine"]  # asked for first, then every rule's, once each
    assert b.suite_pairs() == [
        ("gaussian_blur", "paper"),
        ("gaussian_blur", 2),
        ("gaussian_blur", 3),
        ("gaussian_blur", 1),
    ]
    everything = budgets_from_mapping({"defaults": {"cosine.mean": 0.9}}, "b")
    assert [a for a, _ in everything.suite_pairs()][:2] == ["identity", "gaussian_noise"]  # no names: the defaults


def test_a_marker_budget_names_the_test():
    from pytest_clipshift.gate.budgets import budgets_from_marker

    rules = budgets_from_marker({"cosine.mean": ">= 0.95"}, "test_x.py::test_blur")
    assert rules["cosine.mean"].origin == "@pytest.mark.clipshift(budget=...) on test_x.py::test_blur"


def test_checks_in_the_results_json():
    r = cell(cosine=[0.9, 0.8, float("nan"), 0.6])
    check = evaluate(r, [parse_rule("cosine.mean", ">= 0.95", "b [defaults]")], "t::x", confidence=0.95)[0]
    d = check.to_dict()
    assert d == {
        "test": "t::x",
        "augmentation": "gaussian_noise",
        "severity": 3,
        "metric": "cosine",
        "stat": "mean",
        "op": ">=",
        "threshold": 0.95,
        "value": d["interval"][1],
        "point": pytest.approx(0.7666666666),
        "interval": d["interval"],
        "passed": False,
    }
    lo, hi = bootstrap_ci(np.array([0.9, 0.8, 0.6]), seed=17, level=0.95)
    assert d["interval"] == [lo, hi] and d["value"] == hi
    plain = evaluate(r, [parse_rule("cosine.std", "<= 1", "b")], "t::y")[0].to_dict()
    assert plain["interval"] is None and plain["passed"] is True and plain["test"] == "t::y"
    undefined = evaluate(cell(cosine=[float("nan")] * 4), [parse_rule("cosine.mean", ">= 0", "b")], "t")[0]
    assert undefined.to_dict()["value"] is None and undefined.to_dict()["interval"] is None and not undefined.passed


def test_deltas_and_comparison_in_the_results_json():
    base = run(cell(cosine=[0.9] * 4, l2=[1.0] * 4))
    cand = run(cell(cosine=[0.8] * 4, l2=[1.5] * 4))
    comparison = compare_runs(base, cand, [parse_compare_rule("l2.mean:10%")], baseline_source="0001_base.json")
    d = comparison.to_dict()
    assert d["baseline"] == "0001_base.json" and d["rules"] == ["l2.mean:10%"] and d["missing"] == []
    assert d["failed"] == 1 and d["allow_missing"] is False
    l2 = [x for x in d["deltas"] if x["metric"] == "l2"][0]
    assert l2 == {
        "augmentation": "gaussian_noise",
        "severity": 3,
        "metric": "l2",
        "stat": "mean",
        "baseline": 1.0,
        "candidate": 1.5,
        "delta": 0.5,
        "worse_by": 0.5,
        "failed": ["l2.mean:10%"],
        "significant": None,
        "interval": None,
    }
    cos = [x for x in d["deltas"] if x["metric"] == "cosine"][0]
    assert cos["delta"] == pytest.approx(-0.1) and cos["worse_by"] == pytest.approx(0.1) and cos["failed"] == []
    paired = compare_runs(base, cand, [], paired=True).to_dict()
    assert [x["significant"] for x in paired["deltas"]] == [True, True]
    assert all(x["interval"] is not None and len(x["interval"]) == 2 for x in paired["deltas"])


def test_compare_walks_every_cell_and_metric_and_skips_layers_and_subsets():
    base = run(
        cell("gaussian_noise", 1, cosine=[0.9] * 4),
        cell("gaussian_noise", 3, cosine=[0.9] * 4),
        cell("gaussian_blur", 1, cosine=[0.9] * 4, l2=[1.0] * 4, **{"layer_cka@1": [0.5] * 4}),
    )
    cand = run(cell("gaussian_blur", 1, cosine=[0.9] * 4, l2=[2.0] * 4, **{"layer_cka@1": [0.1] * 4}))
    comparison = compare_runs(base, cand, [parse_compare_rule("l2.mean:0")])
    assert comparison.missing == ["gaussian_noise[s1]", "gaussian_noise[s3]"]  # every missing cell, not the first
    assert [(x.metric, x.stat) for x in comparison.deltas] == [("cosine", "mean"), ("l2", "mean")]  # @K skipped
    assert [x.metric for x in comparison.failures] == ["l2"]
    cand.results[0].subset = True  # a marker-narrowed measurement is not the cell
    assert compare_runs(base, cand, []).missing == ["gaussian_noise[s1]", "gaussian_noise[s3]", "gaussian_blur[s1]"]
    only_l2 = run(cell("gaussian_blur", 1, l2=[1.0] * 4))
    assert [x.metric for x in compare_runs(base.results and run(base.results[2]), only_l2, []).deltas] == ["l2"]


def test_paired_mode_tests_means_only_and_other_stats_fail_on_the_plain_rule():
    names = list("abcdefgh")
    base = run(cell(names=names, cosine=[0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.5]))
    cand = run(cell(names=names, cosine=[0.92, 0.88, 0.91, 0.89, 0.9, 0.9, 0.9, 0.3]))  # the worst image got worse
    comparison = compare_runs(
        base, cand, [parse_compare_rule("cosine.min:0.05"), parse_compare_rule("cosine.mean:0")], paired=True
    )
    stats = {x.stat: x for x in comparison.deltas}
    assert stats["min"].significant is None and stats["min"].failed == ["cosine.min:0.05"]  # judged plainly
    assert stats["mean"].significant is False and not stats["mean"].failed  # one image: not significant
    empty = run(cell(names=names, cosine=[float("nan")] * 8))
    nan_delta = [x for x in compare_runs(base, empty, [], paired=True).deltas if x.stat == "mean"][0]
    assert nan_delta.interval is None and nan_delta.significant is False


def test_the_bootstrap_is_the_documented_percentile_bootstrap():
    """Seeded reproducibility is a promise: the interval is exactly the 2.5th and 97.5th percentiles of
    2,000 resampled means drawn with numpy's default_rng(seed)."""
    v = np.random.default_rng(7).random(25)  # continuous values: resampled means have no ties
    rng = np.random.default_rng(42)
    means = v[rng.integers(0, v.size, size=(2000, v.size))].mean(axis=1)
    assert bootstrap_ci(v, seed=42) == (float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975)))
    assert bootstrap_ci(v, seed=42, level=0.8) == (float(np.quantile(means, 0.1)), float(np.quantile(means, 0.9)))
    assert bootstrap_ci(list(v), seed=42) == bootstrap_ci(v, seed=42)  # any sequence
    one = bootstrap_ci(np.array([0.5]), seed=0)
    assert all(math.isnan(x) for x in one)
    s = summarize(v, seed=42)
    assert (s["ci95_low"], s["ci95_high"]) == bootstrap_ci(v, seed=42)
    assert summarize([1.0, 2.0], seed=0)["std"] == pytest.approx(math.sqrt(0.5))


def test_storage_refuses_a_file_in_place_of_its_folder(tmp_path):
    from pytest_clipshift.core.runs.jsonfile import OutputError
    from pytest_clipshift.gate.storage import Storage

    (tmp_path / "runs").write_text("x")
    with pytest.raises(
        OutputError, match=r"^storage folder .*runs is a file, not a folder; point --clipshift-storage at a folder$"
    ):
        Storage(tmp_path / "runs").runs()
    assert Storage(tmp_path / "absent").runs() == []
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "notes.json").write_text("{}")
    (tmp_path / "ok" / "0002_b.json").write_text("{}")
    (tmp_path / "ok" / "0001_a.json").write_text("{}")
    assert [p.name for p in Storage(tmp_path / "ok").runs()] == ["0001_a.json", "0002_b.json"]
    with pytest.raises(
        ConfigError, match=r"--clipshift-save = 'a b': a name may hold letters, digits, '.', '_' and '-' only"
    ):
        Storage(tmp_path / "ok").save({}, "a b")


def test_a_number_taken_meanwhile_is_never_overwritten(tmp_path, monkeypatch):
    """Two saves that read the folder at the same moment both pick the next number: the second must
    move on to a free one, keeping the first run's file intact."""
    import json as _json

    from pytest_clipshift.gate.storage import Storage

    storage = Storage(tmp_path / "runs")
    first = storage.save({"run": "first"}, "release")
    stale = []  # the folder listing as the racing save saw it: before the first save
    real_runs = Storage.runs
    calls = {"n": 0}

    def racing_runs(self):
        calls["n"] += 1
        return stale if calls["n"] == 1 else real_runs(self)

    monkeypatch.setattr(Storage, "runs", racing_runs)
    second = storage.save({"run": "second"}, "release")
    assert first.name == "0001_release.json" and second.name == "0002_release.json"
    assert _json.loads(first.read_text()) == {"run": "first"} and _json.loads(second.read_text()) == {"run": "second"}
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["0001_release.json", "0002_release.json"]


def test_the_paired_interval_is_the_bootstrap_of_the_per_image_differences():
    names = list("abcdefgh")
    old = [0.9, 0.8, 0.85, 0.95, 0.7, 0.9, 0.88, 0.92]
    new = [0.88, 0.81, 0.80, 0.90, 0.71, 0.85, 0.88, 0.90]
    comparison = compare_runs(
        run(cell(names=names, cosine=old), seed=5),
        run(cell(names=names, cosine=new), seed=5),
        [],
        paired=True,
        confidence=0.9,
    )
    mean = [x for x in comparison.deltas if x.stat == "mean"][0]
    diff = np.array(new) - np.array(old)
    assert mean.interval == bootstrap_ci(diff, seed=5 + 29, level=0.9)
    assert mean.significant is (mean.interval[1] < 0)
    zero = run(cell(names=names, cosine=old), seed=5)
    same = compare_runs(zero, zero, [], paired=True)
    assert [x.significant for x in same.deltas] == [False]  # an interval of exactly 0 is not a regression
    l2_old, l2_new = run(cell(names=names, l2=[1.0] * 8)), run(cell(names=names, l2=[1.0] * 8))
    assert compare_runs(l2_old, l2_new, [], paired=True).deltas[0].significant is False


def test_severity_names_are_s_digits_or_paper_only():
    from pytest_clipshift.gate.budgets import _severity

    assert [_severity(x, "o") for x in ("s1", "5", 3, "paper")] == [1, 5, 3, "paper"]
    for bad in ("x5", "s", "-3", "s0", "6", "Paper"):
        with pytest.raises(ConfigError, match="is not one of s1..s5 or 'paper'"):
            _severity(bad, "o")


def test_the_confidence_level_sets_the_interval():
    r = cell(cosine=[0.70, 0.80, 0.90, 1.00, 0.75, 0.85, 0.95, 0.80])
    check = evaluate(r, [parse_rule("cosine.mean", ">= 0.5", "f")], "t", confidence=0.8)[0]
    assert check.interval == bootstrap_ci(r.values["cosine"], seed=r.seed + 17, level=0.8)


def test_a_pyproject_without_a_tool_table_has_no_budgets(tmp_path):
    py = tmp_path / "pyproject.toml"
    py.write_text('[project]\nname = "x"\n')
    with pytest.raises(ConfigError, match=r"pyproject.toml has no \[tool.clipshift.budgets\] table$"):
        load_budgets(py)
    py.write_text("[tool]\nx = 1\n")
    with pytest.raises(ConfigError, match=r"has no \[tool.clipshift.budgets\] table$"):
        load_budgets(py)


def test_run_names_may_use_capitals_digits_dots_dashes(tmp_path):
    from pytest_clipshift.gate.storage import Storage

    assert Storage(tmp_path).save({}, "Release-1.4_rc2").name == "0001_Release-1.4_rc2.json"


def test_compare_refusals_say_exactly_what_differs_and_how_to_fix_it():
    base = run(cell(cosine=[0.9] * 4))
    other = run(cell(cosine=[0.9] * 4))
    other.image_hash = "h2"
    with pytest.raises(ConfigError) as info:
        compare_runs(base, other)
    assert str(info.value) == (
        "cannot compare with baseline: it was measured on a different image set (hash hash, 4 images from 'src') "
        "than this run (hash h2, 4 images from 'src'); use the same images and --clipshift-max-images"
    )
    with pytest.raises(ConfigError) as info:
        compare_runs(base, run(cell(cosine=[0.9] * 4), seed=2), baseline_source="0001_r.json")
    assert str(info.value) == (
        "cannot compare with 0001_r.json: it used seed 0, this run seed 2; use the same --clipshift-seed"
    )


@pytest.mark.parametrize(
    "text,message",
    [
        (
            "cosine.mean",
            "--clipshift-compare-fail 'cosine.mean': expected METRIC.STAT:TOLERANCE, e.g. cosine.mean:2% or "
            "cosine.mean:0.01",
        ),
        ("cosine:1", "--clipshift-compare-fail 'cosine:1': expected METRIC.STAT:TOLERANCE"),
        ("cosin.mean:1", "--clipshift-compare-fail 'cosin.mean:1': unknown metric 'cosin'"),
        (
            "cosine.avg:1",
            "--clipshift-compare-fail 'cosine.avg:1': unknown statistic 'avg'; valid: mean, median, min, max, "
            "p05, p95, std",
        ),
        ("cosine.mean:x", "--clipshift-compare-fail 'cosine.mean:x': tolerance 'x' is not a number or a percentage"),
        ("cosine.mean:-2%", "--clipshift-compare-fail 'cosine.mean:-2%': tolerance must be a finite number >= 0"),
    ],
)
def test_compare_rule_errors_name_the_option_and_the_rule(text, message):
    with pytest.raises(ConfigError) as info:
        parse_compare_rule(text)
    assert str(info.value).startswith(message), str(info.value)


def test_storage_messages_name_the_folder_and_the_saved_names(tmp_path):
    from pytest_clipshift.gate.storage import Storage

    s = Storage(tmp_path / "runs")
    with pytest.raises(ConfigError) as info:
        s.find("")
    assert str(info.value) == (
        f"--clipshift-compare: no saved runs in {tmp_path / 'runs'}; save one first with --clipshift-save NAME"
    )
    s.root.mkdir()
    with pytest.raises(ConfigError) as info:
        s.find("release")
    assert str(info.value) == (
        f"--clipshift-compare 'release': no run saved under that name in {tmp_path / 'runs'}; saved: none"
    )
    from pytest_clipshift.core.runs.jsonfile import OutputError

    with pytest.raises(OutputError, match=r"^cannot write the saved run .*0001_x+\.json: File name too long$"):
        s.save({}, "x" * 300)  # a name the file system refuses, even for root
    assert list(s.root.iterdir()) == []
