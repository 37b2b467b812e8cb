"""A metric of one's own: one ``register_metric`` call, and budgets, compare, the results
JSON, the terminal table and the HTML report all carry it with no other edit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pytest_clipshift.core.errors import ConfigError
from pytest_clipshift.core.metrics import METRICS, register_metric
from tests.conftest import make_user_project

pytest_plugins = ["pytester"]


def pixel_change(batch):
    """Mean absolute pixel change in [0, 1]: a distance (0 = unchanged)."""
    diff = np.abs(batch.clean_images.astype(np.float64) - batch.augmented_images.astype(np.float64))
    return diff.mean(axis=(1, 2, 3)) / 255.0


@pytest.fixture
def registered():
    yield
    METRICS.pop("pixel_change", None)


def test_registration_is_checked(registered):
    with pytest.raises(ConfigError, match="'cosine' is a built-in metric"):
        register_metric("cosine", pixel_change, higher_is_better=True)
    with pytest.raises(ConfigError, match="needs='pixel'; valid: embedding, attention, pixels, layers, text"):
        register_metric("pixel_change", pixel_change, needs="pixel", higher_is_better=False)
    with pytest.raises(ConfigError, match="must be a Python identifier"):
        register_metric("pixel change", pixel_change, higher_is_better=False)
    with pytest.raises(ConfigError, match="higher_is_better must be True or False"):
        register_metric("pixel_change", pixel_change, higher_is_better=None)
    register_metric("pixel_change", pixel_change, needs="pixels", higher_is_better=False)
    with pytest.raises(ConfigError, match="already registered"):
        register_metric("pixel_change", pixel_change, needs="pixels", higher_is_better=False)
    register_metric("pixel_change", pixel_change, needs="pixels", higher_is_better=False, replace=True)


def test_a_registration_stores_what_the_run_reads_from_it(registered):
    """The fields the terminal table, the report, the cache key and budgets read, as registered."""
    from pytest_clipshift.core.metrics import layered_names

    plain = register_metric("pixel_change", pixel_change, needs="pixels", higher_is_better=False)
    assert (plain.name, plain.needs, plain.higher_is_better, plain.compute) == (
        "pixel_change",
        "pixels",
        False,
        pixel_change,
    )
    assert (plain.description, plain.version, plain.builtin, plain.terminal_label) == (
        "user metric pixel_change",
        "",
        False,
        "pixel_chan",  # ten characters: the terminal table's column
    )
    assert METRICS["pixel_change"] is plain and "pixel_change" not in layered_names()
    assert {"attention_correlation", "layer_cka"} <= set(layered_names()) and "cosine" not in layered_names()
    described = register_metric(
        "pixel_change", pixel_change, higher_is_better=True, description="mean pixel change", version=2, replace=True
    )
    assert (described.description, described.version, described.higher_is_better, described.needs) == (
        "mean pixel change",
        "2",
        True,
        "embedding",
    )


def test_the_engine_measures_a_registered_metric_with_known_values(registered, tiny_clip_dir, small_images):
    from pytest_clipshift.core.augment.augmentations import apply_augmentation
    from pytest_clipshift.core.measure.engine import measure
    from pytest_clipshift.core.models.encoders import load_encoder

    register_metric("pixel_change", pixel_change, needs="pixels", higher_is_better=False)
    encoder = load_encoder(str(tiny_clip_dir), "cpu")
    images = small_images.subset(max_images=3)
    run = measure(encoder, images, ["identity", "gaussian_noise"], metrics=["cosine", "pixel_change"], seed=5)
    assert np.allclose(run.get("identity", 3).values["pixel_change"], 0.0)
    expected = []
    for i in range(len(images)):
        canvas = encoder.to_canvas(images.arrays[i])
        noisy = apply_augmentation("gaussian_noise", canvas, 3, 5, images.hashes[i]).image
        expected.append(np.abs(canvas.astype(float) - noisy.astype(float)).mean() / 255.0)
    assert np.allclose(run.get("gaussian_noise", 3).values["pixel_change"], expected, atol=1e-12)
    assert min(expected) > 0.01


def test_a_metric_returning_the_wrong_shape_names_itself(registered, tiny_clip_dir, small_images):
    from pytest_clipshift.core.measure.engine import measure
    from pytest_clipshift.core.models.encoders import load_encoder

    register_metric("pixel_change", lambda batch: np.zeros(batch.size + 1), needs="pixels", higher_is_better=False)
    with pytest.raises(ConfigError, match=r"metric 'pixel_change' returned 3 value\(s\) for a batch of 2 images"):
        measure(
            load_encoder(str(tiny_clip_dir), "cpu"),
            small_images.subset(max_images=2),
            ["gaussian_noise"],
            metrics=["pixel_change"],
        )


CONFTEST = """
import os
import numpy as np
from pytest_clipshift import register_metric

def pixel_change(batch):
    diff = np.abs(batch.clean_images.astype(np.float64) - batch.augmented_images.astype(np.float64))
    return diff.mean(axis=(1, 2, 3)) / 255.0 * float(os.environ.get("PIXEL_CHANGE_SCALE", "1"))

register_metric("pixel_change", pixel_change, needs="pixels", higher_is_better=False, replace=True,
                description="mean absolute pixel change")
"""

BUDGETS = """
[settings]
augmentations = ["identity", "gaussian_noise"]

[defaults]
"pixel_change.mean" = "<= 0.5"

[augmentations.gaussian_noise]
"pixel_change.mean" = "<= 0.001"
"""


def test_budgets_json_terminal_report_and_compare_carry_a_user_metric(
    registered, pytester, tiny_clip_dir, small_images, monkeypatch
):
    project = make_user_project(pytester, tiny_clip_dir, small_images, BUDGETS, 2)
    project.makeconftest(CONFTEST)
    result = project.runpytest(
        "--clipshift",
        "--clipshift-budgets=budgets.toml",
        "--clipshift-json=out.json",
        "--clipshift-save=base",
        "--html=report.html",
        "--self-contained-html",
    )
    result.assert_outcomes(passed=1, failed=1)  # identity keeps 0.5; noise breaks 0.001
    result.stdout.fnmatch_lines(["*gaussian_noise*pixel_change.mean*<=*0.001*", "*pixel_chan*"])
    data = json.loads((project.path / "out.json").read_text())
    cells = {r["augmentation"]: r["metrics"]["pixel_change"] for r in data["results"]}
    assert cells["identity"]["mean"] == 0.0 and cells["gaussian_noise"]["mean"] > 0.01
    assert {c["metric"] for c in data["budgets"]} == {"pixel_change"}
    page = (project.path / "report.html").read_text()
    assert "pixel_change" in page and "mean absolute pixel change" in page

    # a candidate whose metric doubled: a distance went up, so the compare fails on it
    monkeypatch.setenv("PIXEL_CHANGE_SCALE", "2")
    # (the metric reads a setting the cache cannot see: a real user would bump version=; here, no cache)
    worse = project.runpytest(
        "--clipshift",
        "--clipshift-budgets=budgets.toml",
        "--clipshift-compare=base",
        "--clipshift-no-cache",
        "--clipshift-compare-fail=pixel_change.mean:0.0001",
    )
    assert worse.ret != 0
    worse.stdout.fnmatch_lines(["*gaussian_noise*pixel_change.mean*FAIL*"])
    # and a candidate whose metric halved is better, not worse: the direction comes from the registration
    monkeypatch.setenv("PIXEL_CHANGE_SCALE", "0.5")
    # (its budgets drop the pixel_change bound, so they must still ask for the metric: a compare rule on a
    # metric the run did not measure fails the gate)
    project.makefile(
        ".toml", loose='[settings]\naugmentations = ["identity", "gaussian_noise"]\nmetrics = ["pixel_change"]\n'
    )
    better = project.runpytest(
        "--clipshift",
        "--clipshift-budgets=loose.toml",
        "--clipshift-compare=base",
        "--clipshift-no-cache",
        "--clipshift-compare-fail=pixel_change.mean:0.0001",
    )
    assert better.ret == 0, better.stdout.str()[-3000:]


def test_a_changed_user_metric_is_not_read_from_the_cache(registered):
    first = register_metric("pixel_change", pixel_change, needs="pixels", higher_is_better=False)
    bumped = register_metric(
        "pixel_change", pixel_change, needs="pixels", higher_is_better=False, replace=True, version="2"
    )
    other = register_metric(
        "pixel_change", lambda b: pixel_change(b) * 2, needs="pixels", higher_is_better=False, replace=True
    )
    assert len({first.identity, bumped.identity, other.identity}) == 3
    assert METRICS["cosine"].identity == "cosine"  # built-in keys are unchanged (existing caches stay valid)


def test_a_user_metric_across_draws_gets_each_images_k_draws(tiny_encoder, small_images):
    """``needs="draws"`` is declared, not named: the engine hands such a metric each image's (K, D)
    embeddings over the K draws, as it does divergence_radius (one draw, identity: no spread)."""
    from pytest_clipshift.core.measure.engine import measure
    from pytest_clipshift.core.metrics import functional as F

    register_metric("draws_seen", lambda points: len(points), needs="draws", higher_is_better=False)
    register_metric(
        "radius_again", lambda points: F.enclosing_ball_radius(F.unit(points)), needs="draws", higher_is_better=False
    )
    try:
        run = measure(
            tiny_encoder,
            small_images.subset(max_images=3),
            ["identity", "gaussian_noise"],
            metrics=["cosine", "draws_seen", "radius_again", "divergence_radius"],
            draws=3,
            cache=None,
        )
    finally:
        METRICS.pop("draws_seen", None)
        METRICS.pop("radius_again", None)
    noise, identity = run.get("gaussian_noise", 3), run.get("identity", 3)
    assert list(noise.values["draws_seen"]) == [3.0] * 3 and list(identity.values["draws_seen"]) == [0.0] * 3
    assert np.array_equal(noise.values["radius_again"], noise.values["divergence_radius"])
    assert noise.stat("divergence_radius", "mean") > 0


def test_a_position_after_at_names_a_layer_and_a_head():
    from pytest_clipshift.core.metrics import split_layer
    from pytest_clipshift.core.metrics.registry import split_position

    assert split_position("attention_correlation@3h2") == ("attention_correlation", 3, 2)
    assert split_position("layer_cka@12") == ("layer_cka", 12, None)
    assert split_position("cosine") == ("cosine", None, None)
    assert split_layer("attention_correlation@3h2") == ("attention_correlation", 3)
    assert split_layer("layer_cka@-1") == ("layer_cka", -1) and split_layer("l2") == ("l2", None)
    for bad in ("layer_cka@x", "layer_cka@3h", "layer_cka@h2", "layer_cka@3hx"):
        with pytest.raises(ConfigError, match="must be a layer number, or LAYERhHEAD"):
            split_position(bad)
