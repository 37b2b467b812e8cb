"""``Tally``: a chunk's embeddings are let go when it ends unless the run keeps them (memory does not
grow with the number of images), after being folded into the views' distance sums."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_clipshift.core.cases import Case
from pytest_clipshift.core.measure.plan import make_plan
from pytest_clipshift.core.measure.settings import MeasureSettings
from pytest_clipshift.core.measure.tally import Tally
from tests.core.measure.test_cache_key_fields import encoder


@pytest.mark.parametrize("keep", [True, False])
def test_a_chunks_embeddings_are_released_unless_kept(keep):
    cases = [Case("gaussian_noise", 3), Case("gaussian_blur", 3)]
    plan = make_plan(encoder(), cases, MeasureSettings(metrics=("cosine",)))
    tally = Tally(plan, n_images=4, keep_embeddings=keep)
    rng = np.random.default_rng(0)
    for chunk in ([0, 1], [2, 3]):
        for i in chunk:
            tally.clean[i] = rng.normal(size=8).astype(np.float32)
            for p in range(len(cases)):
                tally.store(p, i, rng.normal(size=8), {"cosine": 0.5}, unchanged=False)
        tally.end_chunk(chunk)
        held = {i for store in (*tally.embeddings, tally.clean) for i in store}
        assert held == (set(range(chunk[-1] + 1)) if keep else set())
    assert tally.counted == 4 and set(tally.view_distances()) == {"s3"}
    assert (tally.embeddings_of(0) is not None) == keep and (tally.clean_embeddings() is not None) == keep


@pytest.mark.parametrize("scale", [0.01, 1.0, 50.0])
def test_view_distances_are_scipys_cosine_at_any_embedding_length(scale):
    """Embeddings come from the model unnormalised, of any length: each is normalised by its own norm
    (a floor of 1 instead of 1e-12 would leave short embeddings unnormalised)."""
    from scipy.spatial.distance import cdist

    cases = [Case("gaussian_noise", 3), Case("gaussian_blur", 3)]
    plan = make_plan(encoder(), cases, MeasureSettings(metrics=("cosine",)))
    tally = Tally(plan, n_images=3, keep_embeddings=False)
    rng = np.random.default_rng(7)
    views = rng.normal(size=(3, 3, 8)) * scale  # image, (original, noise, blur), dim
    for i in range(3):
        tally.clean[i] = views[i, 0].astype(np.float32)
        for p in range(2):
            tally.store(p, i, views[i, p + 1], {"cosine": 0.0}, unchanged=False)
    tally.end_chunk([0, 1, 2])
    stored = views.astype(np.float32).astype(np.float16).astype(np.float64)  # the results file's precision
    expected = np.mean([cdist(v, v, "cosine") for v in stored], axis=0)
    got = tally.view_distances()["s3"]
    assert got["labels"] == ["original", "gaussian_noise", "gaussian_blur"]
    np.testing.assert_allclose(got["distance"], expected, atol=1e-12)


def test_embeddings_are_kept_as_float32_whatever_the_encoder_returns():
    # float32 halves what a run keeps; an encoder of one's own may well return float64
    plan = make_plan(encoder(), [Case("gaussian_noise", 3)], MeasureSettings(metrics=("cosine",)))
    tally = Tally(plan, n_images=1, keep_embeddings=True)
    tally.store(0, 0, np.linspace(0, 1, 8), {"cosine": 0.5}, unchanged=False)
    assert tally.embeddings[0][0].dtype == np.float32
    assert tally.embeddings_of(0).dtype == np.float32
