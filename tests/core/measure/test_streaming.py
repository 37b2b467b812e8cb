"""Flat memory: a run that keeps no embeddings streams the views' distances chunk by chunk and
computes the metrics across draws per chunk; its numbers equal the run that keeps them all."""

from __future__ import annotations

import numpy as np

from pytest_clipshift.core.measure.engine import measure
from pytest_clipshift.core.metrics import cosine_distance_matrix
from pytest_clipshift.core.runs.results import RunResult

AUGS = ["identity", "gaussian_noise", "gaussian_blur", "horizontal_flip", "color_jitter"]


def both(tiny_encoder, small_images, **options):
    kwargs = dict(
        severities=[1, 3], chunk_size=4, draws=2, metrics=["cosine", "attention_correlation", "divergence_radius"]
    )
    kept = measure(tiny_encoder, small_images, AUGS, keep_embeddings=True, **kwargs, **options)
    streamed = measure(tiny_encoder, small_images, AUGS, keep_embeddings=False, **kwargs, **options)
    return kept, streamed


def test_streamed_results_equal_the_kept_embedding_results(tiny_encoder, small_images, tmp_path):
    kept, streamed = both(tiny_encoder, small_images)  # 6 images in chunks of 4: a boundary is crossed
    assert streamed.clean_embeddings is None and all(r.embeddings is None for r in streamed.results)
    for a, b in zip(kept.results, streamed.results):
        assert a.key == b.key and set(a.values) == set(b.values)
        for metric in a.values:
            np.testing.assert_array_equal(a.values[metric], b.values[metric], err_msg=f"{a.key} {metric}")
    for severity in (1, 3):
        views = [r for r in kept.results if r.severity == severity and r.augmentation != "identity"]
        stack = np.stack([kept.clean_embeddings] + [r.embeddings for r in views], axis=1).astype(np.float16)
        np.testing.assert_allclose(
            streamed.view_distances[f"s{severity}"]["distance"], cosine_distance_matrix(stack), atol=1e-6
        )
        a, b = kept.clustering(severity), streamed.clustering(severity)
        assert (a.labels, a.order, a.clusters) == (b.labels, b.order, b.clusters)
        np.testing.assert_allclose(a.linkage, b.linkage, atol=1e-6)
    streamed.write_json(tmp_path / "run.json")
    again = RunResult.read_json(tmp_path / "run.json")  # a file without embeddings clusters from its own table
    assert again.clustering(3).order == streamed.clustering(3).order


def test_streamed_distances_cover_every_image_of_every_chunk(tiny_encoder, small_images):
    one = measure(tiny_encoder, small_images, AUGS, chunk_size=64, keep_embeddings=False)
    many = measure(tiny_encoder, small_images, AUGS, chunk_size=1, keep_embeddings=False)
    np.testing.assert_allclose(one.view_distances["s3"]["distance"], many.view_distances["s3"]["distance"], atol=1e-6)
    assert one.view_distances["s3"]["labels"] == ["original", *AUGS[1:]]
