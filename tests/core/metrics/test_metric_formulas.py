"""Each built-in metric against an independent computation: plain loops over pixels and patches,
scipy, and for attention and layer tokens the model's own outputs (transformers' eager attention
weights and hidden states). Inputs are chosen where the plausible wrong formula gives another number:
a median for a mean, raw for normalised edges, layer K-1 for K, keys for queries."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from pytest_clipshift.core.metrics import METRICS
from pytest_clipshift.core.metrics import functional as F
from pytest_clipshift.core.metrics.batch import Batch
from tests.readme_tables import readme_table

RNG = np.random.default_rng(7)


def test_embedding_distances_are_scipys():
    a, b = RNG.normal(size=(5, 12)), RNG.normal(size=(5, 12)) * 3
    assert F.cosine_similarity(a, b) == pytest.approx([1 - distance.cosine(x, y) for x, y in zip(a, b)])
    assert F.l2_distance(a, b) == pytest.approx([distance.euclidean(x, y) for x, y in zip(a, b)])
    unit = [distance.euclidean(x / np.linalg.norm(x), y / np.linalg.norm(y)) for x, y in zip(a, b)]
    assert F.l2_distance_normalized(a, b) == pytest.approx(unit)
    views = RNG.normal(size=(3, 4, 12)) + 1  # 3 images x 4 views: the mean over images of each view pair
    expected = np.mean([distance.squareform(distance.pdist(v, "cosine")) for v in views], axis=0)
    assert F.cosine_distance_matrix(views) == pytest.approx(expected, abs=1e-12)


def test_attention_correlation_is_pearsons_and_a_constant_map_is_undefined():
    a, b = RNG.random((4, 3, 5)), RNG.random((4, 3, 5))
    assert F.attention_correlation(a, b) == pytest.approx(
        [stats.pearsonr(x.ravel(), y.ravel()).statistic for x, y in zip(a, b)]
    )
    flat = np.ones((1, 3, 5))
    assert np.isnan(F.attention_correlation(flat, b[:1])).all()
    assert F.attention_correlation(a[:1], -a[:1]) == pytest.approx([-1.0])


def test_attention_inverse_mse_is_one_over_one_plus_the_mse_of_min_max_maps():
    a, b = RNG.random((3, 4, 4)) * 5 + 2, RNG.random((3, 4, 4))
    expected = []
    for x, y in zip(a, b):
        x = (x - x.min()) / (x.max() - x.min())
        y = (y - y.min()) / (y.max() - y.min())
        expected.append(1 / (1 + np.mean((x - y) ** 2)))
    assert F.attention_inverse_mse(a, b) == pytest.approx(expected)
    assert np.isnan(F.attention_inverse_mse(np.ones((1, 4, 4)), b[:1])).all()


def test_the_studys_attention_number_upsamples_with_opencv_first():
    import cv2

    a, b = RNG.random((2, 3, 3)).astype(np.float32), RNG.random((2, 3, 3)).astype(np.float32)
    expected = []
    for x, y in zip(a, b):
        x, y = cv2.resize(x, (12, 9)).astype(np.float64), cv2.resize(y, (12, 9)).astype(np.float64)
        x, y = (x - x.min()) / (x.max() - x.min()), (y - y.min()) / (y.max() - y.min())
        expected.append(1 / (1 + np.mean((x - y) ** 2)))
    assert F.attention_inverse_mse_study(a, b, (12, 9)) == pytest.approx(expected, rel=1e-6)


def patches(image, grid):
    h, w = image.shape[0] // grid, image.shape[1] // grid
    return [image[r * h : (r + 1) * h, c * w : (c + 1) * w] for r in range(grid) for c in range(grid)]


def test_patch_similarity_is_the_mean_over_patches_not_the_median():
    clean = RNG.integers(0, 256, (2, 34, 34, 3)).astype(np.uint8)  # 34: the last 2 px are cropped
    augmented = clean.copy()
    augmented[0, :8, :8] = 255 - augmented[0, :8, :8]  # one patch changed a lot: the median would not see it
    augmented[1] = np.clip(augmented[1].astype(int) + RNG.integers(-30, 30, (34, 34, 3)), 0, 255)
    expected = []
    for x, y in zip(clean, augmented):
        scores = [
            1 / (1 + np.mean(((p.astype(float) - q.astype(float)) / 255) ** 2))
            for p, q in zip(patches(x[:32, :32], 4), patches(y[:32, :32], 4))
        ]
        expected.append(np.mean(scores))
    assert F.patch_similarity(clean, augmented) == pytest.approx(expected, rel=1e-6)
    assert F.patch_similarity(clean, augmented)[0] < 0.99  # the median of the 16 patches is 1


def grey(image):
    return image.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def edges(g):
    h, w = g.shape
    e = np.zeros_like(g)
    for y in range(h):
        for x in range(w):
            dx = abs(g[y, x + 1] - g[y, x - 1]) if 0 < x < w - 1 else 0.0
            dy = abs(g[y + 1, x] - g[y - 1, x]) if 0 < y < h - 1 else 0.0
            e[y, x] = (dx + dy) / 2
    return e / e.max()


def test_edge_maps_are_central_differences_each_divided_by_its_maximum():
    image = RNG.integers(0, 256, (1, 9, 11, 3)).astype(np.uint8)
    assert F.edge_map(F.grey(image))[0] == pytest.approx(edges(grey(image[0])), rel=1e-5, abs=1e-6)
    low = (image // 4).astype(np.uint8)  # the same edges at a quarter of the contrast
    other = RNG.integers(0, 256, (1, 9, 11, 3)).astype(np.uint8)
    assert F.edge_preservation(image, low)[0] == pytest.approx(
        1 - np.abs(edges(grey(image[0])) - edges(grey(low[0]))).mean(), abs=1e-5
    )
    assert F.edge_preservation(image, low)[0] > 0.97  # normalised: contrast alone keeps the edges
    expected = 1 - np.abs(edges(grey(image[0])) - edges(grey(other[0]))).mean()
    assert F.edge_preservation(image, other)[0] == pytest.approx(expected, abs=1e-5)
    assert F.edge_preservation(image, other, original_edges=F.edge_map(F.grey(image)))[0] == pytest.approx(
        expected, abs=1e-5
    )


def test_detail_preservation_is_the_mean_of_min_ratio_over_patches():
    clean = RNG.integers(0, 256, (1, 16, 16, 3)).astype(np.uint8)
    augmented = clean.copy()
    augmented[0, :8, :8] = (augmented[0, :8, :8] // 3).astype(np.uint8)  # less detail in a quarter
    augmented[0, 8:, 8:] = 100  # none left in another
    scores = []
    for p, q in zip(patches(grey(clean[0]), 8), patches(grey(augmented[0]), 8)):
        r = q.std() / p.std()
        scores.append(min(r, 1 / r) if r > 0 else 0.0)
    assert F.detail_preservation(clean, augmented)[0] == pytest.approx(np.mean(scores), rel=1e-5)
    flat = np.full((1, 16, 16, 3), 50, np.uint8)
    assert F.detail_preservation(flat, flat)[0] == 1.0  # nothing to lose
    speckled = flat.copy()
    speckled[0, 0, 0] = 200
    assert F.detail_preservation(flat, speckled)[0] == pytest.approx(0.0)  # detail invented in the only counted patch


def unbiased_hsic(k, l):
    n = len(k)
    k, l = k.copy(), l.copy()
    np.fill_diagonal(k, 0)
    np.fill_diagonal(l, 0)
    ones = np.ones(n)
    return (
        np.trace(k @ l)
        + (ones @ k @ ones) * (ones @ l @ ones) / ((n - 1) * (n - 2))
        - 2 / (n - 2) * ones @ k @ l @ ones
    ) / (n * (n - 3))


def test_linear_cka_is_song_et_als_unbiased_estimator():
    x, y = RNG.normal(size=(9, 5)), RNG.normal(size=(9, 4))
    k, l = x @ x.T, y @ y.T
    expected = unbiased_hsic(k, l) / np.sqrt(unbiased_hsic(k, k) * unbiased_hsic(l, l))
    assert F.linear_cka(x, y) == pytest.approx(expected)
    rotation = np.linalg.qr(RNG.normal(size=(5, 5)))[0]
    assert F.linear_cka(x, 3 * x @ rotation) == pytest.approx(1.0)


def test_cka_of_a_constant_representation_is_undefined_without_a_warning():
    """A layer whose tokens are all alike (a constant) has no similarity structure: NaN, the value
    summaries count as undefined, and no RuntimeWarning for a user who runs with -W error."""
    import warnings

    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for constant in (np.ones((6, 4)), np.zeros((6, 4)), np.full((2, 6, 4), 3.3)):
            other = rng.normal(size=constant.shape)
            assert np.isnan(F.linear_cka(constant, other)).all() and np.isnan(F.linear_cka(other, constant)).all()


def layered_batch(n_layers=3, tokens=5, dim=6, grid=(2, 2)):
    clean = RNG.normal(size=(2, n_layers + 1, tokens, dim))
    augmented = clean + RNG.normal(size=clean.shape) * np.linspace(0.1, 2, n_layers + 1)[None, :, None, None]
    attention_c, attention_a = RNG.random((2, n_layers) + grid), RNG.random((2, n_layers) + grid)
    canvases = RNG.integers(0, 256, (2, 16, 16, 3)).astype(np.uint8)
    return Batch(
        clean_embeddings=RNG.normal(size=(2, 4)),
        augmented_embeddings=RNG.normal(size=(2, 4)),
        clean_images=canvases,
        augmented_images=canvases,
        coords=[None, None],
        augmentations=["x", "x"],
        image_names=["a", "b"],
        clean_attention=attention_c,
        augmented_attention=attention_a,
        clean_hidden=clean,
        augmented_hidden=augmented,
        grid=grid,
    )


def test_layer_k_reads_the_tokens_after_layer_k():
    """hidden_states[0] is the embedding layer's output: layer K is index K. Each layer is made to
    differ, so reading K-1 (or K+1) gives another number."""
    batch = layered_batch()
    ch, ah = batch.clean_hidden, batch.augmented_hidden
    for k in (1, 2, 3):
        cls = [1 - distance.cosine(ch[i, k, 0], ah[i, k, 0]) for i in range(2)]
        assert METRICS["layer_cosine"].values(batch, k) == pytest.approx(cls)
        assert METRICS["layer_cka_raw"].values(batch, k) == pytest.approx(F.linear_cka(ch[:, k], ah[:, k]))
        assert METRICS["attention_correlation"].values(batch, k) == pytest.approx(
            F.attention_correlation(batch.clean_attention[:, k - 1], batch.augmented_attention[:, k - 1])
        )
    last = METRICS["layer_cosine"].values(batch, None)
    assert last == pytest.approx(METRICS["layer_cosine"].values(batch, 3))
    assert METRICS["attention_inverse_mse"].values(batch, None) == pytest.approx(
        F.attention_inverse_mse(batch.clean_attention[:, -1], batch.augmented_attention[:, -1])
    )


def test_a_model_without_a_cls_token_compares_mean_tokens():
    batch = layered_batch(tokens=4, grid=(2, 2))  # 4 tokens on a 2x2 grid: no CLS
    ch, ah = batch.clean_hidden, batch.augmented_hidden
    expected = [1 - distance.cosine(ch[i, 2].mean(0), ah[i, 2].mean(0)) for i in range(2)]
    assert METRICS["layer_cosine"].values(batch, 2) == pytest.approx(expected)


def model_attention(model, pixel_values, cls: bool):
    """Per layer, the heads' mean attention from transformers itself: the CLS row over the patches,
    or (no CLS) the mean over queries of the attention each patch receives."""
    import torch

    with torch.no_grad():
        out = model.vision_model(pixel_values=pixel_values, output_attentions=True)
    maps = []
    for weights in out.attentions:
        w = weights.mean(dim=1)
        maps.append(w[:, 0, 1:] if cls else w.mean(dim=1))
    return torch.stack(maps, dim=1).numpy()


@pytest.mark.parametrize("family", ["clip", "siglip"])
def test_captured_attention_and_layers_are_the_models_own(family, tiny_clip_dir, tiny_siglip_dir):
    from transformers import AutoModel

    from pytest_clipshift.core.models.encoders import load_encoder

    directory = tiny_clip_dir if family == "clip" else tiny_siglip_dir
    encoder = load_encoder(directory, device="cpu")
    canvases = RNG.integers(0, 256, (2,) + tuple(encoder.canvas_size) + (3,)).astype(np.uint8)
    got = encoder.encode(canvases, attention=True, hidden_states=True)
    model = AutoModel.from_pretrained(directory, attn_implementation="eager").eval()
    pixels = encoder.pixel_values(canvases)
    expected = model_attention(model, pixels, cls=family == "clip")
    assert got.attention.reshape(expected.shape) == pytest.approx(expected, abs=1e-5)
    if family == "siglip":  # over keys every row sums to one: a constant map
        assert np.ptp(got.attention[0, -1]) > 1e-4
    import torch

    with torch.no_grad():
        hidden = model.vision_model(pixel_values=pixels, output_hidden_states=True).hidden_states
    assert got.hidden_states == pytest.approx(torch.stack(hidden, dim=1).numpy(), abs=1e-5)


def readme_directions() -> dict[str, str]:
    out = {}
    for name_cell, *_, better in readme_table("| name | what | better |"):
        for name in re.findall(r"`([a-z_0-9]+)`", name_cell):
            out[name] = better.split()[0].rstrip(":")
    return out


def test_every_built_in_direction_is_the_documented_one():
    documented = readme_directions()
    built_in = [m for m in METRICS.values() if m.builtin]
    assert sorted(documented) == sorted(m.name for m in built_in)
    for m in built_in:
        assert documented[m.name] == ("higher" if m.higher_is_better else "lower"), m.name


def moved_batch(coords, n_layers=2, grid=(4, 4), dim=5):
    """One image with a CLS token and a 4x4 patch grid on a 16-px canvas, moved by ``coords``."""
    tokens = 1 + grid[0] * grid[1]
    clean = RNG.normal(size=(1, n_layers + 1, tokens, dim))
    augmented = RNG.normal(size=clean.shape)
    canvases = np.zeros((1, 16, 16, 3), np.uint8)
    return Batch(
        clean_embeddings=RNG.normal(size=(1, 4)),
        augmented_embeddings=RNG.normal(size=(1, 4)),
        clean_images=canvases,
        augmented_images=canvases,
        coords=[coords],
        augmentations=["moved"],
        image_names=["a"],
        clean_hidden=clean,
        augmented_hidden=augmented,
        grid=grid,
    )


def shifted_coords(dx: int) -> np.ndarray:
    """The coordinate grid of a shift right by ``dx`` px: each pixel's source x, y, and whether the
    source lies inside the canvas."""
    yy, xx = np.mgrid[0:16, 0:16].astype(float)
    return np.stack([xx - dx, yy, (xx - dx >= 0).astype(float)], -1)


@pytest.mark.parametrize("dx", [0, 4, 8])
def test_layer_cka_moves_the_clean_patch_tokens_with_the_image(dx):
    """Shifted by whole patches: output cell (r, c) holds clean cell (r, c - dx/4); the cells that
    came from outside the canvas are dropped on both sides, the CLS token is kept."""
    batch = moved_batch(shifted_coords(dx))
    cells = dx // 4
    ch, ah = batch.clean_hidden[0, 1:], batch.augmented_hidden[0, 1:]
    grid_c = ch[:, 1:].reshape(2, 4, 4, -1)
    grid_a = ah[:, 1:].reshape(2, 4, 4, -1)
    clean = np.concatenate([ch[:, :1], grid_c[:, :, : 4 - cells].reshape(2, -1, ch.shape[-1])], axis=1)
    aug = np.concatenate([ah[:, :1], grid_a[:, :, cells:].reshape(2, -1, ah.shape[-1])], axis=1)
    for k in (1, 2):
        assert METRICS["layer_cka"].values(batch, k)[0] == pytest.approx(F.linear_cka(clean[k - 1], aug[k - 1]))
    raw = F.linear_cka(ch[1], ah[1])
    assert METRICS["layer_cka_raw"].values(batch, 2)[0] == pytest.approx(raw)
    if dx:
        assert METRICS["layer_cka"].values(batch, 2)[0] != pytest.approx(raw)


def test_layer_cka_of_an_image_moved_off_the_canvas_is_undefined():
    batch = moved_batch(shifted_coords(16))  # nothing of the clean image is left: only the CLS token
    assert np.isnan(METRICS["layer_cka"].values(batch, 1)).all()


def warped_batch(coords, tokens, grid):
    """Two images whose canvas (18 px) moved as ``coords`` says; the layers' tokens at random."""
    batch = layered_batch(tokens=tokens, grid=grid)
    return Batch(
        **{k: getattr(batch, k) for k in ("clean_embeddings", "augmented_embeddings", "augmentations")},
        clean_images=np.zeros((2, 18, 18, 3), np.uint8),
        augmented_images=np.zeros((2, 18, 18, 3), np.uint8),
        coords=[coords, coords],
        image_names=["a", "b"],
        clean_attention=batch.clean_attention,
        augmented_attention=batch.augmented_attention,
        clean_hidden=batch.clean_hidden,
        augmented_hidden=batch.augmented_hidden,
        grid=grid,
    )


@pytest.mark.parametrize("cls", [True, False])
def test_aligned_layer_cka_moves_the_clean_tokens_as_the_image_moved(cls):
    """A mirror: the clean patch tokens in mirrored column order are what is compared (a CLS token,
    where there is one, as is); a shift by a third: the column filled from outside is dropped from
    both sides; a shift that leaves too few tokens (under 4) is undefined, not a number."""
    from pytest_clipshift.core.augment.types import coordinate_grid

    mirror = coordinate_grid(18, 18)[:, ::-1].copy()
    start = 1 if cls else 0
    batch = warped_batch(mirror, tokens=9 + start, grid=(3, 3))
    ch, ah = batch.clean_hidden, batch.augmented_hidden
    for k in (1, 3):
        got = METRICS["layer_cka"].values(batch, k)
        clean = ch[:, k, start:].reshape(2, 3, 3, -1)[:, :, ::-1].reshape(2, 9, -1)
        expected = F.linear_cka(np.concatenate([ch[:, k, :start], clean], 1), ah[:, k])
        assert got == pytest.approx(expected, abs=1e-6)  # the warp runs in float32

    shift = coordinate_grid(18, 18)
    shift[..., 0] -= 6  # each pixel comes from 6 px (one cell) to its left; the first column from outside
    shift[:, :6, 2] = 0
    batch = warped_batch(shift, tokens=9 + start, grid=(3, 3))
    ch, ah = batch.clean_hidden, batch.augmented_hidden
    clean_cells = ch[:, 2, start:].reshape(2, 3, 3, -1)
    aug_cells = ah[:, 2, start:].reshape(2, 3, 3, -1)
    expected = F.linear_cka(
        np.concatenate([ch[:, 2, :start], clean_cells[:, :, :2].reshape(2, 6, -1)], 1),
        np.concatenate([ah[:, 2, :start], aug_cells[:, :, 1:].reshape(2, 6, -1)], 1),
    )
    assert METRICS["layer_cka"].values(batch, 2) == pytest.approx(expected, abs=1e-6)

    # a cell half from inside is kept: a 3 px shift leaves the first column's cells exactly half covered
    from pytest_clipshift.core.augment.augmentations import warp_map

    half = coordinate_grid(18, 18)
    half[..., 0] -= 3
    half[:, :3, 2] = 0
    batch = warped_batch(half, tokens=9 + start, grid=(3, 3))
    ch, ah = batch.clean_hidden, batch.augmented_hidden
    grid = np.moveaxis(ch[:, 2, start:].reshape(2, 3, 3, -1), -1, 1)  # (image, d, 3, 3)
    warped, coverage = warp_map(grid, half)
    assert coverage[:, 0].tolist() == [0.5, 0.5, 0.5] and (coverage[:, 1:] == 1).all()
    moved = np.moveaxis(warped, 1, -1).reshape(2, 9, -1)
    expected = F.linear_cka(np.concatenate([ch[:, 2, :start], moved], 1), ah[:, 2])
    assert METRICS["layer_cka"].values(batch, 2) == pytest.approx(expected, abs=1e-6)
    # four tokens are enough (without a CLS token: the four cells of a 2x2 grid)
    assert np.isfinite(METRICS["layer_cka"].values(warped_batch(mirror, tokens=4 + start, grid=(2, 2)), 2)).all()
    far = coordinate_grid(18, 18)
    far[..., 0] -= 12
    far[:, :15, 2] = 0  # only the last column's right half from inside: no cell kept
    small = warped_batch(far, tokens=4 + start, grid=(2, 2))
    assert np.isnan(METRICS["layer_cka"].values(small, 2)).all()
