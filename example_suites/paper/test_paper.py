"""The study's measurements: nine augmentations at its parameters, every metric, the dendrogram
(average linkage on cosine distances, and the study's Ward for comparison), and a ranking."""

import json
from pathlib import Path

import numpy as np

from pytest_clipshift import STUDY_AUGMENTATIONS
from pytest_clipshift.core.metrics import cluster_views, cosine_distance_matrix

OUT = Path(__file__).parent


def test_each_augmentation_at_the_study_parameters(clipshift, augmentation):
    """One item per augmentation (identity included): all metrics measured, none undefined for all images."""
    result = clipshift.measure(augmentation)
    for metric in (
        "cosine",
        "l2",
        "attention_correlation",
        "attention_inverse_mse_raw",
        "patch_similarity",
        "edge_preservation",
        "detail_preservation",
    ):
        assert result.summary(metric)["n"] == result.n_images, metric
    if augmentation.name == "identity":
        assert result.stat("cosine", "min") > 0.9999  # the noise floor


def test_ranking_and_dendrogram(clipshift):
    results = [clipshift.measure(name, "paper") for name in STUDY_AUGMENTATIONS]
    ranking = sorted(((r.augmentation, r.stat("cosine", "mean")) for r in results), key=lambda kv: kv[1])
    clean = clipshift.measure("identity", "paper").embeddings  # preprocessing only: the clean embeddings
    views = np.stack([clean] + [r.embeddings for r in results], axis=1)
    labels = ["original", *STUDY_AUGMENTATIONS]
    average = cluster_views(cosine_distance_matrix(views), labels, "average")
    ward = cluster_views(cosine_distance_matrix(views), labels, "ward")
    summary = {
        "model": clipshift.model.info["name"],
        "seed": clipshift.seed,
        "images": len(clipshift.images),
        "ranking_most_shift_first": ranking,
        "dendrogram_order_average": average.order,
        "clusters_average": average.clusters,
        "dendrogram_order_ward": ward.order,
        "clusters_ward": ward.clusters,
        # the study's findings, to read against: most shift from noise, then perspective and
        # shift-scale-rotate; least from brightness-contrast, horizontal flip and elastic
    }
    (OUT / "paper-summary.json").write_text(json.dumps(summary, indent=2))
    assert len(ranking) == 9 and sorted(average.labels) == sorted(labels)
