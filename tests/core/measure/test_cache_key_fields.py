"""Each field the cache key is documented to hold (``CacheKeys``: model fingerprint, image hash,
augmentation with its parameters and severity, draw, augmenting device, seed, preprocessing and
canvas, stored metrics with a user metric's identity and the sink threshold, attack settings,
batch size) changes the key when it alone changes; the same inputs give the same key."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pytest_clipshift.core.augment.adversarial import AttackSettings
from pytest_clipshift.core.cases import Case
from pytest_clipshift.core.measure.plan import CacheKeys, make_plan
from pytest_clipshift.core.measure.settings import MeasureSettings

NOISE = Case("gaussian_noise", 3)


def encoder(fingerprint="f", preprocessing="clip-224", canvas=(224, 224)):
    return SimpleNamespace(
        fingerprint=fingerprint,
        info={"preprocessing": preprocessing, "precision": "fp32", "attention": True, "layers": True},
        canvas_size=canvas,
        name="m",
        supports_attention=True,
        embed_differentiable=lambda *a: None,
    )


def keys(enc=None, hashes=("h0", "h1"), device=None, cases=(NOISE,), **settings):
    enc = enc or encoder()
    s = MeasureSettings(**{"metrics": ("cosine",), **settings})
    return CacheKeys(enc, list(hashes), s, make_plan(enc, list(cases), s), device)


def both(k, case=NOISE, image=0):
    return k.clean(image), k.case(image, case)


def test_the_same_inputs_give_the_same_keys():
    assert both(keys()) == both(keys())


@pytest.mark.parametrize(
    "changed",
    [
        dict(enc=encoder(fingerprint="g")),
        dict(enc=encoder(preprocessing="siglip-256")),
        dict(enc=encoder(canvas=(256, 256))),
        dict(hashes=("other", "h1")),
        dict(seed=1),
        dict(batch_size=8),
        dict(metrics=("cosine", "l2")),
    ],
    ids=["fingerprint", "preprocessing", "canvas", "image hash", "seed", "batch size", "metrics"],
)
def test_a_field_of_every_entry_changes_both_keys(changed):
    base, other = both(keys()), both(keys(**changed))
    assert base[0] != other[0] and base[1] != other[1]


def test_the_case_fields_change_the_case_key_only():
    k = keys()
    clean, noise = both(k)
    assert k.case(0, Case("gaussian_noise", 4)) != noise  # severity
    assert k.case(0, Case("gaussian_blur", 3)) != noise  # augmentation
    assert k.case(0, Case("gaussian_noise", 3).with_draw(1)) != noise  # draw
    assert k.case(0, Case("gaussian_noise", strength=0.5)) != k.case(0, Case("gaussian_noise", strength=0.6))
    assert k.case(1, Case("gaussian_noise", 3)) != noise and k.clean(1) != clean  # the image


def test_the_augmenting_device_changes_the_key_of_a_case_it_runs_there():
    import torch

    case = Case("gaussian_noise", 3)
    on_cpu_path = keys().case(0, case)
    on_torch = keys(device=torch.device("cpu")).case(0, case)
    assert on_torch != on_cpu_path and on_torch == keys(device=torch.device("cpu")).case(0, case)


def test_a_built_in_metrics_layer_is_in_the_key():
    # stored by name with its layer: a rerun at another layer must not read this layer's numbers
    enc = encoder()
    enc.info["layers"] = 4
    at_2, at_3 = (keys(enc, metrics=("cosine", f"attention_correlation@{k}")) for k in (2, 3))
    assert "attention_correlation@2" in at_2.metric_identity
    assert both(at_2)[1] != both(at_3)[1]


def test_the_sink_threshold_is_in_the_key_of_a_run_that_measures_sinks():
    sinks = dict(metrics=("cosine", "sink_count_change"))
    assert both(keys(**sinks, sink_factor=10.0)) != both(keys(**sinks, sink_factor=20.0))
    assert both(keys(sink_factor=10.0)) == both(keys(sink_factor=20.0))  # no sink metric: the same entries


def test_the_attack_settings_are_in_an_adversarial_cases_key():
    attacked = Case("adversarial.embedding", 3)
    base = keys(cases=(attacked,)).case(0, attacked)
    for other in (AttackSettings(steps=5), AttackSettings(loss="l2"), AttackSettings(restarts=2)):
        assert keys(cases=(attacked,), attack=other).case(0, attacked) != base, other


def test_a_user_metrics_identity_is_in_the_key():
    import numpy as np

    from pytest_clipshift.core.metrics import METRICS, register_metric

    try:
        register_metric("key_probe", lambda b: np.zeros(len(b.image_names)), higher_is_better=True)
        first = both(keys(metrics=("cosine", "key_probe")))
        register_metric("key_probe", lambda b: np.ones(len(b.image_names)), higher_is_better=True, replace=True)
        assert both(keys(metrics=("cosine", "key_probe"))) != first  # another compute: other entries
        register_metric(
            "key_probe", lambda b: np.ones(len(b.image_names)), higher_is_better=True, replace=True, version="2"
        )
        assert both(keys(metrics=("cosine", "key_probe")))[0] != first[0]
    finally:
        METRICS.pop("key_probe", None)


def test_the_keys_follow_the_documented_recipe():
    # a recipe changed by accident orphans every cache already written: pinned part by part
    from pytest_clipshift.core.measure.cache import EmbeddingCache

    k = keys(seed=3, batch_size=5)
    common = ("f", "h1")
    tail = (3, "clip-224(224, 224)", ["cosine"], 5)
    assert k.clean(1) == EmbeddingCache.key(*common, "clean", {}, "-", *tail)
    assert k.case(1, NOISE) == EmbeddingCache.key(*common, "gaussian_noise", {"std": (0.10, 0.16)}, "3", *tail)
    drawn = NOISE.with_draw(2)
    assert k.case(1, drawn) == EmbeddingCache.key(*common, "gaussian_noise#draw2", {"std": (0.10, 0.16)}, "3", *tail)
    on_cuda = keys(seed=3, batch_size=5, device=SimpleNamespace(type="cuda"))
    name = "gaussian_noise#draw2@torch-cuda"
    assert on_cuda.case(1, drawn) == EmbeddingCache.key(*common, name, {"std": (0.10, 0.16)}, "3", *tail)


def test_an_attack_needs_gradients_and_fp32_and_names_the_cases_refused():
    from pytest_clipshift.core.errors import ConfigError
    from pytest_clipshift.core.measure.plan import check_attackable

    attacked = [Case("adversarial.embedding", 1), Case("adversarial.zero_shot", 2), Case("adversarial.embedding", 3)]
    unstated = SimpleNamespace(name="m", info={}, embed_differentiable=lambda *a: None)
    check_attackable(unstated, attacked)  # a precision not stated is fp32, the default
    half = SimpleNamespace(name="m", info={"precision": "fp16"}, embed_differentiable=lambda *a: None)
    with pytest.raises(ConfigError, match=r"^adversarial\.embedding, adversarial\.zero_shot: .* runs at fp16"):
        check_attackable(half, attacked)
    with pytest.raises(ConfigError, match=r"^adversarial\.embedding, adversarial\.zero_shot: .* gives no gradients"):
        check_attackable(SimpleNamespace(name="m", info={"precision": "fp32"}), attacked)
