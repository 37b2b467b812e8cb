"""The divergence radius: the smallest ball enclosing an image's K augmented embeddings,
exact on constructed point sets, and seeded draws through the engine and the plugin."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_clipshift.core.metrics import functional as F


@pytest.mark.parametrize(
    "points, radius",
    [
        ([[0, 0], [2, 0]], 1.0),  # two points: half their distance
        ([[0, 0], [4, 0], [2, 0.5]], 2.0),  # obtuse triangle: half its longest side
        ([[0, 0], [1, 0], [0.5, math.sqrt(3) / 2]], 1 / math.sqrt(3)),  # equilateral: its circumradius
        ([[1, 2, 3]] * 4, 0.0),  # one point drawn four times
        (np.eye(16).tolist(), math.sqrt(15 / 16)),  # regular simplex in 16-d: sqrt((K-1)/K)
    ],
)
def test_known_answers(points, radius):
    assert F.enclosing_ball_radius(np.array(points, float)) == pytest.approx(radius, abs=1e-9)


def brute_force_2d(points: np.ndarray) -> float:
    """The classic exact answer in the plane: the smallest of the circles through 2 or 3 of the
    points (as diameter or circumcircle) that contain them all."""
    best = math.inf
    candidates = []
    for a, b in itertools.combinations(points, 2):
        candidates.append(((a + b) / 2, np.linalg.norm(a - b) / 2))
    for a, b, c in itertools.combinations(points, 3):
        d = 2 * (a[0] * (b[1] - c[1]) + b[0] * (c[1] - a[1]) + c[0] * (a[1] - b[1]))
        if abs(d) < 1e-12:
            continue
        ux = ((a @ a) * (b[1] - c[1]) + (b @ b) * (c[1] - a[1]) + (c @ c) * (a[1] - b[1])) / d
        uy = ((a @ a) * (c[0] - b[0]) + (b @ b) * (a[0] - c[0]) + (c @ c) * (b[0] - a[0])) / d
        centre = np.array([ux, uy])
        candidates.append((centre, np.linalg.norm(a - centre)))
    for centre, r in candidates:
        if np.all(np.linalg.norm(points - centre, axis=1) <= r + 1e-9):
            best = min(best, r)
    return best


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-10, 10), st.floats(-10, 10)), min_size=2, max_size=7, unique=True))
def test_equals_the_brute_force_circle_in_the_plane(raw):
    points = np.array(raw)
    if np.ptp(points, axis=0).max() < 1e-3:
        return
    assert F.enclosing_ball_radius(points) == pytest.approx(brute_force_2d(points), abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 16), st.integers(0, 10_000), st.floats(1e-4, 1.0))
def test_in_high_dimension_it_encloses_every_point_and_no_smaller_ball_does(k, seed, spread):
    rng = np.random.default_rng(seed)
    points = F.unit(F.unit(rng.normal(size=(1, 64))) + spread * rng.normal(size=(k, 64)))
    r = F.enclosing_ball_radius(points)
    diameter = max(np.linalg.norm(a - b) for a, b in itertools.combinations(points, 2))
    assert diameter / 2 - 1e-9 <= r <= diameter / math.sqrt(3) * math.sqrt(2) + 1e-9  # Jung's bound


def test_draws_are_seeded_and_the_radius_grows_with_severity(tiny_clip_dir, small_images):
    from pytest_clipshift.core.measure.engine import measure
    from pytest_clipshift.core.models.encoders import load_encoder

    encoder = load_encoder(str(tiny_clip_dir), "cpu")
    images = small_images.subset(max_images=3)
    kwargs = dict(severities=[1, 5], metrics=["cosine", "divergence_radius"], draws=4, seed=2)
    run = measure(encoder, images, ["identity", "gaussian_noise"], **kwargs)
    again = measure(encoder, images, ["identity", "gaussian_noise"], **kwargs)
    mild, strong = run.get("gaussian_noise", 1), run.get("gaussian_noise", 5)
    assert np.array_equal(
        strong.values["divergence_radius"], again.get("gaussian_noise", 5).values["divergence_radius"]
    )
    assert np.all(run.get("identity", 1).values["divergence_radius"] == 0)  # identity draws nothing
    assert strong.stat("divergence_radius", "mean") > mild.stat("divergence_radius", "mean") > 0
    # draw 0 is the case's own: taking more draws leaves its other numbers unchanged
    single = measure(encoder, images, ["gaussian_noise"], severities=[5], metrics=["cosine"], seed=2)
    assert np.array_equal(single.get("gaussian_noise", 5).values["cosine"], strong.values["cosine"])
    assert run.settings["draws"] == 4 and [c[0] for c in run.settings["pairs"]].count("gaussian_noise") == 2
    with pytest.raises(Exception, match="divergence_radius needs at least 2 draws"):
        measure(encoder, images, ["gaussian_noise"], metrics=["divergence_radius"])


def test_draws_through_the_plugin(pytester, tiny_clip_dir, small_images):
    from tests.conftest import make_user_project

    project = make_user_project(
        pytester,
        tiny_clip_dir,
        small_images,
        '[settings]\naugmentations = ["identity", "gaussian_blur"]\n[defaults]\n"divergence_radius.mean" = "<= 0.5"\n',
        2,
        "clipshift_no_cache = true\n",
    )
    result = project.runpytest(
        "--clipshift", "--clipshift-budgets=budgets.toml", "--clipshift-draws=3", "--clipshift-json=out.json"
    )
    result.assert_outcomes(passed=2)
    data = json.loads((project.path / "out.json").read_text())
    assert data["settings"]["draws"] == 3
    blur = next(r for r in data["results"] if r["augmentation"] == "gaussian_blur")
    assert blur["metrics"]["divergence_radius"]["mean"] > 0
    missing = project.runpytest("--clipshift", "--clipshift-budgets=budgets.toml")
    assert (
        missing.ret == 4
        and "divergence_radius (named by --clipshift-metrics or a budget) needs at least 2 draws"
        in missing.stderr.str()
    )


@pytest.mark.parametrize(
    "points,radius",
    [
        ([(0.0, 0.0), (5.0, 0.0), (1e-7, 0.0)], 2.5),  # collinear, two points 1e-7 apart
        ([(0.0, 0.0), (0.0, 0.0), (3.0, 4.0)], 2.5),  # an exact duplicate
        ([(1.0, 0.0), (1.0 + 1e-9, 0.0), (-1.0, 0.0), (0.0, 1.0 - 1e-12)], 1.0),
    ],
)
def test_near_duplicate_points_have_an_exact_ball(points, radius):
    """Draws of an augmentation that barely moves differ only by batch rounding (~3e-6): the solver
    must give the exact ball there, not stall (it raised ArithmeticError on the first case)."""
    assert F.enclosing_ball_radius(np.array(points)) == pytest.approx(radius, abs=1e-9)


def test_near_duplicate_unit_vectors_in_16_dimensions():
    rng = np.random.default_rng(1)
    a = F.unit(rng.normal(size=16))
    b = F.unit(a + 1e-7 * rng.normal(size=16))
    c = F.unit(rng.normal(size=16))
    r = F.enclosing_ball_radius(np.stack([a, b, c]))
    assert np.linalg.norm(a - c) / 2 - 1e-9 <= r <= np.linalg.norm(a - c) / 2 + 1e-6


def test_agrees_with_the_miniball_package_on_random_clouds():
    """An independent implementation (Welzl's algorithm, the miniball package) as the reference."""
    miniball = pytest.importorskip("miniball")
    worst = 0.0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        points = rng.normal(size=(int(rng.integers(2, 16)), int(rng.integers(2, 6))))
        _, r2 = miniball.get_bounding_ball(points, rng=np.random.default_rng(0))
        worst = max(worst, abs(F.enclosing_ball_radius(points) - math.sqrt(r2)))
    assert worst < 1e-9


def _unit_frame(points):
    """The frame ``enclosing_ball_radius`` hands its exact fallback: centred, unit spread, and Gram."""
    p = np.asarray(points, np.float64)
    p = p - p.mean(axis=0)
    p = p / np.sqrt((p**2).sum(axis=1).max())
    gram = p @ p.T
    return p, np.diag(gram).copy(), gram


def test_the_exact_fallback_gives_miniballs_ball_and_a_certificate_that_meets_it():
    """Welzl's ball (the fallback when SLSQP stalls) against the miniball package: the same squared
    radius, and a dual value from its support's weights that is a lower bound meeting it (the
    certificate the caller trusts); on a square one corner's weight is zero and still certifies."""
    miniball = pytest.importorskip("miniball")
    clouds = [np.random.default_rng(seed).normal(size=(3 + seed % 9, 2 + seed % 4)) for seed in range(60)]
    clouds += [np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])]  # four on one circle
    clouds += [np.array([[0.0, 0.0], [0.0, 0.0], [3.0, 4.0], [1.0, 1.0]])]  # a duplicate inside
    # a corner just outside the right angle's circle: in the support with a weight of 2e-10, which certifies
    clouds += [np.array([[1.0, 0.0], [0.0, 1.0], [-1e-10, -1e-10], [0.5, 0.4]])]
    for points in clouds:
        p, norms, gram = _unit_frame(points)
        _, expected = miniball.get_bounding_ball(p, rng=np.random.default_rng(0))
        primal, dual = F._welzl_certified(p, norms, gram)
        assert primal == pytest.approx(expected, abs=1e-10)
        assert dual <= primal + 1e-12 and dual == pytest.approx(primal, abs=1e-10), (points, primal, dual)


def test_the_metric_takes_each_draws_direction_at_full_precision():
    """divergence_radius on the float32 embeddings a run keeps: each row scaled to length 1 in float64,
    then miniball's radius; a draw's length does not count."""
    miniball = pytest.importorskip("miniball")
    from pytest_clipshift.core.metrics import METRICS

    rng = np.random.default_rng(5)
    points = (rng.normal(size=(5, 16)) * 0.05 + rng.normal(size=16)).astype(np.float32)
    rows = points.astype(np.float64)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    _, r2 = miniball.get_bounding_ball(rows, rng=np.random.default_rng(0))
    metric = METRICS["divergence_radius"]
    assert metric.across_draws(points) == pytest.approx(math.sqrt(r2), abs=1e-12)
    lengths = np.array([[0.5], [2.0], [1.0], [7.0], [0.1]])
    assert metric.across_draws(points.astype(np.float64) * lengths) == pytest.approx(math.sqrt(r2), abs=1e-12)


def test_a_tight_cloud_far_from_the_origin_and_float32_points_keep_full_precision():
    """Centred before it is solved: a cloud 1e-5 wide at distance 100 has miniball's radius of the
    same cloud at the origin (the radius does not move with the cloud); float32 input is solved in
    float64."""
    miniball = pytest.importorskip("miniball")
    rng = np.random.default_rng(0)
    direction = rng.normal(size=16)
    cloud = rng.normal(size=(6, 16)) * 1e-5
    _, r2 = miniball.get_bounding_ball(cloud, rng=np.random.default_rng(0))
    far = F.enclosing_ball_radius(100 * direction / np.linalg.norm(direction) + cloud)
    assert far == pytest.approx(math.sqrt(r2), rel=1e-9)
    single = rng.normal(size=(5, 8)).astype(np.float32)
    assert F.enclosing_ball_radius(single) == pytest.approx(
        F.enclosing_ball_radius(single.astype(np.float64)), abs=1e-15
    )


def test_slsqp_alone_solves_typical_clouds_without_the_exact_fallback(monkeypatch):
    """The fallback is for near-degenerate clouds (near-duplicate draws) only: on typical clouds of
    draws, the solver's own answer already meets miniball's and its certificate."""
    miniball = pytest.importorskip("miniball")

    def no_fallback(*args):
        raise AssertionError("the exact fallback was needed")

    monkeypatch.setattr(F, "_welzl_certified", no_fallback)
    for seed in range(20):
        rng = np.random.default_rng(seed)
        points = rng.normal(size=(2 + seed % 7, 3 + seed % 13)) * (1 + seed)
        _, r2 = miniball.get_bounding_ball(points, rng=np.random.default_rng(0))
        assert F.enclosing_ball_radius(points) == pytest.approx(math.sqrt(r2), rel=1e-8), seed


def _first_start_stalls(monkeypatch):
    """SLSQP stopping where its first start began (the uniform weights), as a stalled solve does."""
    import scipy.optimize

    solve, calls = scipy.optimize.minimize, []

    def stalled_once(fun, x0, **kwargs):
        out = solve(fun, x0, **kwargs)
        calls.append(1)
        if len(calls) == 1:
            out.x = np.array(x0, float)
        return out

    monkeypatch.setattr(scipy.optimize, "minimize", stalled_once)
    return calls


def test_when_the_first_start_stalls_the_second_starts_ball_and_the_best_certificate_are_kept(monkeypatch):
    """Two starts, and each keeps what it proves: the smaller radius, and the larger dual bound. A
    stalled start at the centroid of an uneven cloud has a larger radius (the second start's is
    kept); at the centroid of a symmetric cloud it has the right centre but, with weight on the
    inner points, a weak bound (the second start's bound certifies it)."""
    miniball = pytest.importorskip("miniball")
    calls = _first_start_stalls(monkeypatch)
    uneven = np.random.default_rng(4).normal(size=(7, 3)) ** 2
    _, r2 = miniball.get_bounding_ball(uneven, rng=np.random.default_rng(0))
    assert F.enclosing_ball_radius(uneven) == pytest.approx(math.sqrt(r2), abs=1e-12)
    calls.clear()
    corners = [[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]]
    inner = [[0.3, 0.0], [-0.3, 0.0], [0.0, 0.3], [0.0, -0.3]]
    assert F.enclosing_ball_radius(np.array(corners + inner)) == pytest.approx(math.sqrt(2), abs=1e-12)


@pytest.mark.parametrize("low, certified", [(-5e-10, True), (-2e-9, False)])
def test_the_fallbacks_certificate_comes_from_weights_on_the_simplex_or_not_at_all(monkeypatch, low, certified):
    """Rounding can leave a support weight just below 0. Down to -1e-9 the weights are clipped to the
    simplex, whose dual value is a lower bound (weak duality); below that the support proves nothing:
    no certificate (-inf), never a bound computed from weights off the simplex."""
    circumsphere = F._circumsphere

    def rounded(points):
        centre, weights = circumsphere(points)
        if len(weights) >= 2:  # move weight from the first support point to the second: first = low
            weights = weights + np.r_[low - weights[0], weights[0] - low, np.zeros(len(weights) - 2)]
        return centre, weights

    monkeypatch.setattr(F, "_circumsphere", rounded)
    p, norms, gram = _unit_frame(np.array([[0.0, 0.0], [4.0, 0.0], [2.0, 0.5]]))  # support: the long side
    primal, dual = F._welzl_certified(p, norms, gram)
    assert primal == pytest.approx(((p[0] - p[1]) ** 2).sum() / 4, abs=1e-12)  # the centre is kept: half the long side
    # the support's weights (low, 1 - low) clipped to (0, 1 - low) and normalised: all on one end,
    # whose dual value is 0, a sound (weak) lower bound; unclipped or not normalised it is not 0
    assert dual == (pytest.approx(0.0, abs=1e-15) if certified else -np.inf)


def test_polished_weights_are_a_point_of_the_simplex():
    """The exact weights on a support with a point just inside the others' circle: its barycentric
    weight is (r^2 - 1) / (2 r^2) = -5e-10, within rounding of 0, so they are kept, clipped to 0 and
    scaled to sum to 1, the only weights whose dual value is a lower bound."""
    r = 1 / math.sqrt(1 + 1e-9)
    p, norms, gram = _unit_frame(np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, r]]))
    w = F._polish(np.full(3, 1 / 3), gram, norms)
    assert w.min() == 0.0 and w[2] == 0.0
    assert abs(w.sum() - 1.0) <= 2e-16


def test_solver_weights_off_the_simplex_are_put_back_on_it_before_any_bound_is_taken(monkeypatch):
    """SLSQP may return weights slightly off the simplex. Taken as they are, a negative weight on a
    near point and a sum above 1 make a dual value above the true squared radius: a false
    certificate for a ball too large. Clipped and normalised they give a sound bound, which does
    not meet the wrong ball, so the exact fallback decides: the radius stays 1."""
    import scipy.optimize

    solve = scipy.optimize.minimize
    off_simplex = np.array([0.5, 0.5, -0.1, 0.1])  # sums to 1, one weight negative

    def returns_off_simplex(fun, x0, **kwargs):
        out = solve(fun, x0, **kwargs)
        out.x = off_simplex * 1.01  # and sums to 1.01
        return out

    monkeypatch.setattr(scipy.optimize, "minimize", returns_off_simplex)
    points = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 0.1], [0.0, -0.2]])
    assert F.enclosing_ball_radius(points) == pytest.approx(1.0, abs=1e-12)
