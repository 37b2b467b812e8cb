"""What a ``Batch`` hands a metric: the rows' names and augmentations, the sink threshold a run uses,
the device, and the scorer's cached edge maps and text scores in place of computing them again."""

from __future__ import annotations

import numpy as np
import torch

from pytest_clipshift.core.measure.settings import MeasureSettings
from pytest_clipshift.core.metrics import Batch
from pytest_clipshift.core.metrics import functional as F


def make_batch(**extra):
    rng = np.random.default_rng(3)
    clean = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    augmented = np.clip(clean.astype(int) + rng.integers(-40, 41, clean.shape), 0, 255).astype(np.uint8)
    fields = dict(
        clean_embeddings=rng.normal(size=(2, 4)),
        augmented_embeddings=rng.normal(size=(2, 4)),
        clean_images=clean,
        augmented_images=augmented,
        coords=iter([None, None]),
        augmentations=(a for a in ("gaussian_noise", "gaussian_noise")),
        image_names=(n for n in ("cat.png", "dog.png")),
    )
    fields.update(extra)
    return Batch(**fields)


def test_the_rows_names_and_augmentations_are_kept_as_lists_in_row_order():
    batch = make_batch()  # given as generators: read once, kept
    assert batch.image_names == ["cat.png", "dog.png"]
    assert batch.augmentations == ["gaussian_noise", "gaussian_noise"]
    assert batch.coords == [None, None]


def test_a_batch_built_by_hand_judges_sinks_with_the_runs_default_threshold():
    assert make_batch().sink_factor == MeasureSettings().sink_factor == 10.0
    assert make_batch(sink_factor=4.0).sink_factor == 4.0


def test_the_device_decides_whether_pixel_metrics_run_in_torch():
    assert not make_batch().on_cuda
    assert not make_batch(device=torch.device("cpu")).on_cuda
    assert make_batch(device=torch.device("cuda")).on_cuda  # a device object needs no GPU to exist


def test_torch_pixel_metrics_compute_the_names_asked_on_the_batchs_device():
    batch = make_batch(device=torch.device("cpu"), pixel_names=["patch_similarity", "edge_preservation"])
    out = batch.device_pixel_metrics
    assert sorted(out) == ["edge_preservation", "patch_similarity"]
    np.testing.assert_allclose(
        out["patch_similarity"], F.patch_similarity(batch.clean_images, batch.augmented_images), rtol=1e-5
    )


def test_the_scorers_cached_edge_maps_and_text_scores_are_used_not_computed_again():
    edges = np.full((2, 32, 32), 0.25)
    scores = {"zero_shot_accuracy_drop": np.array([0.0, 1.0])}
    batch = make_batch(clean_edges=lambda: edges, text_scores=lambda: scores)
    assert batch.clean_edge_maps is edges
    assert batch.text_scores is scores
    own = make_batch()
    np.testing.assert_array_equal(own.clean_edge_maps, F.edge_map(F.grey(own.clean_images)))
