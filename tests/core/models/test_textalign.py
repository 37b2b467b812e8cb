"""Text-aligned shift: the direction probe, zero-shot flips and drops, with known answers and on the demo model."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_clipshift.core.errors import ConfigError
from pytest_clipshift.core.models.textalign import TextScorer, TextSpec

pytest_plugins = ["pytester"]


class VectorTextEncoder:
    """encode_text returns fixed vectors: the probe's geometry is then known exactly."""

    name = "vectors"

    def __init__(self, table):
        self.table = table

    def encode_text(self, prompts):
        return np.stack([self.table[p] for p in prompts])


def probe_table(dim=64, seed=0):
    rng = np.random.default_rng(seed)
    table = {
        p: rng.normal(size=dim)
        for p in [
            "a photo of a a",
            "a photo of a b",
            "a photo",
            "a blurry photo",
            "a photo of a dog",
            "a photo at night",
            "a drawing of a house",
            "a photo of food",
        ]
    }
    return table


def test_direction_probe_known_answers():
    table = probe_table()
    scorer = TextScorer(VectorTextEncoder(table), TextSpec(["a", "b"]), ["x"])
    unit = lambda v: v / np.linalg.norm(v)
    direction = unit(unit(table["a blurry photo"]) - unit(table["a photo"]))
    rng = np.random.default_rng(1)
    clean = rng.normal(size=(1, 64))
    along = unit(clean[0]) + 0.3 * direction  # a shift exactly along the augmentation's text direction
    s = scorer.scores(clean, along[None], np.array([0]), ["gaussian_blur"])
    # the shift lies along the direction (cosine ~1), minus the controls' mean cosine with it
    expected = 1.0 - np.mean(scorer.controls @ direction)
    assert s["direction_probe"][0] == pytest.approx(expected, abs=0.01)
    randoms = [
        scorer.scores(
            clean, (unit(clean[0]) + 0.3 * unit(rng.normal(size=64)))[None], np.array([0]), ["gaussian_blur"]
        )["direction_probe"][0]
        for _ in range(50)
    ]
    assert abs(np.mean(randoms)) < 0.1
    unnamed = scorer.scores(clean, along[None], np.array([0]), ["identity"])
    assert np.isnan(unnamed["direction_probe"][0])  # no prompt names it: undefined, never 0


def test_zero_shot_flip_and_drop_known():
    table = {
        "a photo of a a": np.array([1.0, 0]),
        "a photo of a b": np.array([0, 1.0]),
        "a photo": np.array([1.0, 1.0]),
        "a blurry photo": np.array([0.5, 1.0]),
        **{
            p: np.array([0.3, -1.0])
            for p in ("a photo of a dog", "a photo at night", "a drawing of a house", "a photo of food")
        },
    }
    scorer = TextScorer(VectorTextEncoder(table), TextSpec(["a", "b"], image_labels=["a", "a"]), ["x", "y"])
    clean = np.array([[1.0, 0.1], [1.0, 0.1]])
    aug = np.array([[1.0, 0.2], [0.1, 1.0]])  # the second image now reads as "b"
    s = scorer.scores(clean, aug, np.array([0, 1]), ["gaussian_blur", "gaussian_blur"])
    assert s["zero_shot_flip"].tolist() == [0.0, 1.0]
    assert s["text_similarity_drop"][1] > 0.8 and abs(s["text_similarity_drop"][0]) < 0.02
    with pytest.raises(ConfigError, match="not among the label prompts"):
        TextScorer(VectorTextEncoder(table), TextSpec(["a", "b"], image_labels=["c"]), ["x"])
    # one label or caption per image: a shorter list would leave images without their label (an
    # IndexError mid-run), a longer one would pair labels with the wrong images
    for spec in (TextSpec(["a", "b"], image_labels=["a"]), TextSpec(["a", "b"], captions=["a", None, "b"])):
        with pytest.raises(ConfigError, match=r"the text spec has [13] (image labels|captions) for 2 images"):
            TextScorer(VectorTextEncoder(table), spec, ["x", "y"])


def test_zero_shot_flip_rate_on_the_demo_model():
    from pytest_clipshift import load_encoder, load_image_set, measure
    from pytest_clipshift.demo.scenes import LABELS

    enc = load_encoder("demo", device="cpu")
    images = load_image_set("demo-scenes", max_images=16)
    spec = TextSpec([f"{c} {s}" for c, s in LABELS], image_labels=images.labels)
    run = measure(
        enc,
        images,
        ["identity", "gaussian_noise"],
        severities=[1, 5],
        metrics=["cosine", "zero_shot_flip", "text_similarity_drop"],
        text=spec,
    )
    assert run.get("identity", 1).stat("zero_shot_flip", "mean") == 0.0
    assert run.get("gaussian_noise", 1).stat("zero_shot_flip", "mean") <= 0.1
    assert run.get("gaussian_noise", 5).stat("zero_shot_flip", "mean") >= 0.25
    assert run.get("gaussian_noise", 5).stat("text_similarity_drop", "mean") > 0.05
