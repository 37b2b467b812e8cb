"""A rule the gate cannot evaluate fails it with a reason, never passes: an undefined statistic, a
metric one side did not measure, a per-layer metric; and runs measured with different settings
are refused, naming the setting."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_clipshift.core.errors import ConfigError
from pytest_clipshift.core.runs.combine import merge_runs
from pytest_clipshift.gate.compare import compare_runs, parse_compare_rule
from tests.gate.test_gate_core import cell, run

NAN4 = [float("nan")] * 4


def failures(comparison) -> list[str]:
    return [reason for d in comparison.failures for reason in d.failed]


def test_an_undefined_candidate_fails_the_rule_that_names_it():
    base = run(cell(cosine=[0.9] * 4, attention_correlation=[0.8] * 4))
    collapsed = run(cell(cosine=[0.9] * 4, attention_correlation=NAN4))  # q/k zeroed: every map constant
    comparison = compare_runs(base, collapsed, [parse_compare_rule("attention_correlation.mean:0.02")])
    assert comparison.gate_failed
    assert failures(comparison) == [
        "attention_correlation.mean:0.02 (undefined in this run: no image gave a defined attention_correlation)"
    ]
    delta = comparison.failures[0]
    assert delta.describe() == "0.8000 -> undefined"
    assert delta.to_dict()["delta"] is None and delta.to_dict()["candidate"] is None


def test_an_undefined_baseline_fails_too_and_a_defined_pair_within_tolerance_passes():
    base = run(cell(cosine=NAN4))
    comparison = compare_runs(base, run(cell(cosine=[0.9] * 4)), [parse_compare_rule("cosine.mean:1")])
    assert failures(comparison) == ["cosine.mean:1 (undefined in the baseline)"]
    ok = compare_runs(
        run(cell(cosine=[0.9] * 4)), run(cell(cosine=[0.89] * 4)), [parse_compare_rule("cosine.mean:0.02")]
    )
    assert not ok.gate_failed


def test_a_rule_on_a_metric_the_candidate_did_not_measure_fails():
    base = run(cell(cosine=[0.9] * 4, layer_cka=[0.7] * 4))
    comparison = compare_runs(base, run(cell(cosine=[0.9] * 4)), [parse_compare_rule("layer_cka.mean:0.001")])
    assert comparison.gate_failed
    assert failures(comparison)[0].startswith("layer_cka.mean:0.001 (not measured in this run")
    assert comparison.failures[0].describe() == "0.7000 -> not measured"
    other_way = compare_runs(run(cell(cosine=[0.9] * 4)), base, [parse_compare_rule("layer_cka.mean:0.001")])
    assert failures(other_way) == ["layer_cka.mean:0.001 (the baseline did not measure layer_cka)"]


def test_a_rule_on_a_per_layer_metric_is_evaluated():
    base = run(cell(cosine=[0.9] * 4, **{"attention_correlation@1": [0.9] * 4}))
    worse = run(cell(cosine=[0.9] * 4, **{"attention_correlation@1": [0.5] * 4}))
    comparison = compare_runs(base, worse, [parse_compare_rule("attention_correlation@1.mean:0.05")])
    assert failures(comparison) == ["attention_correlation@1.mean:0.05"]


def test_clean_deltas_still_list_every_shared_metric_once():
    base = run(cell(cosine=[0.9] * 4, l2_normalized=[0.3] * 4))
    comparison = compare_runs(base, base, [parse_compare_rule("cosine.mean:0.01")])
    assert sorted((d.metric, d.stat) for d in comparison.deltas) == [("cosine", "mean"), ("l2_normalized", "mean")]
    assert not comparison.gate_failed


@pytest.mark.parametrize("setting,option", [("canvas_size", "--clipshift-canvas-size"), ("draws", "--clipshift-draws")])
def test_runs_measured_with_other_settings_are_refused_naming_the_setting(setting, option):
    base, cand = run(cell(cosine=[0.9] * 4)), run(cell(cosine=[0.9] * 4))
    base.settings, cand.settings = (
        {setting: 224 if setting == "canvas_size" else 1},
        {setting: 64 if setting == "canvas_size" else 2},
    )
    with pytest.raises(ConfigError, match=f"measured with {setting} .* use the same {option}"):
        compare_runs(base, cand, [])
    with pytest.raises(ConfigError, match=f"different {setting}"):
        merge_runs([base, cand], ["shard-1.json", "shard-2.json"])


def test_a_setting_only_one_run_recorded_does_not_block():
    base, cand = run(cell(cosine=[0.9] * 4)), run(cell(cosine=[0.9] * 4))
    cand.settings = {"canvas_size": 224}
    assert not compare_runs(base, cand, []).gate_failed
    assert np.isfinite(merge_runs([base, cand]).results[0].stat("cosine", "mean"))
