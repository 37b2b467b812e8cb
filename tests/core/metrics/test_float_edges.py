"""Where floating point meets a formula's definition: rounding pushes cosines and correlations past
+-1, a map that varies by less than 1e-12 (or whose spread underflows) is flat, undefined values come
back NaN without a warning, and the study's upsampling runs in float32 whatever the input's dtype."""

from __future__ import annotations

import warnings

import numpy as np

from pytest_clipshift.core.metrics import functional as F

RNG = np.random.default_rng(11)


def test_cosines_stay_within_plus_and_minus_one_where_rounding_would_leave_them():
    a = RNG.normal(size=(500, 7))
    raw = np.einsum("nd,nd->n", a, -a) / (np.linalg.norm(a, axis=1) ** 2)
    assert (raw < -1).any()  # the unclipped quotient of a vector and its opposite goes past -1
    opposite, same = F.cosine_similarity(a, -a), F.cosine_similarity(a, 3 * a)
    assert opposite.min() == -1.0 and same.max() == 1.0
    np.testing.assert_allclose(opposite, -1.0, rtol=0, atol=1e-15)


def test_correlations_of_maps_and_their_affine_images_are_exactly_plus_and_minus_one_at_most():
    maps = RNG.random((500, 7, 7))
    up, down = F.attention_correlation(maps, 0.1 * maps + 0.3), F.attention_correlation(maps, -3 * maps)
    assert up.max() == 1.0 and down.min() == -1.0
    np.testing.assert_allclose(up, 1.0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(down, -1.0, rtol=0, atol=1e-15)


def test_undefined_attention_numbers_are_nan_without_a_runtime_warning():
    varied = np.array([[0.1, 0.5], [0.2, 0.9]])
    constant = np.ones((2, 2))
    tiny = np.array([[1e-170, -1e-170], [2e-170, 0.0]])  # its squared spread underflows to 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a user's run with -W error must not crash on a flat map
        assert np.isnan(F.attention_correlation(constant, varied))
        assert np.isnan(F.attention_correlation(tiny, varied))
        assert np.isnan(F.attention_inverse_mse(constant, varied))


def test_a_map_that_varies_by_at_most_1e_12_is_flat():
    varied = np.array([[0.1, 0.5], [0.2, 0.9]])
    for flat in (np.array([[0.0, 1e-12], [0.0, 0.0]]), np.array([[0.5, 0.5 + 1e-13], [0.5, 0.5]])):
        assert np.isnan(F.attention_inverse_mse(flat, varied))
    assert np.isfinite(F.attention_inverse_mse(np.array([[0.0, 1e-11], [0.0, 0.0]]), varied))


def test_the_studys_upsampling_is_in_float32_whatever_the_maps_dtype():
    import cv2

    a, b = RNG.random((2, 3, 3)), RNG.random((2, 3, 3))  # float64, as a user's own maps may be
    expected = []
    for x, y in zip(a, b):  # the study's maps came from torch in float32
        x = cv2.resize(x.astype(np.float32), (12, 9)).astype(np.float64)
        y = cv2.resize(y.astype(np.float32), (12, 9)).astype(np.float64)
        x, y = (x - x.min()) / (x.max() - x.min()), (y - y.min()) / (y.max() - y.min())
        expected.append(1 / (1 + np.mean((x - y) ** 2)))
    np.testing.assert_allclose(F.attention_inverse_mse_study(a, b, (12, 9)), expected, rtol=1e-13, atol=0)
