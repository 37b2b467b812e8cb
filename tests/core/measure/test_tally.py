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
