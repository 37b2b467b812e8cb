"""The registry's names: what measuring a metric at a layer or a head stores (the names a run's
results and budgets use), the bounds of ``NAME@K`` and ``NAME@KhH``, how such a name is read, what
it needs from the model, and what a metric's values must be."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_clipshift.core.errors import ConfigError
from pytest_clipshift.core.metrics import METRICS
from pytest_clipshift.core.metrics.registry import metric_info, needs_of, split_position


@pytest.mark.parametrize("layer", [0, 4])
def test_a_layer_outside_the_model_is_refused(layer):
    with pytest.raises(ConfigError, match=f"'layer_cka@{layer}': the model has layers 1 to 3"):
        METRICS["layer_cka"].stored_names(layer, 3)


@pytest.mark.parametrize("head", [0, 5])
def test_a_head_outside_the_model_is_refused(head):
    with pytest.raises(ConfigError, match=f"'attention_correlation@2h{head}': the model has heads 1 to 4"):
        METRICS["attention_correlation"].stored_names(2, 3, head, 4)


def test_the_first_and_last_layer_and_head_are_the_models():
    attention = METRICS["attention_correlation"]
    assert attention.stored_names(2, 3, 1, 4) == ["attention_correlation@2h1"]
    assert attention.stored_names(2, 3, 4, 4) == ["attention_correlation@2h4"]
    assert METRICS["layer_cosine"].stored_names(1, 3) == ["layer_cosine@1"]
    assert METRICS["layer_cosine"].stored_names(3, 3) == ["layer_cosine@3"]


def test_a_head_family_stores_its_value_and_every_head_at_every_layer():
    assert METRICS["head_attention_correlation"].stored_names(None, 2, None, 3) == [
        "head_attention_correlation",
        *(f"attention_correlation@{k}h{h}" for k in (1, 2) for h in (1, 2, 3)),
    ]


def test_attention_at_a_layer_stores_every_attention_metric_of_that_layer():
    assert METRICS["attention_inverse_mse"].stored_names(2, 3) == [
        "attention_correlation@2",
        "attention_inverse_mse@2",
    ]


def test_a_layer_metric_stores_every_layer_metric_at_every_layer():
    assert METRICS["layer_cka"].stored_names(None, 2) == [
        f"{name}{at}" for name in ("layer_cosine", "layer_cka", "layer_cka_raw") for at in ("", "@1", "@2")
    ]


def test_any_other_metric_stores_its_own_name_at_its_layer():
    assert METRICS["cosine"].stored_names(None, 3) == ["cosine"]
    assert METRICS["sink_count_change"].stored_names(None, 3) == ["sink_count_change"]
    assert METRICS["sink_count_change"].stored_names(2, 3) == ["sink_count_change@2"]


def test_positions_are_read_from_one_at_sign():
    assert split_position("attention_correlation@3h2") == ("attention_correlation", 3, 2)
    assert split_position("layer_cka@2") == ("layer_cka", 2, None)
    assert split_position("cosine") == ("cosine", None, None)
    for bad in ("layer_cka@2@1", "layer_cka@x", "attention_correlation@2hx", "attention_correlation@2hX1"):
        with pytest.raises(ConfigError, match="the part after '@' must be a layer number, or LAYERhHEAD"):
            split_position(bad)


def test_a_head_of_a_metric_without_heads_names_those_with_them():
    with_heads = ", ".join(m.name for m in METRICS.values() if m.heads)
    assert with_heads == "attention_correlation, attention_inverse_mse, direct_effect_shift"
    with pytest.raises(ConfigError, match=f"metric 'layer_cka@2h1': only {with_heads} take '@LAYERhHEAD'"):
        metric_info("layer_cka@2h1")
    assert metric_info("attention_correlation@2h1") is METRICS["attention_correlation"]


def test_a_name_at_one_head_needs_the_heads_maps():
    assert needs_of("attention_correlation@2h1") == "heads"
    assert needs_of("attention_correlation@2") == "attention"
    assert needs_of("layer_cka") == "layers"


def test_a_metrics_values_are_float64_one_per_image():
    """A column of whole numbers, as a user's metric may return it, is read as one float per image."""
    from types import SimpleNamespace

    from pytest_clipshift.core.metrics.registry import register_metric

    try:
        metric = register_metric("test_column", lambda batch: [[1], [2]], higher_is_better=True)
        values = metric.values(SimpleNamespace(size=2))
        assert values.dtype == np.float64 and values.shape == (2,)
        np.testing.assert_array_equal(values, [1.0, 2.0])
    finally:
        METRICS.pop("test_column", None)
