"""The batch size changes values only in the last bits, and keys the cache."""

from __future__ import annotations

import numpy as np

from pytest_clipshift.core.measure.engine import measure


def test_batch_size_changes_values_only_in_the_last_bits_and_keys_the_cache(tiny_encoder, small_images, tmp_path):
    from pytest_clipshift.core.measure.cache import EmbeddingCache

    kwargs = dict(severities=[3], metrics=["cosine", "attention_correlation"], seed=0)
    a = measure(tiny_encoder, small_images, ["gaussian_noise"], batch_size=2, **kwargs).get("gaussian_noise", 3)
    b = measure(tiny_encoder, small_images, ["gaussian_noise"], batch_size=6, **kwargs).get("gaussian_noise", 3)
    np.testing.assert_allclose(a.values["cosine"], b.values["cosine"], atol=1e-5)  # the documented tolerance
    cache = EmbeddingCache(tmp_path / "cache")
    measure(tiny_encoder, small_images, ["gaussian_noise"], batch_size=2, cache=cache, **kwargs)
    measure(tiny_encoder, small_images, ["gaussian_noise"], batch_size=6, cache=cache, **kwargs)
    assert cache.hits == 0  # another batch size is another key
    hit = measure(tiny_encoder, small_images, ["gaussian_noise"], batch_size=6, cache=cache, **kwargs)
    assert cache.hits > 0
    np.testing.assert_array_equal(
        hit.get("gaussian_noise", 3).values["cosine"],
        measure(tiny_encoder, small_images, ["gaussian_noise"], batch_size=6, **kwargs)
        .get("gaussian_noise", 3)
        .values["cosine"],
    )
