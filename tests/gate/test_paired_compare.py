"""A paired compare fails only on a regression its paired test finds significant."""

from __future__ import annotations

import numpy as np

pytest_plugins = ["pytester"]


def test_paired_compare_fails_only_on_a_significant_regression(tiny_encoder, small_images):
    from pytest_clipshift import measure
    from pytest_clipshift.gate.compare import compare_runs, parse_compare_rule

    base = measure(tiny_encoder, small_images, ["gaussian_noise"], severities=[5], seed=0)
    cand = measure(tiny_encoder, small_images, ["gaussian_noise"], severities=[5], seed=0)
    values = cand.results[0].values["cosine"]
    rng = np.random.default_rng(0)
    cand.results[0].values["cosine"] = values + rng.normal(0, 0.05, values.shape)  # noise, no real change
    cand.results[0]._summaries.clear()
    rule = [parse_compare_rule("cosine.mean:0")]
    plain = compare_runs(base, cand, rule)
    paired = compare_runs(base, cand, rule, paired=True)
    worse_mean = [d for d in plain.deltas if d.metric == "cosine" and d.stat == "mean"][0]
    if worse_mean.worse_by > 0:
        assert plain.failures
    assert not paired.failures  # not significant: the paired gate does not flake
    cand.results[0].values["cosine"] = values - 0.05  # every image worse: a real regression
    cand.results[0]._summaries.clear()
    assert compare_runs(base, cand, rule, paired=True).failures
