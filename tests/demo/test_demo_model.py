"""The bundled demo CLIP: offline loading, its zero-shot bar, deterministic training, its vocabulary."""

import json

import numpy as np
import pytest

from pytest_clipshift.core.models.encoders import DEMO_MODEL_DIR
from pytest_clipshift.demo.scenes import LABELS, caption_vocabulary, label_prompts


def test_checkpoint_is_small_and_documented():
    size = sum(p.stat().st_size for p in DEMO_MODEL_DIR.iterdir())
    assert size < 10 * 1024 * 1024
    card = json.loads((DEMO_MODEL_DIR / "demo_card.json").read_text())
    assert card["zero_shot_top1_held_out"] >= 0.9 and card["zero_shot_top1_independent_renderer"] >= 0.9
    fresh = card["zero_shot_top1_independent_renderer_fresh_seed"]
    untouched = card["zero_shot_top1_independent_renderer_untouched_seed"]
    assert fresh["scenes"] == untouched["scenes"] == 2000 and (fresh["seed"], untouched["seed"]) == (2026, 4242)
    assert card["target_met"] == (
        min(card["zero_shot_top1_independent_renderer"], fresh["top1"], untouched["top1"]) >= 0.95
    )
    by_size = card["held_out_top1_by_size"]
    assert sum(v["scenes"] for k, v in by_size.items() if k.startswith("width")) == by_size["scenes"]
    assert "shares no code with scenes.py" in card["independent_renderer"]
    assert "synthetic scenes" in card["notice"]


def test_loads_offline_and_prompts_differ():
    import torch
    from transformers import CLIPModel, CLIPTokenizer

    model = CLIPModel.from_pretrained(DEMO_MODEL_DIR, local_files_only=True).eval()
    tok = CLIPTokenizer.from_pretrained(DEMO_MODEL_DIR, local_files_only=True)
    tokens = tok(["a red circle", "a blue cross"], padding=True, return_tensors="pt")
    assert tokens["input_ids"][0, 0].item() == tok.convert_tokens_to_ids("<|startoftext|>")
    with torch.no_grad():
        text = model.get_text_features(**tokens)
    text = text if torch.is_tensor(text) else text.pooler_output
    # with CLIP's default eos id the wrong token is pooled and both prompts come out equal
    assert not torch.allclose(text[0], text[1], atol=1e-3)
    for word in caption_vocabulary():
        assert tok.tokenize(word) == [f"{word}</w>"], word


def test_zero_shot_bar_on_held_out_scenes():
    from transformers import CLIPModel, CLIPTokenizer

    from pytest_clipshift.demo.train import zero_shot_accuracy

    model = CLIPModel.from_pretrained(DEMO_MODEL_DIR, local_files_only=True).eval()
    tok = CLIPTokenizer.from_pretrained(DEMO_MODEL_DIR, local_files_only=True)
    tok.model_max_length = 24
    size = model.config.vision_config.image_size
    # chance 0.05; measured 0.947 (training renderer, 300 scenes) and 0.968 (independent, 1,000 scenes).
    # Issue 10's bar is 0.95 on the independent renderer, here on a seed the card does not use
    assert zero_shot_accuracy(model, tok, seed=123, count=300, image_size=size) >= 0.92
    assert zero_shot_accuracy(model, tok, seed=123, count=1000, image_size=size, independent=True) >= 0.95
    assert len(label_prompts()) == len(LABELS) == 20


def test_a_horizontal_flip_keeps_the_label_of_symmetric_shapes():
    """Every demo shape is mirror-symmetric (at some rotation): a flip must not rename it."""
    from transformers import CLIPModel, CLIPTokenizer

    from pytest_clipshift.demo.independent import draw_scenes
    from pytest_clipshift.demo.train import predict_labels

    model = CLIPModel.from_pretrained(DEMO_MODEL_DIR, local_files_only=True).eval()
    tok = CLIPTokenizer.from_pretrained(DEMO_MODEL_DIR, local_files_only=True)
    tok.model_max_length = 24
    images, labels = draw_scenes(300, seed=77, size=model.config.vision_config.image_size)
    plain, flipped = predict_labels(model, tok, images), predict_labels(model, tok, images[:, :, ::-1].copy())
    assert (plain == flipped).mean() >= 0.92  # measured on 2,000 scenes: see demo_card.json
    assert abs((plain == np.array(labels)).mean() - (flipped == np.array(labels)).mean()) < 0.05


def test_the_independent_renderer_shares_no_code_with_the_training_renderer():
    import ast
    import inspect

    from pytest_clipshift.demo import independent

    tree = ast.parse(inspect.getsource(independent))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    assert not any("scenes" in (m or "") for m in imported), imported


def test_training_is_deterministic(tmp_path):
    from pytest_clipshift.demo.train import TrainSettings, train

    small = dict(
        steps=3,
        batch_size=8,
        pool_size=32,
        eval_every=0,
        threads=1,
        easy_steps=1,
        easy_pool_size=16,
        final_steps=2,
        final_pool_size=16,
    )
    a, _ = train(TrainSettings(**small), log=lambda *_: None)
    b, _ = train(TrainSettings(**small), log=lambda *_: None)
    sa, sb = a.state_dict(), b.state_dict()
    assert all(np.array_equal(sa[k].numpy(), sb[k].numpy()) for k in sa)
    assert a.config.vision_config.image_size == 80 and sa[
        "vision_model.embeddings.position_embedding.weight"
    ].shape == (101, 64)
    c, _ = train(TrainSettings(**small, seed=1), log=lambda *_: None)
    assert not np.array_equal(
        sa["visual_projection.weight"].numpy(), c.state_dict()["visual_projection.weight"].numpy()
    )


def test_sincos_positions_known_values_and_locality():
    from pytest_clipshift.demo.train import sincos_positions

    table = sincos_positions(8, 64)
    assert table.shape == (64, 64)
    q = 16  # sin(rows), cos(rows), sin(cols), cos(cols), 16 channels each
    np.testing.assert_allclose(table[0], np.concatenate([np.zeros(q), np.ones(q), np.zeros(q), np.ones(q)]))
    np.testing.assert_allclose(table[1, 2 * q], np.sin(1.0))  # (row 0, col 1): first column frequency is 1
    np.testing.assert_allclose(table[8, 0], np.sin(1.0))  # (row 1, col 0)
    similarity = table @ table[27]  # patch (3, 3)
    assert similarity[27] == similarity.max()
    assert similarity[[19, 26, 28, 35]].min() > similarity[[0, 7, 56, 63]].max()  # neighbours beat corners


def _demo_model(**overrides):
    import tempfile
    from pathlib import Path

    from pytest_clipshift.demo.train import TrainSettings, build_model, build_tokenizer

    settings = TrainSettings(**overrides)
    return build_model(settings, build_tokenizer(Path(tempfile.mkdtemp()), settings.max_text_len).get_vocab()), settings


def test_mimetic_init_sets_the_attention_products():
    from pytest_clipshift.demo.train import mimetic_attention

    model, settings = _demo_model()
    layers = model.vision_model.encoder.layers
    mimetic_attention(layers, settings.width, np.random.default_rng(7))
    rng, eye = np.random.default_rng(7), np.eye(settings.width)
    for layer in layers:
        attn = layer.self_attn
        z_qk = rng.standard_normal((64, 64)) / 8
        z_vo = rng.standard_normal((64, 64)) / 8
        qk = (attn.q_proj.weight.T @ attn.k_proj.weight).detach().double().numpy()
        vo = (attn.v_proj.weight.T @ attn.out_proj.weight.T).detach().double().numpy()
        np.testing.assert_allclose(qk, 0.7 * z_qk + 0.7 * eye, atol=1e-5)
        np.testing.assert_allclose(vo, 0.4 * z_vo - 0.4 * eye, atol=1e-5)


@pytest.mark.parametrize("init", [{}, {"position_init": "random", "attention_init": "default"}])
def test_the_training_init_attends_locally(init):
    """Why the demo recipe starts as it does: on a blank image (positions are all that differ) the
    first layer's patches attend to their neighbours far more than to distant patches; the default
    init does not."""
    import torch

    model, _ = _demo_model(**init)
    model.set_attn_implementation("eager")  # SDPA returns no attention maps
    with torch.no_grad():
        out = model.vision_model(pixel_values=torch.zeros(1, 3, 64, 64), output_attentions=True)
    attention = out.attentions[0][0].mean(0)[1:, 1:].numpy()  # heads averaged, patch to patch
    rows, cols = np.divmod(np.arange(64), 8)
    distance = np.hypot(rows[:, None] - rows[None, :], cols[:, None] - cols[None, :])
    near, far = attention[(distance > 0) & (distance <= 1.5)].mean(), attention[distance >= 4].mean()
    if init:
        assert near < 1.2 * far  # measured 1.00x
    else:
        assert near > 1.8 * far  # measured 2.2x


def test_a_pool_symmetry_moves_the_caption_with_the_image():
    """The position words of an augmented scene's caption must name where the object now is: the
    rendered object's centre, after the image's flip and turns, is where ``scene_symmetry`` puts it."""
    from dataclasses import replace

    from pytest_clipshift.demo.scenes import render_scene, sample_scene
    from pytest_clipshift.demo.train import scene_symmetry, square_symmetry

    scene = sample_scene(np.random.default_rng(11), max_objects=1)
    # a circle (its centroid is its centre) on a flat grey background, off-centre
    scene = replace(
        scene,
        objects=(replace(scene.objects[0], shape="circle", x=0.25, y=0.7, extent=0.3),),
        background="flat",
        colours=((128, 128, 128),) * 2,
        occluded=False,
    )
    rendered = render_scene(scene, size=64)
    words = set()
    for k in range(8):
        ys, xs = np.nonzero(np.abs(square_symmetry(rendered, k).astype(int) - 128).sum(-1) > 60)
        moved = scene_symmetry(scene, k).objects[0]
        assert abs((xs.mean() + 0.5) / 64 - moved.x) < 0.02 and abs((ys.mean() + 0.5) / 64 - moved.y) < 0.02, k
        assert (moved.colour, moved.shape, moved.size) == (scene.objects[0].colour, "circle", "small")
        words.add(moved.position)
    assert words == {"left", "right", "top", "bottom"}


def test_pool_batches_are_augmented_deterministically():
    from pytest_clipshift.demo.train import ScenePool, TrainSettings

    settings = TrainSettings(batch_size=16, pool_size=64, steps=4, easy_steps=0)
    pool = ScenePool(settings)
    a, captions_a, labels_a = pool.batch(settings, 2)
    b, captions_b, labels_b = pool.batch(settings, 2)
    assert np.array_equal(a, b) and captions_a == captions_b and np.array_equal(labels_a, labels_b)
    plain, _, labels_plain = pool.batch(
        TrainSettings(batch_size=16, pool_size=64, steps=4, easy_steps=0, pool_augment="none"), 2
    )
    assert np.array_equal(labels_plain, labels_a)  # the same scenes were drawn...
    assert not np.array_equal(plain, a)  # ...and (most of) them flipped or turned
    with pytest.raises(ValueError, match="pool_augment 'rot'"):
        pool.batch(TrainSettings(batch_size=16, pool_size=64, steps=4, easy_steps=0, pool_augment="rot"), 2)


def test_cached_caption_tokens_equal_the_tokenizer_s():
    import tempfile
    from pathlib import Path

    import torch

    from pytest_clipshift.demo.train import CaptionTokens, build_tokenizer

    tok = build_tokenizer(Path(tempfile.mkdtemp()), 24)
    cached = CaptionTokens(tok, 24)
    captions = ["a photo of a red circle", "a small blue cross on the left and a green square", "a red circle"]
    for batch in (captions, captions[::-1] + ["a purple triangle"]):  # the second call mixes hits and misses
        got, want = cached(batch), tok(batch, padding="max_length", max_length=24, truncation=True, return_tensors="pt")
        assert torch.equal(got["input_ids"], want["input_ids"]) and torch.equal(
            got["attention_mask"], want["attention_mask"]
        )


def test_the_saved_model_at_the_final_size_equals_the_trained_one_interpolated():
    """The fine-tuning phase runs the 64-px position grid interpolated to 80 px; the saved checkpoint
    takes 80 px natively and must give the same embeddings (a table recomputed or copied differently
    would not)."""
    import torch

    from pytest_clipshift.demo.train import resized_model

    model, _ = _demo_model()
    with torch.no_grad():  # a trained-looking table: the sine-cosine start plus a smooth learned part
        table = model.vision_model.embeddings.position_embedding.weight
        table += torch.randn(table.shape, generator=torch.Generator().manual_seed(0)) * 0.2
    resized = resized_model(model.eval(), 80)
    assert resized.config.vision_config.image_size == 80 and model.config.vision_config.image_size == 64
    pixels = torch.randn(3, 3, 80, 80, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        native = resized.get_image_features(pixel_values=pixels).pooler_output
        interpolated = model.get_image_features(pixel_values=pixels, interpolate_pos_encoding=True).pooler_output
        text = dict(input_ids=torch.tensor([[1, 5, 6, 2]]))
        same_text = torch.equal(
            resized.get_text_features(**text).pooler_output, model.get_text_features(**text).pooler_output
        )
    torch.testing.assert_close(native, interpolated, atol=1e-6, rtol=0)
    assert same_text
