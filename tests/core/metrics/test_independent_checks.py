"""Metric claims against computations written independently of the code: aligned layer tokens,
undefined inverse MSE, Ward on Euclidean distances, the study-exact attention number."""

from __future__ import annotations

import numpy as np

from pytest_clipshift.core import metrics as M
from pytest_clipshift.core.measure.engine import measure


class TokenEncoder:
    """An Encoder that is flip-equivariant by construction: each patch token is a fixed function of
    that patch's own mean colour, so a horizontal flip permutes the tokens and changes nothing else."""

    name = "tokens"
    fingerprint = "tokens-v1"
    canvas_size = (64, 64)
    grid = (8, 8)
    info = {"name": "tokens", "layers": 2}

    def __init__(self):
        rng = np.random.default_rng(0)
        self.weights = [rng.normal(size=(3, 16)), rng.normal(size=(16, 16))]

    def to_canvas(self, image):
        from PIL import Image

        return np.asarray(Image.fromarray(image).resize(self.canvas_size))

    def encode(self, canvases, *, attention=False, hidden_states=False):
        from pytest_clipshift.core.models.encoders import Encoded

        x = canvases.astype(np.float64) / 255.0
        cells = x.reshape(len(x), 8, 8, 8, 8, 3).mean(axis=(2, 4)).reshape(len(x), 64, 3)
        layer1 = np.tanh(cells @ self.weights[0] * 3)
        layer2 = np.tanh(layer1 @ self.weights[1])
        layers = [np.tanh(cells @ self.weights[0] * 0.1), layer1, layer2]  # embeddings + 2 layers
        tokens = [np.concatenate([t.mean(axis=1, keepdims=True), t], axis=1) for t in layers]  # CLS = mean
        out = Encoded(layer2.mean(axis=1).astype(np.float32))
        if hidden_states:
            out.hidden_states = np.stack(tokens, axis=1).astype(np.float32)  # (N, 3, 65, 16)
        if attention:
            out.attention = cells.mean(-1).reshape(len(x), 1, 8, 8).repeat(2, axis=1).astype(np.float32)
        return out


def test_layer_cka_aligns_tokens_for_a_flip_equivariant_model(small_images):
    run = measure(
        TokenEncoder(),
        small_images,
        ["horizontal_flip", "gaussian_blur"],
        severities=[1],
        metrics=["cosine", "layer_cka", "layer_cosine"],
        seed=0,
    )
    flip = run.get("horizontal_flip", 1)
    # the flipped tokens are the clean tokens in mirrored order: aligned CKA is exactly 1
    np.testing.assert_allclose(flip.values["layer_cka"], 1.0, atol=1e-6)
    np.testing.assert_allclose(flip.values["layer_cka@1"], 1.0, atol=1e-6)
    assert flip.stat("layer_cka_raw", "mean") < 0.95  # compared by position, the same model looks shifted
    # the CLS (mean) token has no position: cosine is 1 either way
    np.testing.assert_allclose(flip.values["layer_cosine"], 1.0, atol=1e-6)
    # a photometric augmentation moves nothing: aligned and raw agree
    blur = run.get("gaussian_blur", 1)
    np.testing.assert_allclose(blur.values["layer_cka"], blur.values["layer_cka_raw"])


def test_inverse_mse_of_a_constant_map_is_undefined_and_counted():
    flat, peaked = np.ones((7, 7)), np.arange(49.0).reshape(7, 7)
    assert np.isnan(M.attention_inverse_mse(flat, peaked))
    assert np.isnan(M.attention_inverse_mse_study(flat[None], peaked[None], (224, 224))[0])
    values = M.attention_inverse_mse(np.stack([flat, peaked]), np.stack([peaked, peaked]))
    s = M.summarize(values, seed=0)
    assert s["n_undefined"] == 1 and s["n"] == 1 and s["mean"] == 1.0


def test_ward_clusters_the_euclidean_distances_of_the_stacked_unit_embeddings():
    from scipy.cluster.hierarchy import linkage

    rng = np.random.default_rng(1)
    views = rng.normal(size=(6, 5, 12))  # 6 images x 5 views
    ward = M.cluster_views(M.cosine_distance_matrix(views), list("abcde"), method="ward")
    unit = views / np.linalg.norm(views, axis=-1, keepdims=True)
    observations = np.moveaxis(unit, 1, 0).reshape(5, -1) / np.sqrt(6)  # one row per view
    reference = linkage(observations, method="ward")  # scipy's Ward on real Euclidean vectors
    np.testing.assert_allclose(ward.linkage[:, 2], reference[:, 2], rtol=1e-9)
    np.testing.assert_array_equal(ward.linkage[:, :2], reference[:, :2])
    average = M.cluster_views(M.cosine_distance_matrix(views), list("abcde"), method="average")
    assert np.allclose(average.distance, ward.distance)  # D itself is kept for the report


def test_study_variant_matches_an_independent_bilinear_upsampling():
    import torch

    rng = np.random.default_rng(2)
    a, b = rng.random((3, 7, 7)).astype(np.float32), rng.random((3, 7, 7)).astype(np.float32)
    ours = M.attention_inverse_mse_study(a, b, (224, 224))

    def up(m):  # torch's half-pixel bilinear is what OpenCV's INTER_LINEAR computes when upsampling
        t = (
            torch.nn.functional.interpolate(
                torch.from_numpy(m)[:, None], size=(224, 224), mode="bilinear", align_corners=False
            )[:, 0]
            .double()
            .numpy()
            .reshape(3, -1)
        )
        return (t - t.min(1, keepdims=True)) / (t.max(1, keepdims=True) - t.min(1, keepdims=True))

    reference = 1 / (1 + ((up(a) - up(b)) ** 2).mean(1))
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    grid = M.attention_inverse_mse(a, b)
    assert np.abs(grid - ours).max() > 1e-3  # the two variants really differ
    assert np.abs(grid - ours).max() < 0.1
