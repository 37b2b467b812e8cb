"""The engine, its cache and the preprocessing with known answers: every field the cache key holds
changes it, a cache hit keeps what the miss measured (unchanged-image counts included), every draw
asked for is measured, and the canvas is the checkpoint processor's, pixel for pixel."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from pytest_clipshift.core.models.preprocess import (
    CLIP_MEAN,
    CLIP_STD,
    PreprocessSettings,
    center_crop,
    normalize_batch,
    to_canvas,
)


def half_unchanged(image, rng, amount):
    """Brightens images whose top-left pixel is dark; leaves the others as they are."""
    if image[0, 0].mean() > 60:
        return image
    return np.clip(image.astype(int) + amount, 0, 255).astype(np.uint8)


@pytest.fixture
def half_aug():
    from pytest_clipshift.core.augment.augmentations import register_augmentation, unregister_augmentation

    register_augmentation(
        "half_unchanged", half_unchanged, severities={s: {"amount": 30 * s} for s in range(1, 6)}, replace=True
    )
    yield "half_unchanged"
    unregister_augmentation("half_unchanged")


def test_a_cache_hit_keeps_the_unchanged_count_and_every_value(tmp_path, tiny_encoder, small_images, half_aug):
    from pytest_clipshift.core.measure.cache import EmbeddingCache
    from pytest_clipshift.core.measure.engine import measure

    def run():
        cache = EmbeddingCache(tmp_path / "cache")
        out = measure(
            tiny_encoder,
            small_images,
            [half_aug, "gaussian_noise"],
            severities=[2],
            metrics=["cosine"],
            cache=cache,
            seed=4,
        )
        return out, cache

    first, cold = run()
    again, warm = run()
    assert cold.hits == 0 and warm.misses == 0 and warm.hits == cold.misses
    unchanged = sum(tiny_encoder.to_canvas(a)[0, 0].mean() > 60 for a in small_images.arrays)  # what the function sees
    assert 0 < unchanged < len(small_images)
    assert first.get(half_aug, 2).unchanged_images == again.get(half_aug, 2).unchanged_images == unchanged
    assert again.get("gaussian_noise", 2).unchanged_images == 0
    for a, b in zip(first.results, again.results):
        np.testing.assert_array_equal(a.values["cosine"], b.values["cosine"])
        np.testing.assert_array_equal(a.embeddings, b.embeddings)
    np.testing.assert_array_equal(first.clean_embeddings, again.clean_embeddings)
    assert any("left" in w and half_aug in w for w in again.warnings)


def test_every_draw_asked_for_is_measured_and_distinct(tmp_path, tiny_encoder, small_images):
    from pytest_clipshift.core.measure.cache import EmbeddingCache
    from pytest_clipshift.core.measure.engine import measure

    images = small_images.subset(max_images=3)
    cache = EmbeddingCache(tmp_path / "c")
    out = measure(
        tiny_encoder,
        images,
        ["identity", "gaussian_noise"],
        severities=[3],
        metrics=["cosine", "divergence_radius"],
        draws=3,
        cache=cache,
    )
    # the clean image, identity once (it draws nothing), gaussian noise three times: per image
    assert cache.misses == len(images) * (1 + 1 + 3)
    radius = out.get("gaussian_noise", 3).values["divergence_radius"]
    assert np.all(radius > 0) and np.all(out.get("identity", 3).values["divergence_radius"] == 0)
    two = measure(
        tiny_encoder, images, ["gaussian_noise"], severities=[3], metrics=["cosine", "divergence_radius"], draws=2
    )
    assert np.all(two.get("gaussian_noise", 3).values["divergence_radius"] <= radius + 1e-9)
    assert out.settings["draws"] == 3


def test_a_rerun_under_other_preprocessing_misses_the_cache(tmp_path, tiny_clip_dir, small_images):
    """Same weights (same fingerprint), another processor config: the prepared canvases differ, so
    no entry of the first may be returned for the second."""
    from pytest_clipshift.core.measure.cache import EmbeddingCache
    from pytest_clipshift.core.measure.engine import measure
    from pytest_clipshift.core.models.encoders import load_encoder

    other = tmp_path / "other"
    shutil.copytree(tiny_clip_dir, other)
    config = json.loads((other / "preprocessor_config.json").read_text())
    config["image_mean"] = [0.5, 0.5, 0.5]
    (other / "preprocessor_config.json").write_text(json.dumps(config))
    first, second = load_encoder(tiny_clip_dir, device="cpu"), load_encoder(other, device="cpu")
    assert first.fingerprint == second.fingerprint
    images = small_images.subset(max_images=2)
    measure(first, images, ["gaussian_noise"], metrics=["cosine"], cache=EmbeddingCache(tmp_path / "c"))
    cache = EmbeddingCache(tmp_path / "c")
    cached = measure(second, images, ["gaussian_noise"], metrics=["cosine"], cache=cache)
    assert cache.hits == 0
    fresh = measure(second, images, ["gaussian_noise"], metrics=["cosine"])
    np.testing.assert_allclose(cached.results[0].values["cosine"], fresh.results[0].values["cosine"], atol=1e-6)


def test_the_image_and_the_batch_size_are_in_the_key(tmp_path, tiny_encoder, small_images):
    from pytest_clipshift.core.measure.cache import EmbeddingCache
    from pytest_clipshift.core.measure.engine import measure

    images = small_images.subset(max_images=2)
    measure(tiny_encoder, images, ["gaussian_noise"], metrics=["cosine"], cache=EmbeddingCache(tmp_path / "c"))
    cache = EmbeddingCache(tmp_path / "c")
    measure(tiny_encoder, images, ["gaussian_noise"], metrics=["cosine"], cache=cache, batch_size=1)
    assert cache.hits == 0
    flipped = type(images)(images.names, [a[:, ::-1].copy() for a in images.arrays], "flipped")
    cache = EmbeddingCache(tmp_path / "c")
    measure(tiny_encoder, flipped, ["gaussian_noise"], metrics=["cosine"], cache=cache)
    assert cache.hits == 0


# ----------------------------------------------------------------------------- preprocessing
def test_the_fallback_is_openais_mean_and_std_in_rgb_order():
    settings = PreprocessSettings.fallback(32)
    assert settings.mean == CLIP_MEAN == (0.48145466, 0.4578275, 0.40821073)  # CLIP's published constants, R G B
    assert settings.std == CLIP_STD == (0.26862954, 0.26130258, 0.27577711)
    assert settings.input_size == (32, 32) and settings.crop == (32, 32) and settings.resample == 3
    assert settings.rescale == pytest.approx(1 / 255)


@pytest.mark.parametrize("rounding, top, left", [("floor", 1, 2), ("round", 2, 2)])
def test_the_centre_crop_offsets_of_an_odd_margin(rounding, top, left):
    """A 7x9 image cropped to 4x4: margins 3 and 5. transformers floors (1, 2); torchvision rounds
    half to even (round(1.5) = 2, round(2.5) = 2)."""
    image = np.arange(7 * 9 * 3, dtype=np.int64).reshape(7, 9, 3)
    np.testing.assert_array_equal(center_crop(image, 4, 4, rounding), image[top : top + 4, left : left + 4])


@pytest.mark.parametrize("rounding, top, left", [("floor", 2, 1), ("round", 1, 1)])
def test_a_small_image_is_padded_in_the_centre(rounding, top, left):
    """A 2x3 image padded to 5x5: margins 3 and 2. transformers puts an odd margin's extra pixel
    above (top 2), torchvision below (top 1); the even margin splits evenly (left 1) in both."""
    image = np.full((2, 3, 3), 9, np.uint8)
    out = center_crop(image, 5, 5, rounding)
    expected = np.zeros((5, 5, 3), np.uint8)
    expected[top : top + 2, left : left + 3] = 9
    np.testing.assert_array_equal(out, expected)


def test_a_canvas_is_the_processors_own_pixels(tiny_clip_dir):
    """Against transformers' CLIPImageProcessor (PIL backend): the same uint8 pixels after rescale
    and normalisation, on an image whose shorter side is odd."""
    from transformers import CLIPImageProcessor

    processor = CLIPImageProcessor.from_pretrained(tiny_clip_dir)
    settings = PreprocessSettings.from_processor_dict(
        json.loads((tiny_clip_dir / "preprocessor_config.json").read_text())
    )
    image = np.random.default_rng(3).integers(0, 256, (45, 71, 3)).astype(np.uint8)
    import torch

    ours = normalize_batch(to_canvas(image, settings)[None], settings, torch.device("cpu"), torch.float32).numpy()
    theirs = processor(images=image, return_tensors="np")["pixel_values"]
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_a_larger_canvas_is_brought_to_the_input_size_as_uint8_bicubic():
    """A 64 px canvas for a 32 px model: torch's antialiased bicubic, rounded to whole grey levels
    before the rescale (the processor resizes uint8 images), within a grey level of PIL's bicubic."""
    import torch
    from PIL import Image

    settings = PreprocessSettings.fallback(32)
    canvas = np.random.default_rng(5).integers(0, 256, (1, 64, 64, 3)).astype(np.uint8)
    x = normalize_batch(canvas, settings, torch.device("cpu"), torch.float32).numpy()[0]
    levels = (x * np.array(CLIP_STD)[:, None, None] + np.array(CLIP_MEAN)[:, None, None]) * 255
    np.testing.assert_allclose(levels, np.round(levels), atol=2e-3)  # whole grey levels
    pil = np.asarray(Image.fromarray(canvas[0]).resize((32, 32), Image.BICUBIC)).transpose(2, 0, 1).astype(float)
    bilinear = np.asarray(Image.fromarray(canvas[0]).resize((32, 32), Image.BILINEAR)).transpose(2, 0, 1).astype(float)
    ours_error = np.abs(levels - pil).mean()
    assert ours_error < 1.0 and ours_error < np.abs(levels - bilinear).mean()


PROCESSOR_CONFIGS = {
    "clip": dict(size={"shortest_edge": 24}, crop_size={"height": 24, "width": 24}, do_center_crop=True),
    "int sizes": dict(size=20, crop_size=18, do_center_crop=True),
    "bilinear, own mean and std": dict(
        size={"shortest_edge": 22},
        crop_size={"height": 20, "width": 16},
        do_center_crop=True,
        resample=2,
        image_mean=[0.2, 0.4, 0.6],
        image_std=[0.1, 0.2, 0.3],
    ),
    "own rescale factor": dict(
        size={"shortest_edge": 24}, crop_size=24, do_center_crop=True, rescale_factor=1 / 127.5, do_normalize=False
    ),
    "no rescale": dict(size={"shortest_edge": 24}, crop_size=24, do_center_crop=True, do_rescale=False),
    "exact resize (SigLIP)": dict(
        size={"height": 20, "width": 28}, do_center_crop=False, resample=2, image_mean=[0.5] * 3, image_std=[0.5] * 3
    ),
    "no resize": dict(
        size={"shortest_edge": 24}, crop_size={"height": 30, "width": 30}, do_center_crop=True, do_resize=False
    ),
}


@pytest.mark.parametrize("config", PROCESSOR_CONFIGS, ids=str)
@pytest.mark.parametrize("shape", [(45, 71), (70, 33), (12, 9)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_processor_setting_gives_the_processors_pixels(config, shape):
    """Each setting a preprocessor_config.json may hold (size as a number or a dict, exact resizes,
    resampling, mean, std, rescale factor, rescale and normalisation switched off, no resize) read
    by from_processor_dict and applied by to_canvas + normalize_batch, against transformers'
    CLIPImageProcessor (PIL backend) built from the same dict: the same values to float rounding.
    Landscape, portrait and an image smaller than the crop (padded)."""
    import torch
    from transformers import CLIPImageProcessor

    cfg = PROCESSOR_CONFIGS[config]
    processor = CLIPImageProcessor(**cfg)
    settings = PreprocessSettings.from_processor_dict(processor.to_dict())
    image = np.random.default_rng(sum(shape)).integers(0, 256, (*shape, 3)).astype(np.uint8)
    image[: shape[0] // 2] //= 3  # structure, so a misplaced crop or a wrong filter shows
    theirs = processor(images=image, return_tensors="np")["pixel_values"]
    ours = normalize_batch(to_canvas(image, settings)[None], settings, torch.device("cpu"), torch.float32).numpy()
    assert ours.shape == theirs.shape, (config, ours.shape, theirs.shape)
    np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=1e-5)


def test_on_the_device_path_too_each_draw_is_its_own_and_changed_images_are_counted(tiny_encoder, small_images):
    """The torch path takes the draw number into each image's seed (two draws of noise differ: a radius
    above zero) and counts an image as unchanged only when its pixels are."""
    import torch

    from pytest_clipshift.core.measure.engine import measure

    images = small_images.subset(max_images=3)
    out = measure(
        tiny_encoder,
        images,
        ["gaussian_noise", "brightness_contrast"],
        severities=[3],
        metrics=["cosine", "divergence_radius"],
        draws=2,
        augment_device=torch.device("cpu"),
    )
    noise = out.get("gaussian_noise", 3)
    assert np.all(noise.values["divergence_radius"] > 0)
    assert noise.unchanged_images == 0 and out.get("brightness_contrast", 3).unchanged_images == 0
