"""Hugging Face families beyond CLIP and SigLIP, each from a random-init config saved by
the test: the embedding is the model's own, the captured attention is the model's own attention
output, and a model without attention says so instead of crashing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers as T

from pytest_clipshift.core.models.encoders import load_encoder

VISION = dict(
    hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=32, patch_size=8
)
TEXT = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=2,
    vocab_size=64,
    max_position_embeddings=32,
)
FAMILIES = {
    "blip": lambda: T.BlipModel(T.BlipConfig(vision_config=VISION, text_config=TEXT, projection_dim=16)),
    "altclip": lambda: T.AltCLIPModel(
        T.AltCLIPConfig(vision_config=VISION, text_config={**TEXT, "project_dim": 16}, projection_dim=16)
    ),
    "chinese_clip": lambda: T.ChineseCLIPModel(
        T.ChineseCLIPConfig(vision_config=VISION, text_config=TEXT, projection_dim=16)
    ),
    "clipseg": lambda: T.CLIPSegModel(T.CLIPSegConfig(vision_config=VISION, text_config=TEXT, projection_dim=16)),
    "metaclip_2": lambda: T.MetaClip2Model(
        T.MetaClip2Config(vision_config=VISION, text_config=TEXT, projection_dim=16)
    ),
}


def saved(make, folder):
    torch.manual_seed(0)
    model = make().eval()
    model.save_pretrained(folder)
    return model


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_embeddings_attention_and_layers_are_the_models_own(family, tmp_path):
    model = saved(FAMILIES[family], tmp_path)
    encoder = load_encoder(str(tmp_path), "cpu", attention=True)
    canvases = np.random.default_rng(0).integers(0, 256, (2, *encoder.canvas_size, 3), dtype=np.uint8)
    canvases = np.stack([encoder.to_canvas(c) for c in canvases])
    got = encoder.encode(canvases, attention=True, hidden_states=True)
    pixels = encoder.pixel_values(canvases)
    model.set_attn_implementation("eager")
    with torch.no_grad():
        expected = model.get_image_features(pixel_values=pixels)
        expected = (expected if torch.is_tensor(expected) else expected.pooler_output).numpy()
        attentions = model.vision_model(pixel_values=pixels, output_attentions=True).attentions
    assert np.abs(got.embeddings - expected).max() < 1e-5
    cls_row = attentions[-1].mean(dim=1)[:, 0, 1:].reshape(2, *encoder.grid).numpy()  # heads averaged, CLS to patches
    assert np.abs(got.attention[:, -1] - cls_row).max() < 1e-6
    assert got.hidden_states.shape[:2] == (2, 3) and encoder.info["model_type"] == model.config.model_type


def test_siglip2_naflex_patches_match_its_own_processor(tmp_path):
    """SigLIP 2 takes flattened patches: ours equal Siglip2's image processor's on the same canvas."""
    from transformers.models.siglip2.image_processing_pil_siglip2 import Siglip2ImageProcessorPil

    vision = {k: v for k, v in VISION.items() if k != "image_size"} | {"num_patches": 16}
    model = saved(lambda: T.Siglip2Model(T.Siglip2Config(vision_config=vision, text_config=TEXT)), tmp_path)
    encoder = load_encoder(str(tmp_path), "cpu", attention=True)
    assert encoder.preprocess.input_size == (32, 32) and encoder.grid == (4, 4)
    canvas = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    processed = Siglip2ImageProcessorPil(patch_size=8, max_num_patches=16)(images=[canvas], return_tensors="pt")
    with torch.no_grad():
        expected = model.get_image_features(
            pixel_values=processed["pixel_values"],
            pixel_attention_mask=processed["pixel_attention_mask"],
            spatial_shapes=processed["spatial_shapes"],
        )
    expected = (expected if torch.is_tensor(expected) else expected.pooler_output).numpy()
    ours = encoder.model_inputs(canvas[None])
    assert torch.allclose(ours["pixel_values"], processed["pixel_values"], atol=1e-6)
    got = encoder.encode(canvas[None], attention=True, hidden_states=True)
    assert np.abs(got.embeddings - expected).max() < 1e-5
    assert got.attention.shape == (1, 2, 4, 4)  # no CLS token: the attention each patch receives


def test_blip_text_tower_with_its_tokenizer(tmp_path):
    model = saved(FAMILIES["blip"], tmp_path)
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "photo", "of", "dog", "cat", "blurry"]
    (tmp_path / "vocab.txt").write_text("\n".join(words) + "\n")
    T.BertTokenizer(str(tmp_path / "vocab.txt")).save_pretrained(tmp_path)
    encoder = load_encoder(str(tmp_path), "cpu")
    prompts = ["a photo of a dog", "a blurry photo of a cat"]
    tokens = T.AutoTokenizer.from_pretrained(tmp_path)(prompts, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = model.get_text_features(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"])
    expected = (expected if torch.is_tensor(expected) else expected.pooler_output).numpy()
    assert np.abs(encoder.encode_text(prompts) - expected).max() < 1e-5
    assert encoder.info["tokenizer"] is True


def test_a_model_without_attention_says_so_and_measures_the_rest(tmp_path, small_images):
    from pytest_clipshift.core.measure.engine import measure

    small_efficientnet = {"image_size": 32, "width_coefficient": 0.1, "depth_coefficient": 0.1, "hidden_dim": 64}
    saved(
        lambda: T.AlignModel(T.AlignConfig(vision_config=small_efficientnet, text_config=TEXT, projection_dim=16)),
        tmp_path,
    )
    encoder = load_encoder(str(tmp_path), "cpu")
    assert encoder.info["attention"].startswith("not available")
    run = measure(encoder, small_images.subset(max_images=2), ["identity", "gaussian_blur"])
    blur = run.get("gaussian_blur", 3)
    assert "cosine" in blur.values and "patch_similarity" in blur.values and "attention_correlation" not in blur.values
    assert any("not measured: attention_correlation, attention_inverse_mse" in w for w in run.warnings)
