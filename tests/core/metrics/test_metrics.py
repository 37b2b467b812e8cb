"""Known values and hypothesis properties of every metric."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pytest_clipshift.core import metrics as M

finite = st.floats(-100, 100, allow_nan=False, width=32)
vectors = st.integers(1, 6).flatmap(
    lambda n: st.integers(2, 16).flatmap(
        lambda d: st.tuples(arrays(np.float64, (n, d), elements=finite), arrays(np.float64, (n, d), elements=finite))
    )
)
images = st.integers(1, 3).flatmap(
    lambda n: st.tuples(arrays(np.uint8, (n, 16, 16, 3)), arrays(np.uint8, (n, 16, 16, 3)))
)


# ------------------------------------------------------------------ embeddings
def test_cosine_known_values():
    a = np.array([[1.0, 0.0], [1.0, 1.0], [3.0, 4.0]])
    b = np.array([[0.0, 2.0], [-1.0, -1.0], [6.0, 8.0]])
    np.testing.assert_allclose(M.cosine_similarity(a, b), [0.0, -1.0, 1.0], atol=1e-12)


def test_l2_known_values():
    a = np.array([[0.0, 0.0], [1.0, 1.0]])
    b = np.array([[3.0, 4.0], [1.0, 1.0]])
    np.testing.assert_allclose(M.l2_distance(a, b), [5.0, 0.0])
    # normalised: orthogonal unit vectors are sqrt(2) apart, scale does not matter
    np.testing.assert_allclose(M.l2_distance_normalized(np.array([[2.0, 0.0]]), np.array([[0.0, 7.0]])), [math.sqrt(2)])


@given(vectors)
def test_cosine_properties(pair):
    a, b = pair
    c = M.cosine_similarity(a, b)
    assert np.all(c <= 1.0) and np.all(c >= -1.0)
    np.testing.assert_allclose(c, M.cosine_similarity(b, a))
    nonzero = np.linalg.norm(a, axis=1) > 1e-3
    np.testing.assert_allclose(M.cosine_similarity(a, a)[nonzero], 1.0, atol=1e-9)
    np.testing.assert_allclose(M.cosine_similarity(a, 3.5 * a)[nonzero], 1.0, atol=1e-9)


@given(vectors)
def test_l2_normalized_matches_cosine(pair):
    a, b = pair
    ok = (np.linalg.norm(a, axis=1) > 1e-3) & (np.linalg.norm(b, axis=1) > 1e-3)
    d = M.l2_distance_normalized(a, b)[ok]
    c = M.cosine_similarity(a, b)[ok]
    np.testing.assert_allclose(d, np.sqrt(np.maximum(2 - 2 * c, 0)), atol=1e-6)
    assert np.all(M.l2_distance(a, b) >= 0)
    np.testing.assert_allclose(M.l2_distance(a, a), 0.0)


@given(arrays(np.float64, (3, 4, 8), elements=st.floats(-10, 10, allow_nan=False)))
def test_distance_matrix_symmetric_zero_diagonal(e):
    d = M.cosine_distance_matrix(e)
    assert d.shape == (4, 4)
    np.testing.assert_allclose(d, d.T)
    np.testing.assert_allclose(np.diag(d), 0.0)
    assert np.all(d >= 0) and np.all(d <= 2 + 1e-9)


def test_clustering_groups_similar_views():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(5, 1, 16))
    other = rng.normal(size=(5, 1, 16))
    views = np.concatenate(
        [base, base + 0.01 * rng.normal(size=(5, 1, 16)), other, other + 0.01 * rng.normal(size=(5, 1, 16))], 1
    )
    c = M.cluster_views(M.cosine_distance_matrix(views), ["original", "a", "b", "c"])
    assert c.clusters["original"] == c.clusters["a"] != c.clusters["b"] == c.clusters["c"]
    assert sorted(c.order) == ["a", "b", "c", "original"]
    assert c.linkage.shape == (3, 4)
    ward = M.cluster_views(M.cosine_distance_matrix(views), ["original", "a", "b", "c"], method="ward")
    assert ward.method == "ward"


# ------------------------------------------------------------------ attention
def test_attention_correlation_known():
    a = np.arange(49, dtype=float).reshape(7, 7)
    assert M.attention_correlation(a, a) == pytest.approx(1.0)
    assert M.attention_correlation(a, -a) == pytest.approx(-1.0)
    assert M.attention_correlation(a, 2 * a + 5) == pytest.approx(1.0)
    assert np.isnan(M.attention_correlation(np.ones((7, 7)), a))  # undefined, never a silent 0


def test_attention_inverse_mse_known():
    a = np.zeros((2, 2))
    a[0, 0] = 1
    b = np.zeros((2, 2))
    b[1, 1] = 1
    assert M.attention_inverse_mse(a, a) == pytest.approx(1.0)
    # min-max normalised maps differ in 2 of 4 cells by 1: MSE 0.5
    assert M.attention_inverse_mse(a, b) == pytest.approx(1 / 1.5)


@given(
    arrays(np.float64, (2, 5, 5), elements=st.floats(0, 1, allow_nan=False)),
    arrays(np.float64, (2, 5, 5), elements=st.floats(0, 1, allow_nan=False)),
)
def test_attention_metric_ranges(a, b):
    r = M.attention_correlation(a, b)
    assert np.all(np.isnan(r) | ((r >= -1) & (r <= 1)))
    s = M.attention_inverse_mse(a, b)
    constant = (np.ptp(a.reshape(2, -1), axis=1) <= M.EPS) | (np.ptp(b.reshape(2, -1), axis=1) <= M.EPS)
    assert np.array_equal(np.isnan(s), constant)  # undefined exactly when a map cannot be min-max scaled
    assert np.all((s[~constant] >= 0.5) & (s[~constant] <= 1.0))
    np.testing.assert_allclose(s, M.attention_inverse_mse(b, a), equal_nan=True)


# ------------------------------------------------------------------ pixels
def _photo(seed=0, n=1, size=64):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    base = np.stack([xx * 4, yy * 4, (xx + yy) * 2], -1) % 256
    return np.stack([np.clip(base + rng.integers(-20, 20, base.shape), 0, 255).astype(np.uint8) for _ in range(n)])


def test_patch_similarity_is_float_not_wrapped():
    a = _photo(0)
    mild = np.clip(a.astype(int) + 3, 0, 255).astype(np.uint8)
    unrelated = np.random.default_rng(5).integers(0, 256, a.shape, dtype=np.uint8)
    assert M.patch_similarity(a, a)[0] == 1.0
    mild_score = M.patch_similarity(a, mild)[0]
    unrelated_score = M.patch_similarity(a, unrelated)[0]
    # the study's uint8 subtraction scored ~0.998 for both; in float they separate clearly
    assert mild_score > 0.999
    assert unrelated_score < 0.9
    # a value by hand: a constant difference of 51 grey levels is MSE 0.04 -> 1 / 1.04
    zeros = np.zeros((1, 16, 16, 3), np.uint8)
    assert M.patch_similarity(zeros, zeros + 51)[0] == pytest.approx(1 / 1.04)


def test_edge_preservation_known():
    a = _photo(1)
    assert M.edge_preservation(a, a)[0] == pytest.approx(1.0)
    flat = np.full_like(a, 128)
    assert (
        M.edge_preservation(a, flat)[0]
        < M.edge_preservation(a, np.clip(a.astype(int) + 10, 0, 255).astype(np.uint8))[0]
    )


def test_detail_preservation_known():
    a = _photo(2)
    assert M.detail_preservation(a, a)[0] == pytest.approx(1.0)
    # halving the contrast around the mean halves every patch's std: min(r, 1/r) = 0.5
    half = (a.astype(float) - 128) * 0.5 + 128
    assert M.detail_preservation(a, half.round().astype(np.uint8))[0] == pytest.approx(0.5, abs=0.02)
    flat = np.full((1, 16, 16, 3), 77, np.uint8)
    assert M.detail_preservation(flat, flat)[0] == 1.0  # nothing to lose
    assert M.detail_preservation(flat, _photo(3, size=16))[0] == 0.0  # detail invented


@settings(max_examples=30)
@given(images)
def test_pixel_metric_ranges(pair):
    a, b = pair
    for fn in (M.patch_similarity, M.edge_preservation, M.detail_preservation):
        v = fn(a, b)
        assert v.shape == (a.shape[0],)
        assert np.all((v >= 0) & (v <= 1 + 1e-12)), fn.__name__
        np.testing.assert_allclose(fn(a, a), 1.0)
    np.testing.assert_allclose(M.patch_similarity(a, b), M.patch_similarity(b, a))


def test_pixel_metrics_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape|one shape"):
        M.patch_similarity(np.zeros((1, 8, 8, 3), np.uint8), np.zeros((1, 9, 8, 3), np.uint8))


# ------------------------------------------------------------------ CKA
def test_cka_self_is_one_and_invariant():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 32))
    assert M.linear_cka(x, x) == pytest.approx(1.0)
    q, _ = np.linalg.qr(rng.normal(size=(32, 32)))
    assert M.linear_cka(x, 3 * x @ q) == pytest.approx(1.0)  # rotation and scale invariant


def test_cka_independent_is_near_zero_even_at_small_n():
    rng = np.random.default_rng(1)
    values = [float(M.linear_cka(rng.normal(size=(20, 64)), rng.normal(size=(20, 64)))) for _ in range(20)]
    assert abs(np.mean(values)) < 0.05
    assert max(abs(v) for v in values) < 0.25


@settings(max_examples=25)
@given(arrays(np.float64, (2, 8, 5), elements=st.floats(-5, 5, allow_nan=False)))
def test_cka_batched_symmetric(x):
    y = x[::-1]
    c = M.linear_cka(x, y)
    np.testing.assert_allclose(c, M.linear_cka(y, x), equal_nan=True)


# ------------------------------------------------------------------ summaries
def test_summary_known_values_and_seeded_ci():
    v = np.arange(1, 101, dtype=float)
    s = M.summarize(v, seed=3)
    assert s["mean"] == 50.5 and s["median"] == 50.5 and s["min"] == 1 and s["max"] == 100
    assert s["p05"] == pytest.approx(5.95) and s["p95"] == pytest.approx(95.05)
    assert s["ci95_low"] < 50.5 < s["ci95_high"]
    assert M.summarize(v, seed=3) == s  # same seed, same interval
    assert M.summarize(v, seed=4)["ci95_low"] != s["ci95_low"]


def test_summary_counts_undefined_values():
    s = M.summarize(np.array([1.0, np.nan, 3.0]), seed=0)
    assert s["n"] == 2 and s["n_undefined"] == 1 and s["mean"] == 2.0


@given(st.lists(st.floats(-1, 1, allow_nan=False), min_size=2, max_size=40), st.integers(0, 2**31 - 1))
@settings(max_examples=30)
def test_summary_order_and_ci_properties(values, seed):
    s = M.summarize(np.array(values), seed)
    assert s["min"] <= s["p05"] <= s["median"] <= s["p95"] <= s["max"]
    assert s["min"] - 1e-12 <= s["ci95_low"] <= s["ci95_high"] <= s["max"] + 1e-12
