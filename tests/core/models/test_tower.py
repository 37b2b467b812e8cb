"""Inside the vision tower, against the models' own outputs: per-head maps against transformers'
eager ``output_attentions`` head by head, the direct contributions adding up to the embedding from
independently captured pieces, a planted sink found with its attention share, and the logit lens of
a model whose last layers do nothing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pytest_clipshift.core.metrics import functional as F
from pytest_clipshift.core.metrics.tower import answer_layers, head_shares, sink_share, sinks
from pytest_clipshift.core.models.encoders import load_encoder
from tests.conftest import TINY_TEXT, TINY_VISION, build_tiny_clip, build_tiny_siglip, save_with_processor


def canvases(encoder, n=3, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([encoder.to_canvas(rng.integers(0, 256, size=(40, 48, 3), dtype=np.uint8)) for _ in range(n)])


def own_attentions(encoder, batch):
    """transformers' own attention weights, eager: per layer (B, H, T, T)."""
    encoder.model.set_attn_implementation("eager")
    with torch.no_grad():
        out = encoder.model.vision_model(**encoder.model_inputs(batch), output_attentions=True)
    return [a.float().numpy() for a in out.attentions]


@pytest.mark.parametrize("family", ["clip", "siglip"])
def test_per_head_maps_are_the_models_own_attention_head_by_head(family, tmp_path):
    model = build_tiny_clip(0) if family == "clip" else build_tiny_siglip(0)
    encoder = load_encoder(save_with_processor(model, tmp_path), device="cpu")
    batch = canvases(encoder)
    encoded = encoder.encode(batch, attention=True, tower={"heads"})
    n = encoder.grid[0] * encoder.grid[1]
    for k, weights in enumerate(own_attentions(encoder, batch)):
        expected = weights[:, :, 0, 1:] if family == "clip" else weights[:, :, :, -n:].mean(axis=2)
        got = encoded.head_attention[:, k].reshape(len(batch), weights.shape[1], n)
        np.testing.assert_allclose(got, expected, atol=1e-6)
    # and the heads average back to the map every attention metric read before (exactly)
    np.testing.assert_allclose(encoded.head_attention.mean(axis=2), encoded.attention, atol=1e-7)


def test_the_direct_contributions_and_the_rest_add_up_to_the_embedding(tiny_encoder):
    """Each head's term from the input of its layer's out_proj, the rest from the embeddings output,
    the MLP outputs and the biases: captured apart, they sum to the embedding; and a head's share of
    the shift is its direct change projected on the embedding's change (all shares and the rest's: 1)."""
    clean, moved = canvases(tiny_encoder, seed=0), canvases(tiny_encoder, seed=1)
    a = tiny_encoder.encode(clean, tower={"direct"})
    b = tiny_encoder.encode(moved, tower={"direct"})
    for e in (a, b):
        np.testing.assert_allclose(e.direct_heads.sum(axis=(1, 2)) + e.direct_rest, e.embeddings, atol=1e-5)
    shares = head_shares(a.direct_heads, b.direct_heads, a.embeddings, b.embeddings)
    shift = b.embeddings - a.embeddings
    rest = ((b.direct_rest - a.direct_rest) * shift).sum(1) / (shift * shift).sum(1)
    np.testing.assert_allclose(shares.sum(axis=(1, 2)) + rest, 1.0, atol=1e-4)


def test_a_pooling_head_has_no_direct_decomposition(tiny_siglip_dir):
    from pytest_clipshift.core.errors import ModelLoadError

    siglip = load_encoder(tiny_siglip_dir, device="cpu")
    with pytest.raises(ModelLoadError, match="direct contributions are not available"):
        siglip.encode(canvases(siglip), tower={"direct"})


def test_a_planted_high_norm_token_is_found_as_a_sink_with_its_attention_share(tmp_path):
    """One patch singled out by its position embedding (all along one direction) and the first layer's
    MLP made to write a large vector into tokens that point that way: that patch's token carries a norm
    far above the others' through every later layer. The sink rule finds exactly it, and the share of
    the CLS attention it takes is what transformers' own attention weights give."""
    model = build_tiny_clip(0)
    planted = 5
    with torch.no_grad():
        embeddings = model.vision_model.embeddings.position_embedding.weight
        embeddings[1 + planted].zero_()
        embeddings[1 + planted, 0] = 50.0
        mlp = model.vision_model.encoder.layers[0].mlp
        mlp.fc1.weight[0].zero_()
        mlp.fc1.weight[0, 0], mlp.fc1.bias[0] = 10.0, -45.0  # fires for that direction only
        mlp.fc2.weight[:, 0] = 30.0
    encoder = load_encoder(save_with_processor(model, tmp_path), device="cpu")
    batch = canvases(encoder)
    encoded = encoder.encode(batch, attention=True, hidden_states=True)
    layers = encoded.attention.shape[1]
    found = sinks(encoded.hidden_states[:, layers], has_cls=True, factor=10.0)
    assert found.sum(axis=1).tolist() == [1, 1, 1] and found[:, planted].all()
    cls_row = own_attentions(encoder, batch)[-1].mean(axis=1)[:, 0, 1:]  # heads averaged
    np.testing.assert_allclose(
        sink_share(encoded.attention[:, -1], found), cls_row[:, planted] / cls_row.sum(axis=1), atol=1e-6
    )
    quiet = sinks(encoded.hidden_states[:, layers], has_cls=True, factor=1e6)
    assert not quiet.any() and np.isnan(F.attention_correlation(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)))).all()


def test_the_logit_lens_of_a_model_whose_last_layers_do_nothing(tmp_path):
    """Layers 3 and 4 of 4 zeroed (attention output and MLP write nothing: the residual passes through):
    every layer from 2 on reads the same, so the answer forms at layer 2 at the latest; the lens is the
    model's own hidden states through its final norm and projection."""
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    vision = {**TINY_VISION, "num_hidden_layers": 4}
    model = CLIPModel(CLIPConfig(text_config=TINY_TEXT, vision_config=vision, projection_dim=16))
    with torch.no_grad():
        for layer in model.vision_model.encoder.layers[2:]:
            for module in (layer.self_attn.out_proj, layer.mlp.fc2):
                module.weight.zero_()
                module.bias.zero_()
    encoder = load_encoder(save_with_processor(model, tmp_path), device="cpu")
    batch = canvases(encoder, n=6)
    lens = encoder.encode(batch, tower={"lens"}).lens
    with torch.no_grad():
        hidden = model.vision_model(**encoder.model_inputs(batch), output_hidden_states=True).hidden_states
        expected = [model.visual_projection(model.vision_model.post_layernorm(h[:, 0])).numpy() for h in hidden[1:]]
    np.testing.assert_allclose(lens, np.stack(expected, axis=1), atol=1e-5)
    np.testing.assert_allclose(lens[:, 1], lens[:, 3], atol=1e-5)
    labels = np.random.default_rng(0).normal(size=(5, 16))
    labels /= np.linalg.norm(labels, axis=1, keepdims=True)
    layer = answer_layers(lens, labels)
    assert (layer <= 2).all()
    first_agrees = np.argmax(lens[:, 0] @ labels.T, axis=1) == np.argmax(lens[:, 3] @ labels.T, axis=1)
    assert (layer == np.where(first_agrees, 1, 2)).all()


def test_nothing_is_read_from_inside_the_tower_unless_a_metric_asks(tiny_encoder, small_images):
    from pytest_clipshift.core.measure.engine import measure

    calls = []
    real = tiny_encoder.encode

    def spy(batch, **kwargs):
        calls.append(kwargs.get("tower", frozenset()))
        return real(batch, **kwargs)

    tiny_encoder.encode = spy
    try:
        measure(tiny_encoder, small_images, ["gaussian_blur"])
        assert calls and all(not t for t in calls)  # the default metrics: no per-head maps, no decomposition
        calls.clear()
        measure(tiny_encoder, small_images, ["gaussian_blur"], metrics=["attention_correlation@2h1"])
        assert calls and all(t == {"heads"} for t in calls)
    finally:
        del tiny_encoder.encode
