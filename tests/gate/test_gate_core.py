"""The code that decides a verdict, with known answers: budget rules and their precedence,
compare directions and tolerances, summaries, result ordering and storage numbering.

Fast (hand-made results, no model): these are the tests ``scripts/mutation_test.py`` runs against
every mutant of the gating modules. Each assertion is a behaviour a user relies on: a rule at its
exact threshold, a larger distance failing a compare, a cell that went missing."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pytest_clipshift.core.errors import ConfigError
from pytest_clipshift.core.metrics import bootstrap_ci, summarize
from pytest_clipshift.core.runs.combine import merge_runs, merged_coverage
from pytest_clipshift.core.runs.results import RunResult, ShiftResult
from pytest_clipshift.gate.budgets import Rule, budgets_from_mapping, evaluate, parse_rule
from pytest_clipshift.gate.compare import compare_runs, parse_compare_rule


def cell(aug="gaussian_noise", sev=3, seed=0, names=("a", "b", "c", "d"), **values) -> ShiftResult:
    return ShiftResult(
        augmentation=aug,
        severity=sev,
        image_names=list(names),
        values={m: np.asarray(v, float) for m, v in values.items()},
        seed=seed,
    )


def run(*cells, seed=0, coverage=None) -> RunResult:
    names = list(cells[0].image_names) if cells else ["a", "b", "c", "d"]
    return RunResult(
        model={"name": "m", "fingerprint": "f"},
        seed=seed,
        image_names=names,
        image_hash="hash",
        image_source="src",
        results=list(cells),
        coverage=coverage,
    )


# ------------------------------------------------------------------ budget rules
@pytest.mark.parametrize(
    "op,value,holds",
    [
        (">=", 0.9, True),
        (">=", 0.8999999, False),
        (">", 0.9, False),
        (">", 0.9000001, True),
        ("<=", 0.9, True),
        ("<=", 0.9000001, False),
        ("<", 0.9, False),
        ("<", 0.8999999, True),
    ],
)
def test_a_rule_at_its_exact_threshold(op, value, holds):
    assert Rule("cosine", "mean", op, 0.9, "t").holds(value) is holds


def test_an_undefined_value_never_holds():
    for op in (">=", ">", "<=", "<"):
        assert not Rule("cosine", "mean", op, 0.5, "t").holds(float("nan"))
        assert not Rule("cosine", "mean", op, 0.5, "t").holds(None)


@pytest.mark.parametrize(
    "text,op,threshold",
    [
        (">= 0.9", ">=", 0.9),
        ("> 0.9", ">", 0.9),
        ("<= 0.25", "<=", 0.25),
        ("<0.25", "<", 0.25),
        (" >=  1 ", ">=", 1.0),
    ],
)
def test_rule_text_parses_operator_and_threshold(text, op, threshold):
    rule = parse_rule("cosine.mean", text, "f")
    assert (rule.metric, rule.stat, rule.op, rule.threshold) == ("cosine", "mean", op, threshold)


def test_a_bare_number_means_at_least_for_similarities_and_at_most_for_distances():
    assert parse_rule("cosine.mean", 0.9, "f").op == ">="
    assert parse_rule("l2.mean", 3, "f").op == "<="
    assert parse_rule("zero_shot_flip.mean", 0.1, "f").op == "<="


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("cosine", ">= 1", "must be METRIC.STAT"),
        (".mean", ">= 1", "must be METRIC.STAT"),
        ("cosine.mean", "== 1", "unknown operator"),
        ("cosine.mean", ">= x", "'x' is not a number"),
        ("cosine.mean", True, "is not a number"),
        ("cosine.mean", [1], "is not a number"),
        ("cosine.mean", ">= inf", "must be finite"),
        ("cosine.mean", float("nan"), "must be finite"),
        ("cosine.avg", 1, "unknown statistic"),
    ],
)
def test_bad_rules_are_refused(key, value, message):
    with pytest.raises(ConfigError, match=message):
        parse_rule(key, value, "f")


def test_the_most_specific_rule_wins_severity_then_augmentation_then_defaults():
    b = budgets_from_mapping(
        {
            "defaults": {"cosine.mean": ">= 0.9", "l2.mean": "<= 1"},
            "augmentations": {"gaussian_noise": {"cosine.mean": ">= 0.8", "s5": {"cosine.mean": ">= 0.5"}}},
        },
        "b.toml",
    )

    def thresholds(aug, sev):
        return {r.key: r.threshold for r in b.rules_for(aug, sev)}

    assert thresholds("gaussian_blur", 3) == {"cosine.mean": 0.9, "l2.mean": 1.0}
    assert thresholds("gaussian_noise", 3) == {"cosine.mean": 0.8, "l2.mean": 1.0}
    assert thresholds("gaussian_noise", 5) == {"cosine.mean": 0.5, "l2.mean": 1.0}
    assert b.suite_pairs() == [("gaussian_noise", 3), ("gaussian_noise", 5)]


def test_settings_choose_the_suite_and_are_validated():
    b = budgets_from_mapping(
        {
            "settings": {
                "augmentations": ["identity", "gaussian_blur"],
                "severities": ["s1", 4],
                "confidence": 0.9,
                "bound": "unfavourable",
            }
        },
        "b",
    )
    assert b.suite_pairs() == [("identity", 1), ("identity", 4), ("gaussian_blur", 1), ("gaussian_blur", 4)]
    assert (b.confidence, b.bound) == (0.9, "unfavourable")
    for bad, message in (
        ({"confidence": 1.0}, "confidence"),
        ({"confidence": 0.49}, "confidence"),
        ({"bound": "lenient"}, "bound"),
        ({"severities": []}, "non-empty"),
        ({"colour": 1}, "unknown key"),
    ):
        with pytest.raises(ConfigError, match=message):
            budgets_from_mapping({"settings": bad}, "b")
    assert budgets_from_mapping({"settings": {"confidence": 0.5}}, "b").confidence == 0.5


def test_evaluate_compares_the_named_statistic_with_the_threshold():
    r = cell(cosine=[0.9, 0.8, 0.7, 0.6], l2=[1.0, 2.0, 3.0, 4.0])
    rules = [
        parse_rule("cosine.mean", ">= 0.75", "f"),
        parse_rule("cosine.min", ">= 0.61", "f"),
        parse_rule("l2.max", "<= 4", "f"),
        parse_rule("l2.median", "< 2.5", "f"),
    ]
    checks = {c.rule.key: c for c in evaluate(r, rules, "t")}
    assert checks["cosine.mean"].passed and checks["cosine.mean"].value == pytest.approx(0.75)  # exactly at >=
    assert not checks["cosine.min"].passed and checks["cosine.min"].value == pytest.approx(0.6)
    assert checks["l2.max"].passed and checks["l2.max"].value == 4.0  # exactly at <=
    assert not checks["l2.median"].passed and checks["l2.median"].value == 2.5  # exactly at <: fails
    with pytest.raises(ConfigError, match="was not measured"):
        evaluate(r, [parse_rule("l2_normalized.mean", 1, "f")], "t")


def test_confidence_judges_the_mean_on_the_favourable_or_unfavourable_bound():
    r = cell(cosine=[0.70, 0.80, 0.90, 1.00, 0.75, 0.85, 0.95, 0.80])
    lo, hi = bootstrap_ci(r.values["cosine"], seed=r.seed + 17, level=0.95)
    assert lo < 0.84 < hi
    rule = parse_rule("cosine.mean", ">= 0.84", "f")
    favourable = evaluate(r, [rule], "t", confidence=0.95, bound="favourable")[0]
    unfavourable = evaluate(r, [rule], "t", confidence=0.95, bound="unfavourable")[0]
    assert favourable.value == hi and favourable.passed  # fails only if the whole interval breaks it
    assert unfavourable.value == lo and not unfavourable.passed  # passes only if the whole interval keeps it
    upper = parse_rule("cosine.mean", "<= 0.84", "f")
    assert evaluate(r, [upper], "t", confidence=0.95)[0].value == lo
    assert evaluate(r, [upper], "t", confidence=0.95, bound="unfavourable")[0].value == hi
    assert evaluate(r, [parse_rule("cosine.min", ">= 0.7", "f")], "t", confidence=0.95)[0].value == 0.7  # not a mean
    strict_lower, strict_upper = parse_rule("cosine.mean", "> 0.84", "f"), parse_rule("cosine.mean", "< 0.84", "f")
    assert evaluate(r, [strict_lower], "t", confidence=0.95)[0].value == hi  # '>' bounds from below, as '>='
    assert evaluate(r, [strict_upper], "t", confidence=0.95)[0].value == lo


def test_an_undefined_check_is_recorded_as_none_and_fails():
    """A mean of no defined value (every image NaN): the check fails, and what the run keeps says
    None for the value, the point and the interval, never NaN."""
    r = cell(cosine=[math.nan, math.nan, math.nan])
    for confidence in (None, 0.95):
        check = evaluate(r, [parse_rule("cosine.mean", ">= 0.5", "f")], "t", confidence=confidence)[0]
        recorded = check.record()
        assert not check.passed and not recorded.passed
        assert recorded.value is None and recorded.point is None
        assert recorded.interval == (None if confidence is None else (None, None))
    kept = evaluate(cell(cosine=[0.9, 0.8]), [parse_rule("cosine.mean", ">= 0.5", "f")], "t")[0].record()
    assert kept.passed and type(kept.value) is float and kept.value == pytest.approx(0.85)


# ------------------------------------------------------------------ summaries
def test_summary_statistics_known_values():
    s = summarize(np.array([4.0, 1.0, 3.0, 2.0, np.nan]), seed=0)
    assert (s["n"], s["n_undefined"], s["mean"], s["median"], s["min"], s["max"]) == (4, 1, 2.5, 2.5, 1.0, 4.0)
    assert s["std"] == pytest.approx(math.sqrt(5 / 3))  # sample std (ddof=1)
    assert s["p05"] == pytest.approx(1.15) and s["p95"] == pytest.approx(3.85)
    assert s["ci95_low"] < 2.5 < s["ci95_high"]
    empty = summarize(np.array([np.nan, np.nan]), seed=0)
    assert empty["n"] == 0 and empty["n_undefined"] == 2 and all(np.isnan(empty[k]) for k in ("mean", "ci95_low"))


def test_bootstrap_interval_is_seeded_ordered_and_narrows_with_confidence():
    v = np.linspace(0, 1, 30)
    assert bootstrap_ci(v, seed=1) == bootstrap_ci(v, seed=1) != bootstrap_ci(v, seed=2)
    lo95, hi95 = bootstrap_ci(v, seed=1, level=0.95)
    lo50, hi50 = bootstrap_ci(v, seed=1, level=0.5)
    assert lo95 < lo50 < 0.5 < hi50 < hi95
    assert all(np.isnan(x) for x in bootstrap_ci(np.array([]), seed=0))
    assert all(np.isnan(x) for x in bootstrap_ci(np.array([0.7]), seed=0))  # one value: no spread, no interval
    lo, hi = bootstrap_ci(np.array([0.0, 1.0]), seed=0)  # two values already have one
    assert 0.0 <= lo < 0.5 < hi <= 1.0


def test_worst_images_follow_the_metric_direction():
    r = cell(cosine=[0.9, 0.5, np.nan, 0.7], l2=[1.0, 5.0, 2.0, 3.0])
    assert r.worst("cosine", 2) == [("b", 0.5), ("d", 0.7)]  # lowest similarity first, undefined skipped
    assert r.worst("l2", 2) == [("b", 5.0), ("d", 3.0)]  # highest distance first


# ------------------------------------------------------------------ compare
def deltas(comparison, metric, stat="mean"):
    return [d for d in comparison.deltas if d.metric == metric and d.stat == stat]


def test_a_larger_distance_fails_the_compare_and_a_smaller_one_passes():
    base = run(cell(l2=[1.0, 1.0, 1.0, 1.0], cosine=[0.9] * 4))
    worse = run(cell(l2=[1.2, 1.2, 1.2, 1.2], cosine=[0.9] * 4))
    better = run(cell(l2=[0.8, 0.8, 0.8, 0.8], cosine=[0.9] * 4))
    rule = [parse_compare_rule("l2.mean:0.1")]
    failing = compare_runs(base, worse, rule)
    assert deltas(failing, "l2")[0].worse_by == pytest.approx(0.2) and failing.failures and failing.gate_failed
    passing = compare_runs(base, better, rule)
    assert deltas(passing, "l2")[0].worse_by == pytest.approx(-0.2) and not passing.failures
    assert not passing.gate_failed


def test_a_lower_similarity_fails_and_a_higher_one_passes():
    base = run(cell(cosine=[0.9] * 4))
    rule = [parse_compare_rule("cosine.mean:0.01")]
    assert compare_runs(base, run(cell(cosine=[0.85] * 4)), rule).failures
    assert not compare_runs(base, run(cell(cosine=[0.95] * 4)), rule).failures
    assert deltas(compare_runs(base, run(cell(cosine=[0.85] * 4)), rule), "cosine")[0].worse_by == pytest.approx(0.05)


@pytest.mark.parametrize(
    "rule,candidate,fails",
    [
        ("cosine.mean:0.05", 0.85, False),
        ("cosine.mean:0.05", 0.8499, True),  # absolute: at the tolerance passes
        ("cosine.mean:10%", 0.81, False),
        ("cosine.mean:10%", 0.8099, True),  # relative to |baseline| 0.9
        ("cosine.mean:0", 0.9, False),
        ("cosine.mean:0", 0.8999, True),
    ],
)
def test_tolerances_absolute_and_relative_at_their_edge(rule, candidate, fails):
    comparison = compare_runs(
        run(cell(cosine=[0.9] * 4)), run(cell(cosine=[candidate] * 4)), [parse_compare_rule(rule)]
    )
    assert bool(comparison.failures) is fails


def test_relative_tolerance_uses_the_baseline_magnitude():
    rule = parse_compare_rule("l2.mean:5%")
    assert rule.relative and rule.tolerance == 0.05 and rule.allowed(-2.0) == pytest.approx(0.1)
    assert not parse_compare_rule("l2.mean:0.5").relative and parse_compare_rule("l2.mean:0.5").allowed(100) == 0.5
    for bad in (
        "cosine.mean",
        "cosine:1",
        "cosine.mean:-1",
        "cosine.mean:x%",
        "cosine.average:1",
        "cosin.mean:1",
        "cosine.mean:inf",
    ):
        with pytest.raises(ConfigError):
            parse_compare_rule(bad)


def test_a_rule_only_judges_its_own_statistic():
    base = run(cell(cosine=[0.9, 0.9, 0.9, 0.1]))
    cand = run(cell(cosine=[0.9, 0.9, 0.9, 0.0]))  # min and mean worse by 0.1 and 0.025
    min_rule = compare_runs(base, cand, [parse_compare_rule("cosine.min:0.05")])
    assert [d.stat for d in min_rule.failures] == ["min"]
    mean_rule = compare_runs(base, cand, [parse_compare_rule("cosine.mean:0.05")])
    assert not mean_rule.failures


def test_missing_cells_fail_the_gate_unless_allowed():
    base = run(cell(sev=1, cosine=[0.9] * 4), cell(sev=3, cosine=[0.9] * 4))
    cand = run(cell(sev=1, cosine=[0.9] * 4))
    comparison = compare_runs(base, cand, [])
    assert comparison.missing == ["gaussian_noise[s3]"] and not comparison.failures and comparison.gate_failed
    allowed = compare_runs(base, cand, [], allow_missing=True)
    assert allowed.missing == ["gaussian_noise[s3]"] and not allowed.gate_failed
    assert not compare_runs(base, base, []).gate_failed


def test_runs_on_other_images_or_seeds_are_not_compared():
    base = run(cell(cosine=[0.9] * 4))
    other = run(cell(cosine=[0.9] * 4))
    other.image_hash = "other"
    with pytest.raises(ConfigError, match="different image set"):
        compare_runs(base, other)
    with pytest.raises(ConfigError, match="seed 0, this run seed 1"):
        compare_runs(base, run(cell(cosine=[0.9] * 4), seed=1))


def test_paired_compare_direction_and_significance():
    base = run(cell(names=list("abcdefgh"), l2=[1.0] * 8, cosine=[0.9] * 8))
    worse = run(cell(names=list("abcdefgh"), l2=[1.1] * 8, cosine=[0.8] * 8))
    better = run(cell(names=list("abcdefgh"), l2=[0.9] * 8, cosine=[0.95] * 8))
    rules = [parse_compare_rule("l2.mean:0"), parse_compare_rule("cosine.mean:0")]
    failing = compare_runs(base, worse, rules, paired=True)
    assert {d.metric for d in failing.failures} == {"l2", "cosine"}
    assert all(d.significant for d in failing.failures)
    assert deltas(failing, "l2")[0].interval == pytest.approx((0.1, 0.1))
    assert not compare_runs(base, better, rules, paired=True).failures
    assert deltas(compare_runs(base, better, rules, paired=True), "cosine")[0].significant is False
    mixed = run(cell(names=list("abcdefgh"), l2=[1.3, 0.7] * 4, cosine=[0.9] * 8))  # mean unchanged, noisy
    assert not compare_runs(base, mixed, [parse_compare_rule("l2.mean:0")], paired=True).failures


# ------------------------------------------------------------------ ordering and merging
def test_results_sort_in_registry_then_severity_order_with_paper_last():
    r = run(
        cell("gaussian_blur", "paper", cosine=[1] * 4),
        cell("gaussian_blur", 5, cosine=[1] * 4),
        cell("identity", 3, cosine=[1] * 4),
        cell("gaussian_noise", 1, cosine=[1] * 4),
        cell("gaussian_blur", 1, cosine=[1] * 4),
    )
    r.sort()
    assert [x.key for x in r.results] == [
        "identity[s3]",
        "gaussian_noise[s1]",
        "gaussian_blur[s1]",
        "gaussian_blur[s5]",
        "gaussian_blur[paper]",
    ]


def test_merging_shards_keeps_each_cell_once_and_per_image_values_by_name():
    a = run(
        cell("gaussian_noise", 1, cosine=[0.1, 0.2, 0.3, 0.4]), coverage={"complete": False, "reasons": ["shard 1/2"]}
    )
    b = run(
        cell("gaussian_blur", 1, cosine=[0.5, 0.6, 0.7, 0.8]),
        cell("gaussian_noise", 1, cosine=[0.1, 0.2, 0.3, 0.4]),
        coverage={"complete": False, "reasons": ["shard 2/2"]},
    )
    merged = merge_runs([a, b])
    assert [x.key for x in merged.results] == ["gaussian_noise[s1]", "gaussian_blur[s1]"]
    assert merged.get("gaussian_blur", 1).values["cosine"].tolist() == [0.5, 0.6, 0.7, 0.8]
    assert merged.coverage == {"complete": True, "reasons": []}
    b.seed = 3
    with pytest.raises(ConfigError, match="different seed"):
        merge_runs([a, b])


@pytest.mark.parametrize(
    "reasons,complete,left",
    [
        ([["shard 1/2"], ["shard 2/2"]], True, []),
        ([["shard 1/3"], ["shard 2/3"]], False, ["shard 1/3", "shard 2/3"]),
        ([["shard 1/2"], ["shard 2/2", "interrupted"]], False, ["interrupted"]),
        ([[], []], True, []),
        ([["2 item(s) deselected"], []], False, ["2 item(s) deselected"]),
    ],
)
def test_merged_coverage_is_complete_only_when_the_shards_cover_everything(reasons, complete, left):
    runs = [run(cell(cosine=[1] * 4), coverage={"complete": not r, "reasons": r}) for r in reasons]
    assert merged_coverage(runs) == {"complete": complete, "reasons": left}


def test_json_round_trip_keeps_values_order_and_coverage(tmp_path):
    r = run(
        cell("gaussian_noise", 3, cosine=[0.9, np.nan, 0.7, 0.6]),
        coverage={"complete": False, "reasons": ["interrupted"]},
    )
    path = r.write_json(tmp_path / "r.json")
    back = RunResult.read_json(path)
    assert back.get("gaussian_noise", 3).values["cosine"].tolist()[::2] == [0.9, 0.7]
    assert np.isnan(back.get("gaussian_noise", 3).values["cosine"][1])
    assert back.coverage == {"complete": False, "reasons": ["interrupted"]} and not back.complete
    assert json.loads(path.read_text())["results"][0]["metrics"]["cosine"]["n_undefined"] == 1


# ------------------------------------------------------------------ storage
def test_storage_numbers_runs_and_finds_latest_named_and_paths(tmp_path):
    from pytest_clipshift.gate.storage import Storage

    s = Storage(tmp_path / "runs")
    with pytest.raises(ConfigError, match="no saved runs"):
        s.find(None)
    first = s.save({"n": 1}, "release")
    second = s.save({"n": 2}, "nightly")
    third = s.save({"n": 3}, "release")
    assert [p.name for p in (first, second, third)] == ["0001_release.json", "0002_nightly.json", "0003_release.json"]
    assert s.find(None) == third and s.find("latest") == third
    assert s.find("release") == third and s.find("nightly") == second
    assert s.find(str(first)) == first
    with pytest.raises(ConfigError, match="saved: nightly, release"):
        s.find("beta")
    with pytest.raises(ConfigError, match="does not exist"):
        s.find(str(tmp_path / "nope.json"))
    (tmp_path / "runs" / "0009_gap.json").write_text("{}")
    assert s.save({"n": 4}, "release").name == "0010_release.json"  # after the highest number, never over it
    with pytest.raises(ConfigError, match="letters, digits"):
        s.save({}, "../escape")


def test_a_per_layer_rule_is_judged_paired_like_the_others():
    """A rule on a per-layer statistic (its delta made only for the rule): with --clipshift-compare-paired
    a mean worse by more than the tolerance but not significantly (the images disagree) passes, as it
    does for a plain metric; without it, it fails."""
    noisy = [0.9, 0.1, 0.9, 0.1]
    base = run(cell(**{"attention_correlation@1": [0.5, 0.5, 0.5, 0.5], "cosine": [0.5, 0.5, 0.5, 0.5]}))
    cand = run(cell(**{"attention_correlation@1": [0.3, 0.7, 0.1, 0.6], "cosine": noisy}))
    rules = [parse_compare_rule("attention_correlation@1.mean:0.01")]
    assert compare_runs(base, cand, rules).failures
    paired = compare_runs(base, cand, rules, paired=True)
    assert not paired.failures
    layer = next(d for d in paired.deltas if d.metric == "attention_correlation@1")
    assert layer.significant is False and layer.interval is not None
    again = next(d for d in compare_runs(base, cand, rules, paired=True).deltas if d.metric == layer.metric)
    assert again.interval == layer.interval  # the bootstrap is seeded by the run: the same interval each time


def test_compare_rules_that_are_not_rules_say_what_is_wrong():
    with pytest.raises(ConfigError, match="tolerance '1:2' is not a number"):
        parse_compare_rule("cosine.mean:1:2")
    with pytest.raises(ConfigError, match="unknown metric 'cosine.mean'"):
        parse_compare_rule("cosine.mean.p05:2%")


def test_a_delta_describes_and_writes_itself():
    from pytest_clipshift.gate.compare import Delta

    moved = Delta("gaussian_noise", 3, "cosine", "mean", 0.9, 0.8, 0.1)
    assert moved.describe().endswith("(-0.1000)")
    undefined = Delta("gaussian_noise", 3, "cosine", "mean", 0.9, float("nan"), float("nan"))
    assert undefined.to_dict()["worse_by"] is None and undefined.to_dict()["delta"] is None


def test_runs_of_other_image_sets_are_refused_naming_the_baseline():
    from pytest_clipshift.gate.compare import check_comparable

    other = run(cell())
    other.image_hash = "another"
    with pytest.raises(ConfigError, match="baseline"):
        check_comparable(run(cell()), other)


def test_family_rules_sit_between_an_augmentations_own_and_the_defaults():
    """``[families.F]`` and ``[families.F.sK]`` apply to F's ImageNet-C corruptions only, below their
    own tables; and a family named alone puts its corruptions in the suite."""
    b = budgets_from_mapping(
        {
            "defaults": {"cosine.mean": ">= 0.9", "l2.mean": "<= 1"},
            "families": {"noise": {"cosine.mean": ">= 0.7", "s5": {"cosine.mean": ">= 0.4", "l2.mean": "<= 3"}}},
            "augmentations": {"imagenet_c.shot_noise": {"cosine.mean": ">= 0.6"}},
        },
        "b.toml",
    )

    def thresholds(aug, sev):
        return {r.key: r.threshold for r in b.rules_for(aug, sev)}

    assert thresholds("imagenet_c.gaussian_noise", 3) == {"cosine.mean": 0.7, "l2.mean": 1.0}
    assert thresholds("imagenet_c.gaussian_noise", 5) == {"cosine.mean": 0.4, "l2.mean": 3.0}
    assert thresholds("imagenet_c.shot_noise", 5) == {"cosine.mean": 0.6, "l2.mean": 3.0}
    assert thresholds("imagenet_c.motion_blur", 5) == {"cosine.mean": 0.9, "l2.mean": 1.0}  # another family
    assert thresholds("gaussian_noise", 5) == {"cosine.mean": 0.9, "l2.mean": 1.0}  # the study's: no family
    names = [
        "imagenet_c.shot_noise",
        "imagenet_c.gaussian_noise",
        "imagenet_c.impulse_noise",
        "imagenet_c.speckle_noise",
    ]
    assert b.suite_pairs() == [(a, 3) for a in names]
    only_severity = budgets_from_mapping({"families": {"weather": {"s2": {"cosine.mean": ">= 0.5"}}}}, "b")
    assert [a for a, _ in only_severity.suite_pairs()] == [
        "imagenet_c.snow",
        "imagenet_c.frost",
        "imagenet_c.fog",
        "imagenet_c.brightness",
        "imagenet_c.spatter",  # an extra corruption, in the family of the reference's appendix
    ]


@pytest.mark.parametrize(
    ("families", "message"),
    [
        (
            {"nosie": {"cosine.mean": ">= 0.5"}},
            r"b.toml \[families.nosie\]: unknown ImageNet-C family 'nosie'; valid: noise, blur",
        ),
        ({"noise": ">= 0.5"}, r"b.toml \[families.noise\]: must be a table"),
        ("noise", r"b.toml: \[families\] must be a table of ImageNet-C family tables"),
    ],
)
def test_a_bad_families_table_is_refused_naming_the_file_and_table(families, message):
    with pytest.raises(ConfigError, match=message):
        budgets_from_mapping({"families": families}, "b.toml")


def test_the_compare_table_names_the_rules_a_compare_gates_on():
    b = budgets_from_mapping({"compare": {"fail": ["cosine.mean:2%", "l2.mean:0.1"]}}, "b.toml")
    assert b.compare_rules == ["cosine.mean:2%", "l2.mean:0.1"]
    assert budgets_from_mapping({"defaults": {}}, "b.toml").compare_rules == []
    for table, message in (
        ({"fails": ["cosine.mean:2%"]}, r"b.toml: \[compare\] holds only fail = "),
        ("cosine.mean:2%", r"b.toml: \[compare\] holds only fail = "),
        ({"fail": "cosine.mean:2%"}, r"b.toml: compare.fail = 'cosine.mean:2%' must be a list of rules"),
        ({"fail": [2]}, r"b.toml: compare.fail = \[2\] must be a list of rules"),
        ({"fail": ["cosine.mean"]}, r"b.toml compare.fail.*METRIC.STAT:TOLERANCE"),
    ):
        with pytest.raises(ConfigError, match=message):
            budgets_from_mapping({"compare": table}, "b.toml")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"augmentations": []}, "settings.augmentations = \\[\\] must be a non-empty list"),
        ({"augmentations": "identity"}, "settings.augmentations = 'identity' must be a non-empty list"),
        ({"augmentations": [1]}, "settings.augmentations = \\[1\\] must be a non-empty list"),
        ({"confidence": "0.9"}, "settings.confidence = '0.9' must be a number"),
        ({"metrics": "cosine"}, "settings.metrics = 'cosine' must be a list of metric names"),
    ],
)
def test_settings_of_the_wrong_type_are_refused_with_what_would_be_right(settings, message):
    with pytest.raises(ConfigError, match=message):
        budgets_from_mapping({"settings": settings}, "b.toml")
