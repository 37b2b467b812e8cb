"""Loading CLIP-family checkpoints, attention capture, fingerprints and load errors."""

import numpy as np
import pytest

from pytest_clipshift.core.errors import ConfigError, ModelLoadError
from pytest_clipshift.core.models.encoders import Encoder, load_encoder, resolve_device, resolve_dtype
from tests.conftest import build_tiny_clip, save_with_processor


def canvases(n=3, size=224, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_clip_embeddings_match_get_image_features(tiny_encoder):
    import torch

    x = canvases()
    enc = tiny_encoder.encode(x)
    with torch.inference_mode():
        ref = tiny_encoder.model.get_image_features(pixel_values=tiny_encoder.pixel_values(x))
    ref = ref if torch.is_tensor(ref) else ref.pooler_output
    np.testing.assert_allclose(enc.embeddings, ref.numpy(), atol=1e-6)
    assert enc.embeddings.shape == (3, 16)
    assert isinstance(tiny_encoder, Encoder)


def test_attention_one_map_per_layer_and_fast_path_agrees(tiny_encoder):
    x = canvases()
    with_attn = tiny_encoder.encode(x, attention=True, hidden_states=True)
    assert with_attn.attention.shape == (3, 2, 4, 4)  # 2 layers, 32 px / patch 8
    assert np.all(with_attn.attention >= 0)
    # CLS attention to the patches: rows sum to at most 1 (the rest goes to CLS itself)
    assert np.all(with_attn.attention.sum(axis=(2, 3)) <= 1 + 1e-5)
    assert with_attn.hidden_states.shape == (3, 3, 17, 32)
    fast = tiny_encoder.encode(x)  # SDPA path, no attention
    assert tiny_encoder.model.config._attn_implementation == "sdpa"
    np.testing.assert_allclose(fast.embeddings, with_attn.embeddings, atol=1e-5)


def test_siglip_without_cls_token(tiny_siglip_dir):
    enc = load_encoder(tiny_siglip_dir, device="cpu")
    out = enc.encode(canvases(2), attention=True)
    assert out.embeddings.shape == (2, 32)
    assert out.attention.shape == (2, 2, 4, 4)
    assert enc.info["class"] == "SiglipModel"
    assert "fallback" in enc.info["preprocessing"]["source"]  # no processor config: said, not silent


def test_fingerprint_identifies_the_weights(tmp_path, tiny_encoder):
    other = save_with_processor(build_tiny_clip(1), tmp_path / "other")
    assert load_encoder(other, device="cpu").fingerprint != tiny_encoder.fingerprint
    same = save_with_processor(build_tiny_clip(0), tmp_path / "same")
    assert load_encoder(same, device="cpu").fingerprint == tiny_encoder.fingerprint


def test_demo_model_is_labelled():
    enc = load_encoder("demo", device="cpu")
    assert "synthetic scenes" in enc.info["notice"]
    assert enc.info["input_size"] == [80, 80]
    assert enc.canvas_size == (224, 224)


def test_missing_directory_says_what_was_tried(tmp_path):
    with pytest.raises(ModelLoadError, match="no such directory"):
        load_encoder(str(tmp_path / "nope"), device="cpu")


def test_uncached_hub_id_offline_lists_the_cache(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError) as info:
        load_encoder("openai/clip-vit-base-patch32", device="cpu")
    text = str(info.value)
    assert "openai/clip-vit-base-patch32" in text and "local cache" in text and "To fix" in text


def test_broken_checkpoint(tmp_path):
    (tmp_path / "config.json").write_text("{ not json")
    with pytest.raises(ModelLoadError, match="could not load model"):
        load_encoder(tmp_path, device="cpu")


def test_non_clip_model_is_refused(tmp_path):
    from transformers import BertConfig, BertModel

    BertModel(
        BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, vocab_size=50)
    ).save_pretrained(tmp_path)
    with pytest.raises(ModelLoadError, match="no get_image_features"):
        load_encoder(tmp_path, device="cpu")


def test_device_and_precision_errors():
    import torch

    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ConfigError, match="not one of"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="sees no CUDA device"):
            resolve_device("cuda")
    with pytest.raises(ConfigError, match="fp32, fp16, bf16"):
        resolve_dtype("fp8", torch.device("cpu"))
    assert resolve_dtype("bf16", torch.device("cpu")) is torch.bfloat16


def test_bf16_really_runs_in_bf16(tiny_clip_dir):
    import torch

    enc = load_encoder(tiny_clip_dir, device="cpu", precision="bf16")
    assert next(enc.model.parameters()).dtype is torch.bfloat16
    out = enc.encode(canvases(2))
    assert np.isfinite(out.embeddings).all()
