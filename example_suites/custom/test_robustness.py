"""Hand-written robustness tests: fixtures, the marker, assertion helpers, a custom augmentation
and a hypothesis-driven property."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_clipshift import assert_attention_similar, assert_not_worse_than, assert_shift_within


def test_mild_augmentations_keep_embeddings(clipshift, augmentation):
    """Parametrised over clipshift_augmentations x clipshift_severities from pytest.ini."""
    result = clipshift.measure(augmentation)
    assert_shift_within(result, "cosine", "mean", min=0.9)
    assert_shift_within(result, "l2_normalized", "p95", max=0.75)


@pytest.mark.clipshift(budget={"cosine.mean": ">= 0.95", "cosine.p05": ">= 0.85"})
def test_jpeg_compression_budget(clipshift):
    """The user-defined augmentation, gated by the marker's budget."""
    clipshift.measure("jpeg", severity=2)


def test_attention_survives_blur(clipshift):
    assert_attention_similar(clipshift.measure("gaussian_blur", 2), min_correlation=0.9)


def test_stronger_jpeg_moves_more(clipshift):
    mild, strong = clipshift.measure("jpeg", 1), clipshift.measure("jpeg", 5)
    assert strong.stat("cosine", "mean") <= mild.stat("cosine", "mean")
    assert_not_worse_than(mild, strong, "cosine", tolerance=0.0)  # mild is never worse than strong


@pytest.mark.clipshift(images=["scene_0000_blue_square.png", "scene_0002_red_circle.png"])
def test_on_two_chosen_scenes(clipshift):
    result = clipshift.measure("gaussian_noise", 2)
    assert result.n_images == 2
    assert_shift_within(result, "cosine", min=0.9)


@settings(max_examples=6, deadline=None)
@given(severity=st.sampled_from([1, 2, 3]), name=st.sampled_from(["gaussian_blur", "elastic", "jpeg"]))
def test_property_mild_levels_never_collapse_an_image(clipshift_session, severity, name):
    """hypothesis picks (augmentation, severity); every image must keep cosine above 0.5."""
    result = clipshift_session.measure(name, severity)
    assert result.stat("cosine", "min") > 0.5, result.worst("cosine", 3)


@pytest.mark.clipshift(budget={"border_change.mean": "<= 0.05"})
def test_blur_leaves_the_frame_alone(clipshift):
    """The user metric from conftest.py, budgeted like a built-in one (and in the JSON and report)."""
    result = clipshift.measure("gaussian_blur", 1, metrics=["border_change"])
    assert result.stat("border_change", "mean") < 0.05
