"""Known answers for the view clustering (every linkage against scipy on the documented input, the
cut, the leaf order, the stored record) and for the pieces of the enclosing-ball solver that decide
its number: the exact weights on a support, one point, one repeated point."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.cluster.hierarchy import dendrogram, fcluster, linkage
from scipy.spatial.distance import squareform

from pytest_clipshift.core.errors import ConfigError
from pytest_clipshift.core.metrics import functional as F

LABELS = list("abcdef")


def views(seed=3, images=7, count=6, dim=10):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(images, count, dim))


@pytest.mark.parametrize("method", ["average", "complete", "single", "weighted", "ward", "centroid", "median"])
def test_every_linkage_is_scipys_on_the_documented_distances(method):
    d = F.cosine_distance_matrix(views())
    euclidean = method in F.EUCLIDEAN_LINKAGES
    reference = linkage(squareform(np.sqrt(2 * d) if euclidean else d, checks=False), method=method)
    got = F.cluster_views(d, LABELS, method=method)
    np.testing.assert_allclose(got.linkage, reference, rtol=1e-12, atol=1e-15)
    cut = 0.7 * reference[-1, 2]
    assert got.cut_height == pytest.approx(cut, rel=1e-12)
    ids = fcluster(reference, t=cut, criterion="distance")
    assert got.clusters == {lab: int(i) for lab, i in zip(LABELS, ids)}
    assert got.order == [LABELS[i] for i in dendrogram(reference, no_plot=True)["leaves"]]
    assert got.method == method and np.array_equal(got.distance, d)


def test_the_cut_fraction_moves_the_cut_and_the_clusters():
    d = F.cosine_distance_matrix(views())
    coarse, fine = F.cluster_views(d, LABELS, cut_fraction=0.99), F.cluster_views(d, LABELS, cut_fraction=0.01)
    top = coarse.linkage[-1, 2]
    assert coarse.cut_height == pytest.approx(0.99 * top) and fine.cut_height == pytest.approx(0.01 * top)
    assert len(set(coarse.clusters.values())) == 2  # just under the top merge: its two branches
    assert len(set(fine.clusters.values())) == len(LABELS)  # under the lowest merge: every view alone


def test_the_euclidean_linkages_see_sqrt_2d_not_d():
    """sqrt(2 D) is not a monotone rescaling for ward: heights and merge order would differ on D."""
    d = F.cosine_distance_matrix(views(seed=5))
    ward = F.cluster_views(d, LABELS, method="ward")
    assert not np.allclose(ward.linkage[:, 2], linkage(squareform(d, checks=False), method="ward")[:, 2])
    average = F.cluster_views(d, LABELS, method="average")
    np.testing.assert_allclose(average.linkage[:, 2], linkage(squareform(d, checks=False), "average")[:, 2])


def test_two_views_cluster_and_one_or_an_unknown_method_is_refused():
    d = F.cosine_distance_matrix(views(count=2))
    two = F.cluster_views(d, ["a", "b"])
    assert two.linkage.shape == (1, 4) and two.linkage[0, 2] == pytest.approx(d[0, 1])
    with pytest.raises(ConfigError, match="at least two views"):
        F.cluster_views(np.zeros((1, 1)), ["a"])
    with pytest.raises(ConfigError, match="unknown linkage method 'wards'; valid: average, complete, single"):
        F.cluster_views(d, ["a", "b"], method="wards")


def test_negative_rounding_in_d_is_clamped_before_the_square_root():
    d = np.array([[0.0, -1e-17, 0.5], [-1e-17, 0.0, 0.5], [0.5, 0.5, 0.0]])
    ward = F.cluster_views(d, ["a", "b", "c"], method="ward")
    assert np.all(np.isfinite(ward.linkage)) and ward.linkage[0, 2] == 0.0


def test_the_stored_clustering_record():
    d = F.cosine_distance_matrix(views())
    c = F.cluster_views(d, LABELS)
    record = c.to_dict()
    assert list(record) == ["labels", "distance", "linkage", "method", "order", "clusters", "cut_height"]
    assert record["labels"] == LABELS and record["method"] == "average" and record["order"] == c.order
    assert record["distance"] == np.round(d, 6).tolist() and record["linkage"] == np.round(c.linkage, 6).tolist()
    assert record["clusters"] == c.clusters and record["cut_height"] == round(c.cut_height, 6)


def test_the_distance_matrix_is_float64_whatever_comes_in():
    e = views().astype(np.float16)
    got = F.cosine_distance_matrix(e)
    expected = F.cosine_distance_matrix(e.astype(np.float64))
    assert got.dtype == np.float64 and np.array_equal(got, expected)
    assert F.unit(np.array([[3, 4]], np.int64)).tolist() == [[0.6, 0.8]]


# ---------------------------------------------------------------- the enclosing ball


def test_one_point_and_one_repeated_point_have_radius_zero():
    assert F.enclosing_ball_radius(np.array([[3.0, -1.0, 2.0]])) == 0.0
    assert F.enclosing_ball_radius(np.full((5, 3), 7.0)) == 0.0


def test_the_radius_does_not_depend_on_where_the_cloud_sits_or_on_its_scale():
    rng = np.random.default_rng(4)
    p = rng.normal(size=(9, 5))
    r = F.enclosing_ball_radius(p)
    assert F.enclosing_ball_radius(p + 1e3) == pytest.approx(r, rel=1e-9)
    assert F.enclosing_ball_radius(1e-4 * p) == pytest.approx(1e-4 * r, rel=1e-9)


def polish_inputs(points):
    p = np.asarray(points, float)
    gram = p @ p.T
    return gram, np.diag(gram).copy()


def test_polish_gives_the_exact_weights_of_the_circumcentre():
    """Equilateral triangle: the centre is the centroid, weights 1/3 each, from a rough start."""
    tri = np.array([[1.0, 0.0], [-0.5, math.sqrt(3) / 2], [-0.5, -math.sqrt(3) / 2]])
    gram, norms = polish_inputs(tri)
    w = F._polish(np.array([0.30, 0.33, 0.37]), gram, norms)
    np.testing.assert_allclose(w, [1 / 3] * 3, atol=1e-14)
    # a right triangle's circumcentre is the hypotenuse's midpoint: weight 0 on the right angle
    right = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]]) - [2 / 3, 2 / 3]
    gram, norms = polish_inputs(right)
    np.testing.assert_allclose(F._polish(np.array([0.2, 0.4, 0.4]), gram, norms), [0, 0.5, 0.5], atol=1e-12)


def test_polish_uses_only_the_support_and_keeps_the_start_when_the_exact_weights_go_negative():
    seg = np.array([[-1.0, 0.0], [1.0, 0.0], [0.1, 0.2]])
    gram, norms = polish_inputs(seg)
    got = F._polish(np.array([0.4, 0.6, 1e-9]), gram, norms)  # the third weight is below 1e-7 x max
    np.testing.assert_allclose(got, [0.5, 0.5, 0.0], atol=1e-14)
    # an obtuse triangle: the circumcentre lies outside, one exact weight is negative -> start kept
    obtuse = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 0.3]])
    gram, norms = polish_inputs(obtuse)
    start = np.array([0.45, 0.45, 0.10])
    assert F._polish(start, gram, norms) is start


# ---------------------------------------------------------------- CKA


def test_unbiased_cka_needs_four_samples_and_takes_exactly_four():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 5))
    assert np.isfinite(F.linear_cka(x, y))
    with pytest.raises(ValueError, match="at least 4 samples, got 3"):
        F.linear_cka(x[:3], y[:3])


def test_cka_of_a_constant_representation_is_undefined_not_a_number():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(6, 3))
    with np.errstate(all="raise"):
        assert np.isnan(F.linear_cka(x, np.zeros((6, 3))))
