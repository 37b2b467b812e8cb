"""Merging shards field by field: what a merged run holds, built from runs whose every field is set
(the shard tests in tests/integration/ merge real runs; these pin each field on its own)."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_clipshift.core.errors import ConfigError
from pytest_clipshift.core.runs.checks import RecordedCheck, unique_checks
from pytest_clipshift.core.runs.combine import join_cells, join_view_distances, merge_runs, merged_coverage
from pytest_clipshift.core.runs.results import RunResult, ShiftResult

NAMES = ["a", "b"]


def cell(aug, values):
    return ShiftResult(augmentation=aug, severity=3, image_names=NAMES, values=values, seed=7)


def check(aug, passed=True):
    return RecordedCheck(
        test="t",
        augmentation=aug,
        severity=3,
        metric="cosine",
        stat="mean",
        op=">=",
        threshold=0.5,
        value=0.9,
        point=0.9,
        interval=None,
        passed=passed,
    )


def shard(k, cells, **fields):
    return RunResult(
        model={"name": "m", "fingerprint": "f"},
        seed=7,
        image_names=NAMES,
        image_hash="h",
        image_source=f"images-{k}",
        results=cells,
        settings={"batch_size": 4, "canvas_size": 224, "shard": k},
        versions={"torch": f"v{k}"},
        machine={"node": f"n{k}"},
        coverage={"complete": False, "reasons": [f"shard {k}/2"]},
        **fields,
    )


def test_a_merged_run_is_the_first_shards_run_with_every_shards_cells_checks_warnings_and_views():
    clean = np.ones((2, 4), np.float32)
    views_1 = {"s3": {"labels": ["identity", "fog"], "sums": [1]}}
    views_2 = {"s3": {"labels": ["identity", "fog", "snow"], "sums": [2]}, "s5": {"labels": ["fog"], "sums": [3]}}
    one = shard(
        1,
        [cell("fog", {"cosine": np.array([0.9, 0.8])})],
        warnings=["w1", "both"],
        budgets=[check("fog"), check("fog")],
        view_distances=views_1,
    )
    two = shard(
        2,
        [cell("snow", {"cosine": np.array([0.7, 0.6])})],
        clean_embeddings=clean,
        warnings=["both", "w2"],
        budgets=[check("snow", passed=False)],
        view_distances=views_2,
    )
    merged = merge_runs([one, two], ["s1.json", "s2.json"])
    assert (merged.model, merged.seed, merged.image_names, merged.image_hash) == (
        {"name": "m", "fingerprint": "f"},
        7,
        NAMES,
        "h",
    )
    assert merged.image_source == "images-1" and merged.settings["shard"] == 1
    assert merged.versions == {"torch": "v1"} and merged.machine == {"node": "n1"}
    assert merged.clean_embeddings is clean  # the first shard that kept them
    assert merged.warnings == ["w1", "both", "w2"]
    assert [(c.augmentation, c.passed) for c in merged.budgets] == [("fog", True), ("snow", False)]
    assert merged.coverage == {"complete": True, "reasons": []}
    assert merged.merged_from == ["s1.json", "s2.json"]
    assert merged.view_distances == {"s3": views_2["s3"], "s5": views_2["s5"]}  # per severity, the most views
    assert sorted(r.augmentation for r in merged.results) == ["fog", "snow"]
    assert merge_runs([one, two]).merged_from == ["run 1", "run 2"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"model": {"name": "m", "fingerprint": "g"}},
            r"cannot merge s2.json with s1.json: different model fingerprint \(g vs f\)",
        ),
        ({"seed": 8}, r"cannot merge s2.json with s1.json: different seed \(8 vs 7\)"),
        ({"image_hash": "i"}, r"cannot merge s2.json with s1.json: different image set hash \(i vs h\)"),
        (
            {"settings": {"batch_size": 8}},
            r"different batch_size \(8 vs 4\); measure every shard with the same --clipshift-batch-size",
        ),
    ],
)
def test_shards_measured_differently_are_refused_naming_the_field(change, message):
    one = shard(1, [cell("fog", {"cosine": np.array([0.9, 0.8])})])
    two = shard(2, [cell("snow", {"cosine": np.array([0.7, 0.6])})])
    for name, value in change.items():
        setattr(two, name, value)
    with pytest.raises(ConfigError, match=message):
        merge_runs([one, two], ["s1.json", "s2.json"])


def test_a_cell_measured_twice_keeps_its_first_values_and_gains_only_the_metrics_it_lacked():
    first = cell("fog", {"cosine": np.array([0.9, 0.8])})
    again = cell("fog", {"cosine": np.array([0.1, 0.1]), "l2": np.array([1.0, 2.0])})
    joined = join_cells([first], [again])
    assert len(joined) == 1 and joined[0] is first
    assert joined[0].values["cosine"].tolist() == [0.9, 0.8] and joined[0].values["l2"].tolist() == [1.0, 2.0]


def test_view_distances_keep_the_group_of_most_views_and_the_first_of_a_tie():
    a = {"s3": {"labels": ["x", "y"], "id": "a"}}
    b = {"s3": {"labels": ["p", "q"], "id": "b"}}
    assert join_view_distances(a, None, b)["s3"]["id"] == "a"
    assert join_view_distances(None, {}) == {}


def test_coverage_without_reasons_and_a_check_counted_once():
    runs = [shard(1, []), shard(2, [])]
    runs[0].coverage = {"complete": True}
    runs[1].coverage = {"complete": False, "reasons": ["interrupted"]}
    assert merged_coverage(runs) == {"complete": False, "reasons": ["interrupted"]}
    assert [c.augmentation for c in unique_checks([check("fog"), check("snow"), check("fog")])] == ["fog", "snow"]


def subset_cell(aug, values):
    c = cell(aug, values)
    c.subset = True
    return c


def test_accepting_a_partial_candidate_keeps_what_the_baseline_knew():
    """``--clipshift-update-baseline`` with a run that measured fewer cells: the run's cells, plus
    every whole-set baseline cell it did not measure (named), never a baseline subset cell; the run's
    fields; its coverage when it is complete, else the baseline's."""
    from pytest_clipshift.core.runs.combine import updated_baseline

    baseline = shard(1, [cell("fog", {"cosine": np.ones(2)}), cell("gaussian_noise", {"cosine": np.zeros(2)})])
    baseline.results.append(subset_cell("zoom_blur", {"cosine": np.ones(2)}))
    baseline.coverage = {"complete": True, "reasons": []}
    run = shard(2, [cell("gaussian_noise", {"cosine": np.full(2, 0.5)}), subset_cell("fog", {"cosine": np.ones(2)})])
    merged, kept = updated_baseline(baseline, run)
    assert kept == ["fog[s3]"]
    assert [(r.key, r.subset) for r in merged.results] == [
        ("gaussian_noise[s3]", False),
        ("fog[s3]", False),
        ("fog[s3]", True),
    ]
    assert merged.get("gaussian_noise", 3).values["cosine"].tolist() == [0.5, 0.5]
    assert (merged.image_source, merged.versions, merged.machine) == ("images-2", {"torch": "v2"}, {"node": "n2"})
    assert merged.coverage == baseline.coverage  # the run (a shard) is not complete: the baseline's holds
    run.coverage = {"complete": True, "reasons": []}
    assert updated_baseline(baseline, run)[0].coverage is run.coverage


def test_the_metrics_an_update_would_drop_name_their_cells():
    from pytest_clipshift.core.runs.combine import metrics_the_update_would_drop

    both = {"cosine": np.ones(2), "l2": np.zeros(2)}
    baseline = shard(1, [cell("fog", both), cell("gaussian_noise", both), cell("zoom_blur", both)])
    baseline.results.append(subset_cell("identity", {"cka": np.ones(2)}))
    run = shard(
        2,
        [cell("fog", {"cosine": np.ones(2)}), cell("gaussian_noise", both), subset_cell("zoom_blur", {"cosine": 1})],
    )
    run.results.append(subset_cell("identity", {"cosine": np.ones(2)}))  # the baseline's subset cell, without cka
    assert metrics_the_update_would_drop(baseline, run) == {"l2": {"fog[s3]"}}
    run.results[0] = cell("fog", {})
    assert metrics_the_update_would_drop(baseline, run) == {"cosine": {"fog[s3]"}, "l2": {"fog[s3]"}}
