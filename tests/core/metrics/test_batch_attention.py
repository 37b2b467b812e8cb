"""``Batch.attention``: the maps of the layer and head asked for, the clean map moved into the
augmented frame by default (a horizontal flip mirrors it), as they were without ``aligned``."""

from __future__ import annotations

import numpy as np

from pytest_clipshift.core.augment.types import coordinate_grid
from pytest_clipshift.core.metrics import Batch


def batch_with_heads():
    rng = np.random.default_rng(0)
    clean_heads, augmented_heads = rng.random((2, 2, 2, 3, 4, 4))  # image, layer, head, cell rows, cell columns
    flip = coordinate_grid(32, 32)
    flip[..., 0] = 31 - flip[..., 0]  # each pixel comes from its mirror image
    return Batch(
        clean_embeddings=np.ones((2, 4)),
        augmented_embeddings=np.ones((2, 4)),
        clean_images=np.zeros((2, 32, 32, 3), np.uint8),
        augmented_images=np.zeros((2, 32, 32, 3), np.uint8),
        coords=[flip, None],
        augmentations=["horizontal_flip", "gaussian_noise"],
        image_names=["a", "b"],
        clean_attention=clean_heads.mean(axis=2),
        augmented_attention=augmented_heads.mean(axis=2),
        clean_heads=clean_heads,
        augmented_heads=augmented_heads,
        grid=(4, 4),
    )


def test_a_heads_maps_are_its_own_and_the_clean_one_follows_the_flip():
    batch = batch_with_heads()
    for layer in (1, 2):
        for head in (1, 2):
            clean, augmented = batch.attention(layer, head=head)
            own = batch.clean_heads[:, layer - 1, head - 1]
            np.testing.assert_array_equal(augmented, batch.augmented_heads[:, layer - 1, head - 1])
            np.testing.assert_allclose(clean[0], own[0][:, ::-1], atol=1e-12)  # mirrored by the flip
            np.testing.assert_array_equal(clean[1], own[1])  # not geometric: as it was
            raw, _ = batch.attention(layer, aligned=False, head=head)
            np.testing.assert_array_equal(raw, own)


def test_without_a_head_the_maps_are_the_heads_averaged_at_the_last_layer_by_default():
    batch = batch_with_heads()
    clean, augmented = batch.attention()
    np.testing.assert_allclose(clean[0], batch.clean_heads[0, 1].mean(axis=0)[:, ::-1], atol=1e-12)
    np.testing.assert_array_equal(augmented, batch.augmented_attention[:, 1])


def test_a_metric_at_one_head_reads_that_heads_maps_at_that_layer():
    from pytest_clipshift.core.metrics import METRICS
    from pytest_clipshift.core.metrics import functional as F

    batch = batch_with_heads()
    metric = METRICS["attention_correlation"]
    for layer, head in ((1, 2), (2, 1)):
        clean, augmented = batch.attention(layer, head=head)
        expected = F.attention_correlation(clean, augmented)
        got = metric.values(batch, layer, head)
        assert got.dtype == np.float64 and got.shape == (2,)
        np.testing.assert_array_equal(got, expected)
    assert not np.allclose(metric.values(batch, 1, 2), metric.values(batch, 2, 1))
