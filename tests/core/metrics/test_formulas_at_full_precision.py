"""Metric formulas on inputs where precision, thresholds and small sizes decide: float32 embeddings
taken to float64 before the distance, pixel means accumulated in float64, the flat-patch rule of
detail_preservation at its documented threshold, and the smallest image a grid can tile. Each
expected value is computed here from the docstring's formula."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from pytest_clipshift.core.metrics import functional as F


def test_distances_of_float32_embeddings_are_taken_in_float64():
    rng = np.random.default_rng(0)
    a, b = (rng.normal(size=(4, 512)).astype(np.float32) * 30 for _ in range(2))
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    np.testing.assert_array_equal(F.l2_distance(a, b), np.sqrt(((a64 - b64) ** 2).sum(axis=1)))
    unit_a = a64 / np.linalg.norm(a64, axis=1, keepdims=True)
    unit_b = b64 / np.linalg.norm(b64, axis=1, keepdims=True)
    np.testing.assert_allclose(F.l2_distance_normalized(a, b), np.linalg.norm(unit_a - unit_b, axis=1), rtol=1e-15)


def test_pixel_means_are_accumulated_in_float64():
    rng = np.random.default_rng(1)
    original = rng.integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    augmented = rng.integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    # patch_similarity: float32 differences in [0, 1], each 16x16 cell's MSE as a float64 mean
    d = (original.astype(np.float32) - augmented.astype(np.float32)) * np.float32(1 / 255.0)
    sq = (d * d).astype(np.float64).reshape(2, 4, 16, 4, 16, 3)
    mse = sq.mean(axis=(2, 4, 5))
    np.testing.assert_allclose(F.patch_similarity(original, augmented), (1 / (1 + mse)).mean(axis=(1, 2)), rtol=1e-15)
    # edge_preservation: 1 - the float64 mean of |E_orig - E_aug|
    e0, e1 = F.edge_map(F.grey(original)), F.edge_map(F.grey(augmented))
    expected = 1 - np.abs(e0 - e1).astype(np.float64).mean(axis=(1, 2))
    np.testing.assert_allclose(F.edge_preservation(original, augmented), expected, rtol=1e-15)


def test_detail_preservation_scores_each_cell_by_its_own_rule():
    # 4 x 4 cells of 8 x 8 px (grid 4 on 32 px), grey values set cell by cell
    def image(stds):
        rng = np.random.default_rng(2)
        grey = np.zeros((32, 32))
        for (i, j), s in np.ndenumerate(stds):
            grey[8 * i : 8 * i + 8, 8 * j : 8 * j + 8] = 128 + s * np.sign(rng.normal(size=(8, 8)))
        return np.repeat(grey[None, :, :, None], 3, axis=3).astype(np.uint8)

    flat, textured = np.zeros((4, 4)), np.full((4, 4), 40.0)
    half = textured.copy()
    half[0, 0] = 20.0  # one cell keeps half its detail, one gains detail from a flat start, one stays flat
    original, augmented = image(textured), image(half)
    original[:, :8, 8:16], augmented[:, :8, 8:16] = 128, image(textured)[:, :8, 8:16]
    original[:, :8, 16:24] = augmented[:, :8, 16:24] = 128
    so = F._cells(F.grey(original), 4).std(axis=(3, 4), dtype=np.float64)[0]
    sa = F._cells(F.grey(augmented), 4).std(axis=(3, 4), dtype=np.float64)[0]
    r = sa / np.where(so > 0, so, 1)
    cells = np.minimum(r, 1 / np.maximum(r, 1e-300))
    cells[0, 1] = 0.0  # flat in the original, detailed after: detail invented
    counted = np.ones((4, 4), bool)
    counted[0, 2] = False  # flat in both: skipped
    expected = cells[counted].sum() / counted.sum()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the divisions by a flat cell's zero std are expected, not warned
        got = F.detail_preservation(original, augmented, grid=4)
    assert cells[0, 0] == pytest.approx(0.5, rel=0.05) and got[0] == pytest.approx(expected, rel=1e-12)
    # the flat threshold is 1e-3 grey levels: a cell with a std of 0.5 level is detail, not flat
    faint = np.full((1, 32, 32, 3), 128, np.uint8)
    faint[0, ::2, :, :] = 129  # std 0.5 everywhere
    assert F.detail_preservation(faint, faint.copy(), grid=4)[0] == 1.0
    strong = faint.copy()
    strong[0, ::2] = 168  # std 20 everywhere: 40 times the detail, scored 1/40
    assert F.detail_preservation(faint, strong, grid=4)[0] == pytest.approx(1 / 40, rel=1e-9)
    assert F.detail_preservation(image(flat), image(textured), grid=4)[0] == 0.0
    assert F.detail_preservation(image(flat), image(flat), grid=4)[0] == 1.0  # nothing to lose


@pytest.mark.parametrize("shape", [(8, 40), (40, 8), (8, 8), (15, 15)])
def test_the_smallest_image_a_grid_tiles_is_one_pixel_per_cell(shape):
    ok = np.zeros((1, *shape, 3), np.uint8)
    assert F.patch_similarity(ok, ok, grid=8)[0] == 1.0


@pytest.mark.parametrize("shape", [(7, 40), (40, 7), (7, 7)])
def test_an_image_smaller_than_the_grid_on_either_side_is_refused(shape):
    small = np.zeros((1, *shape, 3), np.uint8)
    with pytest.raises(ValueError, match=r"too small for a 8x8 grid"):
        F.patch_similarity(small, small, grid=8)


@pytest.mark.parametrize("shape", [(8, 8, 3), (1, 8, 8, 4), (1, 8, 8)])
def test_pixel_metrics_refuse_anything_but_a_batch_of_rgb_images(shape):
    x = np.zeros(shape, np.uint8)
    with pytest.raises(ValueError, match=r"pixel metrics need two \(N, H, W, 3\) batches"):
        F.patch_similarity(x, x)
