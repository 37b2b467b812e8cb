"""``MeasureSettings``: what it refuses (with the value named), what it keeps, and ``of``'s merge."""

from __future__ import annotations

import pytest

from pytest_clipshift.core.errors import ConfigError
from pytest_clipshift.core.measure.settings import DEFAULT_SETTINGS, MeasureSettings
from pytest_clipshift.core.metrics import DEFAULT_METRICS


@pytest.mark.parametrize("sizes", [dict(batch_size=0), dict(chunk_size=0), dict(batch_size=-3, chunk_size=5)])
def test_sizes_below_one_are_refused(sizes):
    with pytest.raises(ConfigError, match="batch_size and chunk_size must be positive"):
        MeasureSettings(**sizes)


@pytest.mark.parametrize("draws", [0, 65, True, 2.0, "2", None])
def test_draws_must_be_a_whole_number_from_1_to_64(draws):
    with pytest.raises(ConfigError, match=f"draws = {draws!r}: must be a whole number between 1 and 64"):
        MeasureSettings(draws=draws)


def test_the_bounds_themselves_are_accepted():
    assert MeasureSettings(batch_size=1, chunk_size=1, draws=1).draws == 1
    assert MeasureSettings(draws=64).draws == 64


def test_lists_become_tuples_and_the_defaults_are_the_documented_ones():
    s = MeasureSettings(metrics=["cosine", "l2"], overlay_metrics=["cosine"])
    assert s.metrics == ("cosine", "l2") and s.overlay_metrics == ("cosine",)
    d = DEFAULT_SETTINGS
    assert (d.metrics, d.seed, d.batch_size, d.chunk_size, d.draws) == (DEFAULT_METRICS, 0, 32, 64, 1)
    assert (d.augment_device, d.keep_embeddings, d.overlay_metrics, d.overlay_count, d.sink_factor) == (
        None,
        True,
        (),
        2,
        10.0,
    )


def test_of_replaces_only_what_it_is_given_and_names_an_unknown_option():
    base = MeasureSettings(seed=7, chunk_size=5, metrics=["l2"])
    merged = MeasureSettings.of(base, draws=3)
    assert (merged.seed, merged.chunk_size, merged.metrics, merged.draws) == (7, 5, ("l2",), 3)
    assert MeasureSettings.of(None, seed=2) == MeasureSettings(seed=2)
    assert MeasureSettings.of(base) == base
    with pytest.raises(ConfigError, match=r"unknown measure option\(s\) chunk, sed; valid: attack, augment_device"):
        MeasureSettings.of(base, sed=1, chunk=2)
