"""The plan: which cases a measurement runs (group names expanded, pairs and cases as given) and
which metrics it stores (the attention family together; layers and heads the model states)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pytest_clipshift.core.augment.augmentations import expand_names
from pytest_clipshift.core.cases import Case
from pytest_clipshift.core.errors import ConfigError
from pytest_clipshift.core.measure.plan import expand_pairs, make_plan
from pytest_clipshift.core.measure.settings import MeasureSettings
from pytest_clipshift.core.metrics import METRICS


def test_group_names_expand_and_pairs_and_cases_are_taken_as_given():
    study = expand_names(["study"])
    assert len(study) == 9 and "study" not in study
    assert expand_pairs(["study"], [2]) == [Case(name, 2) for name in study]
    assert len(expand_pairs(["imagenet-c"], [1, 5])) == 2 * len(expand_names(["imagenet-c"]))
    mixed = expand_pairs([("gaussian_noise", 2), ["gaussian_blur", 4], Case("identity", 3), "gaussian_noise"])
    assert mixed == [
        Case("gaussian_noise", 2),
        Case("gaussian_blur", 4),
        Case("identity", 3),
        Case("gaussian_noise", 3),
    ]


def encoder(**info):
    return SimpleNamespace(fingerprint="f", info={"precision": "fp32", **info}, canvas_size=(224, 224), name="m")


def stored(enc, *metrics):
    return make_plan(enc, [Case("gaussian_noise", 3)], MeasureSettings(metrics=metrics)).stored_metrics


def test_an_attention_metric_stores_every_built_in_metric_of_the_same_maps():
    family = {m.name for m in METRICS.values() if m.builtin and m.needs == "attention"}
    assert len(family) >= 4
    assert set(stored(encoder(attention=True, layers=2), "attention_correlation")) == family
    assert stored(encoder(), "cosine") == ("cosine",)  # no maps asked for: none stored


def test_layers_and_heads_the_model_does_not_state_are_refused():
    bare = encoder(attention=True)  # a model that states neither its layers nor its heads
    assert stored(bare, "cosine", "attention_correlation")  # what needs neither is measured
    with pytest.raises(ConfigError, match=r"'layer_cosine@1': the model has layers 1 to 0"):
        stored(bare, "layer_cosine@1")
    with pytest.raises(ConfigError, match=r"the model has heads 1 to 0"):
        stored(encoder(attention=True, layers=2, tower=["heads"]), "attention_correlation@1h1")
    with_heads = encoder(attention=True, layers=2, heads=2, tower=["heads"])
    assert "attention_correlation@2h2" in stored(with_heads, "attention_correlation@2h2")


NOISE = (Case("gaussian_noise", 3),)


def plan_of(enc, metrics, cases=NOISE):
    return make_plan(enc, list(cases), MeasureSettings(metrics=metrics))


def test_what_the_model_cannot_give_is_dropped_with_one_note_naming_it():
    asked = ("cosine", "attention_correlation", "layer_cosine", "head_attention_correlation", "direct_effect_shift")
    full = plan_of(encoder(attention=True, layers=2, heads=2, tower=["heads", "direct"]), asked)
    assert full.metrics == asked and full.skipped_note is None
    conv = plan_of(encoder(attention="not available (a convolutional tower)", tower=["direct"]), asked)
    assert conv.metrics == ("cosine", "direct_effect_shift")
    assert conv.skipped_note == (
        "model m: attention maps and layer tokens are not available (a convolutional tower); not measured: "
        "attention_correlation, layer_cosine; model m cannot give "
        "head_attention_correlation (inside its tower: direct); not measured"
    )
    pooled = plan_of(encoder(attention=True, layers=2, heads=2, tower=["heads"]), asked)
    assert pooled.metrics == asked[:4]
    assert pooled.skipped_note == "model m cannot give direct_effect_shift (inside its tower: heads); not measured"
    bare = plan_of(encoder(attention=True, layers=2), ("cosine", "answer_layer_shift", "attention_correlation@1h1"))
    assert bare.metrics == ("cosine",)
    assert bare.skipped_note == (
        "model m cannot give answer_layer_shift, attention_correlation@1h1 (inside its tower: nothing); not measured"
    )


def test_the_logit_lens_and_a_zero_shot_attack_add_the_label_prompts_to_what_is_read():
    from pytest_clipshift.core.metrics.registry import needs_of

    lens = plan_of(encoder(attention=True, layers=2, tower=["lens"]), ("cosine", "answer_layer_shift"))
    assert lens.needs == {needs_of("cosine"), "lens", "text"}
    attackable = encoder(attention=True)
    attackable.embed_differentiable = lambda *a: None
    zero_shot = plan_of(attackable, ("cosine",), [Case("adversarial.zero_shot", 1)])
    assert zero_shot.needs == {needs_of("cosine"), "text"}
    assert plan_of(attackable, ("cosine",), [Case("adversarial.embedding", 1)]).needs == {needs_of("cosine")}
    with pytest.raises(ConfigError, match="adversarial.embedding: model m gives no gradients"):
        plan_of(encoder(attention=True), ("cosine",), [Case("adversarial.embedding", 1)])
