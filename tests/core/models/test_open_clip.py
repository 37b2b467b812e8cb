"""open_clip checkpoints through the built-in loader: the embeddings open_clip itself
computes, to 1e-5, without importing open_clip in the package; its eval preprocessing to 1e-6."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pytest_clipshift.core.errors import ModelLoadError
from pytest_clipshift.core.models.encoders import load_encoder
from tests.core.models.open_clip_reference import import_open_clip

TINY = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 48, "heads": 3, "layers": 2},
}


def save_checkpoint(open_clip, cfg: dict, folder, *, seed: int, layout: str = "safetensors"):
    """A random-init open_clip CLIP saved the way users ship them; returns (model, config path, weights path)."""
    torch.manual_seed(seed)
    model = open_clip.model.CLIP(
        cfg["embed_dim"], cfg["vision_cfg"], cfg["text_cfg"], quick_gelu=cfg.get("quick_gelu", False)
    ).eval()
    with torch.no_grad():  # open_clip zero-initialises some parameters: make every one matter
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    config = folder / "arch.json"
    config.write_text(json.dumps(cfg))
    state = model.state_dict()
    if layout == "safetensors":
        from safetensors.torch import save_file

        weights = folder / "open_clip_model.safetensors"
        save_file({k: v.contiguous() for k, v in state.items()}, str(weights))
    elif layout == "wrapped":  # a training run's checkpoint: under state_dict, with DDP's module. prefix
        weights = folder / "epoch_3.pt"
        torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in state.items()}}, weights)
    else:
        weights = folder / "open_clip_pytorch_model.bin"
        torch.save(state, weights)
    return model, config, weights


@pytest.fixture(scope="module")
def open_clip():
    return import_open_clip()


@pytest.mark.parametrize("quick_gelu, layout", [(False, "safetensors"), (True, "wrapped"), (False, "bin")])
def test_image_and_text_embeddings_equal_open_clips_own(open_clip, tmp_path, quick_gelu, layout):
    cfg = {**TINY, "quick_gelu": quick_gelu}
    model, config, weights = save_checkpoint(open_clip, cfg, tmp_path, seed=1, layout=layout)
    encoder = load_encoder(f"open_clip:{config}:{weights}", "cpu", attention=True)
    rng = np.random.default_rng(0)
    canvases = rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    pixels = encoder.pixel_values(canvases)
    with torch.no_grad():
        expected = model.encode_image(pixels).numpy()
    got = encoder.encode(canvases, attention=True, hidden_states=True)
    assert np.abs(got.embeddings - expected).max() < 1e-5
    assert got.attention.shape == (3, 2, 4, 4) and got.hidden_states.shape[1] == 3  # every layer, and the tokens
    prompts = ["a photo of a dog", "a blurry photo", "an overexposed photo of a red circle"]
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    with torch.no_grad():
        expected_text = model.encode_text(tokenizer(prompts)).numpy()
    assert np.abs(encoder.encode_text(prompts) - expected_text).max() < 1e-5
    assert encoder.info["family"] == "open_clip" and len(encoder.fingerprint) == 32


def test_a_real_architecture_maps_exactly(open_clip, tmp_path):
    """ViT-B-32 by its name (the bundled config), random weights: the same image embedding as open_clip."""
    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32").eval()
    weights = tmp_path / "vit-b-32.bin"
    torch.save(model.state_dict(), weights)
    encoder = load_encoder(f"open_clip:ViT-B-32:{weights}", "cpu", attention=False)
    canvases = np.random.default_rng(1).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    with torch.no_grad():
        expected = model.encode_image(encoder.pixel_values(canvases)).numpy()
    assert np.abs(encoder.encode(canvases).embeddings - expected).max() < 1e-5
    assert encoder.info["layers"] == 12 and encoder.grid == (7, 7)


def test_preprocessing_is_open_clips_eval_transform(open_clip, tmp_path):
    """Bicubic shortest side, centre crop with torchvision's rounding, OpenAI mean/std: written out here
    from torchvision's definitions (PIL resize, round((h - th) / 2), ToTensor, Normalize)."""
    from PIL import Image

    _, config, weights = save_checkpoint(open_clip, TINY, tmp_path, seed=2)
    encoder = load_encoder(f"open_clip:{config}:{weights}", "cpu", canvas_size=64)
    mean, std = np.array(open_clip.OPENAI_DATASET_MEAN), np.array(open_clip.OPENAI_DATASET_STD)
    for h, w in (
        (97, 131),
        (200, 64),
        (64, 64),
        (301, 250),
        (67, 64),
        (64, 71),
    ):  # margins of 3 and 7: the rounding shows
        image = np.random.default_rng(h * w).integers(0, 256, (h, w, 3), dtype=np.uint8)
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = 64, int(64 * long / short)
        size = (new_short, new_long) if w <= h else (new_long, new_short)
        resized = np.asarray(Image.fromarray(image).resize(size, Image.BICUBIC))
        top, left = int(round((resized.shape[0] - 64) / 2.0)), int(round((resized.shape[1] - 64) / 2.0))
        crop = resized[top : top + 64, left : left + 64]
        expected = ((crop.astype(np.float32) / 255.0 - mean) / std).astype(np.float32).transpose(2, 0, 1)
        got = encoder.pixel_values(encoder.to_canvas(image)[None])[0].numpy()
        assert np.abs(got - expected).max() <= 1e-6, (h, w)


def test_bad_specs_and_weights_name_the_problem(tmp_path):
    with pytest.raises(ModelLoadError, match="unknown open_clip architecture 'ViT-Q-99'; known here: ViT-B-16"):
        load_encoder("open_clip:ViT-Q-99:w.bin", "cpu")
    with pytest.raises(ModelLoadError, match="names no weights: add :PATH"):
        load_encoder("open_clip:ViT-B-32", "cpu")
    with pytest.raises(ModelLoadError, match="'missing.safetensors': no such file"):
        load_encoder("open_clip:ViT-B-32:missing.safetensors", "cpu")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelLoadError, match=r"junk.pt: cannot be read"):
        load_encoder(f"open_clip:ViT-B-32:{junk}", "cpu")
    with pytest.raises(ModelLoadError, match="hf-hub:nobody/nothing.*not.*in the local Hugging Face cache|neither"):
        load_encoder("open_clip:ViT-B-32:hf-hub:nobody/nothing", "cpu")
    other = tmp_path / "other.bin"
    torch.save({"visual.conv1.weight": torch.zeros(1)}, other)
    with pytest.raises(ModelLoadError, match="not an open_clip ViT CLIP state dict: missing visual.proj"):
        load_encoder(f"open_clip:ViT-B-32:{other}", "cpu")


def test_a_pytest_run_on_an_open_clip_checkpoint(open_clip, pytester, tmp_path, small_images):
    from tests.conftest import make_user_project

    _, config, weights = save_checkpoint(open_clip, TINY, tmp_path, seed=3)
    project = make_user_project(
        pytester,
        f"open_clip:{config}:{weights}",
        small_images,
        '[settings]\naugmentations = ["identity", "gaussian_blur", "horizontal_flip"]\n'
        '[defaults]\n"cosine.mean" = ">= 0.0"\n',
        2,
        "clipshift_no_cache = true\nclipshift_labels = dog cat\nclipshift_metrics = zero_shot_flip layer_cka\n",
    )
    result = project.runpytest("--clipshift", "--clipshift-budgets=budgets.toml", "--clipshift-json=out.json")
    result.assert_outcomes(passed=3)
    data = json.loads((project.path / "out.json").read_text())
    assert data["model"]["family"] == "open_clip"
    flip = next(r for r in data["results"] if r["augmentation"] == "horizontal_flip")
    assert {"attention_correlation", "zero_shot_flip", "layer_cka@2"} <= set(flip["metrics"])


def fake_hub_cache(cache, repo: str, weights_file, monkeypatch):
    """A Hugging Face hub cache holding ``repo`` with open_clip's weight file name, as `hf download` leaves it."""
    import shutil

    import huggingface_hub.constants

    snapshot = cache / f"models--{repo.replace('/', '--')}" / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    shutil.copy(weights_file, snapshot / "open_clip_model.safetensors")
    (cache / f"models--{repo.replace('/', '--')}" / "refs").mkdir()
    (cache / f"models--{repo.replace('/', '--')}" / "refs" / "main").write_text("0123abcd")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))


def test_hub_ids_and_pretrained_tags_resolve_from_the_local_cache(open_clip, tmp_path, monkeypatch):
    from pytest_clipshift.core.models import open_clip_weights as W

    model, config, weights = save_checkpoint(open_clip, TINY, tmp_path, seed=4)
    fake_hub_cache(tmp_path / "hub", "someone/tiny-clip", weights, monkeypatch)
    encoder = load_encoder(f"open_clip:{config}:hf-hub:someone/tiny-clip", "cpu", attention=False)
    canvases = np.random.default_rng(2).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    with torch.no_grad():
        expected = model.encode_image(encoder.pixel_values(canvases)).numpy()
    assert np.abs(encoder.encode(canvases).embeddings - expected).max() < 1e-5
    # a pretrained tag is open_clip's table (read, not imported) -> its hub repo -> the same cache
    repo, settings = W.pretrained_tag("ViT-B-32", "openai")
    assert repo == "timm/vit_base_patch32_clip_224.openai" and settings["quick_gelu"] is True
    fake_hub_cache(tmp_path / "hub", repo, weights, monkeypatch)
    assert W.resolve_weights("openai", "ViT-B-32").name == "open_clip_model.safetensors"
    with pytest.raises(ModelLoadError, match="no pretrained tag 'laion9000' for ViT-B-32; its tags: openai"):
        W.resolve_weights("laion9000", "ViT-B-32")
