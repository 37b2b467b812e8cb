"""Reading a processor config: every default transformers' CLIPImageProcessor applies when a key is
absent, the two spellings of a size, what is refused, and the fallback for a checkpoint without
one. Each field decides the pixels the model sees (and is part of the cache key)."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_clipshift.core.models.preprocess import CLIP_MEAN, CLIP_STD, PreprocessSettings, to_canvas


def test_absent_keys_take_clip_image_processors_defaults():
    got = PreprocessSettings.from_processor_dict({"size": 224, "do_center_crop": True, "crop_size": 224})
    assert got == PreprocessSettings(
        input_size=(224, 224),
        resize_mode="shortest_edge",
        resize_to=224,
        crop=(224, 224),
        resample=3,  # bicubic
        rescale=1 / 255,
        mean=CLIP_MEAN,
        std=CLIP_STD,
        normalize=True,
        source="preprocessor_config.json",
        crop_rounding="floor",
    )
    assert CLIP_MEAN == (0.48145466, 0.4578275, 0.40821073) and CLIP_STD == (0.26862954, 0.26130258, 0.27577711)


def test_every_key_that_is_given_is_read():
    cfg = {
        "size": {"height": 96, "width": 128},
        "do_resize": True,
        "resample": 2,
        "do_rescale": True,
        "rescale_factor": 0.5,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.25, 0.25, 0.25],
        "do_normalize": False,
    }
    got = PreprocessSettings.from_processor_dict(cfg, source="ckpt/preprocessor_config.json")
    assert got == PreprocessSettings(
        (96, 128),
        "exact",
        (96, 128),
        None,
        2,
        0.5,
        (0.5, 0.5, 0.5),
        (0.25, 0.25, 0.25),
        False,
        source="ckpt/preprocessor_config.json",
    )
    assert PreprocessSettings.from_processor_dict({**cfg, "do_rescale": False}).rescale == 1.0


def test_a_crop_size_given_as_one_number_is_square_and_decides_the_input_size():
    got = PreprocessSettings.from_processor_dict(
        {"size": {"shortest_edge": 80}, "do_center_crop": True, "crop_size": 64}
    )
    assert got.crop == (64, 64) and got.input_size == (64, 64) and got.resize_to == 80
    rect = PreprocessSettings.from_processor_dict(
        {"size": 80, "do_center_crop": True, "crop_size": {"height": 64, "width": 48}}
    )
    assert rect.crop == (64, 48) and rect.input_size == (64, 48)


def test_without_resizing_the_mode_is_none_and_the_image_is_only_cropped():
    got = PreprocessSettings.from_processor_dict(
        {"size": 32, "do_resize": False, "do_center_crop": True, "crop_size": 8}
    )
    assert got.resize_mode == "none" and got.to_dict()["resize_mode"] == "none"
    image = np.arange(16 * 16 * 3, dtype=np.uint8).reshape(16, 16, 3)
    np.testing.assert_array_equal(to_canvas(image, got), image[4:12, 4:12])  # no resize to 32 first


@pytest.mark.parametrize(
    "cfg, message",
    [
        ({"size": {"height": 200}}, "unsupported 'size'"),  # a height needs its width
        ({"size": {"width": 200}}, "unsupported 'size'"),
        ({"size": {"shortest_edge": 224}}, "a shortest-edge resize without a centre crop"),
        ({"size": 224, "do_center_crop": False}, "a shortest-edge resize without a centre crop"),
    ],
)
def test_what_cannot_give_one_input_size_is_refused(cfg, message):
    with pytest.raises(ValueError, match=message):
        PreprocessSettings.from_processor_dict(cfg, source="x/preprocessor_config.json")


def test_the_fallback_is_clips_settings_at_the_models_size():
    got = PreprocessSettings.fallback(64)
    assert got == PreprocessSettings(
        (64, 64),
        "shortest_edge",
        64,
        (64, 64),
        3,
        1 / 255,
        CLIP_MEAN,
        CLIP_STD,
        True,
        source="fallback: CLIP settings at 64 px (no preprocessor_config.json)",
    )


def test_a_canvas_scales_the_resize_by_the_canvas_over_the_input_size():
    # 8-px settings on a 16-px canvas resize the short side to 16, as PIL does. Kept in this file, the
    # fastest of its job: a scale taken as a product (16 * 8) fails here on a small image, where the
    # model tests would first ask PIL for one too large for memory
    from PIL import Image

    image = np.random.default_rng(3).integers(0, 256, (12, 18, 3), dtype=np.uint8)
    settings = PreprocessSettings.fallback(8)
    resized = np.asarray(Image.fromarray(image).resize((24, 16), resample=settings.resample))
    np.testing.assert_array_equal(to_canvas(image, settings, canvas=(16, 16)), resized[:, 4:20])


def test_the_recorded_settings_name_the_resample_filter_and_leave_the_default_rounding_out():
    # to_dict is what results record and what the cache key hashes: a field renamed or a default
    # rounding written in would change the key of every model measured before
    fallback = PreprocessSettings.fallback(224)
    assert fallback.to_dict() == {
        "input_size": (224, 224),
        "resize_mode": "shortest_edge",
        "resize_to": 224,
        "crop": (224, 224),
        "resample": "bicubic",
        "rescale": 1 / 255,
        "mean": CLIP_MEAN,
        "std": CLIP_STD,
        "normalize": True,
        "source": "fallback: CLIP settings at 224 px (no preprocessor_config.json)",
    }
    rounded = PreprocessSettings(**{**fallback.__dict__, "crop_rounding": "round", "resample": 2})
    assert (rounded.to_dict()["crop_rounding"], rounded.to_dict()["resample"]) == ("round", "bilinear")
    assert PreprocessSettings(**{**fallback.__dict__, "resample": 7}).to_dict()["resample"] == "7"  # unnamed: its id
