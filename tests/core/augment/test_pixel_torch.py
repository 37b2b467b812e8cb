"""The torch pixel metrics (used on CUDA) agree with the numpy reference implementations."""

import numpy as np
import pytest

from pytest_clipshift.core import metrics as M
from pytest_clipshift.core.augment.pixel_torch import pixel_metrics


def test_torch_and_numpy_pixel_metrics_agree():
    import torch

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64]
    base = (np.stack([xx * 4, yy * 4, (xx + yy) * 2], -1) % 256).astype(np.uint8)
    clean = np.stack([base, np.full_like(base, 90), rng.integers(0, 256, base.shape, dtype=np.uint8)])
    aug = np.clip(clean.astype(int) + rng.integers(-40, 40, clean.shape), 0, 255).astype(np.uint8)
    aug[1] = 90  # flat in both: detail has nothing to lose
    names = {"patch_similarity", "edge_preservation", "detail_preservation"}
    got = pixel_metrics(clean, aug, names, torch.device("cpu"))
    np.testing.assert_allclose(got["patch_similarity"], M.patch_similarity(clean, aug), atol=1e-6)
    np.testing.assert_allclose(got["edge_preservation"], M.edge_preservation(clean, aug), atol=1e-5)
    np.testing.assert_allclose(got["detail_preservation"], M.detail_preservation(clean, aug), atol=1e-5)
    assert got["detail_preservation"][1] == pytest.approx(1.0)
