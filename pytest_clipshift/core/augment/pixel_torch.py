"""The pixel metrics of ``metrics.py`` in torch, batched on the model's device.

Used by the engine on CUDA devices, where the model is fast enough that CPU-side pixel metrics
would dominate; on a CPU the numpy versions are used. Same formulas, float32; a test checks that
both agree.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-12


def pixel_metrics(clean: np.ndarray, augmented: np.ndarray, names: set[str], device) -> dict[str, np.ndarray]:
    import torch

    def upload(x):
        t = torch.from_numpy(np.require(x, requirements=["C", "W"]))
        if device.type == "cuda":
            t = t.pin_memory().to(device, non_blocking=True)
        return t.to(device).float()

    a, b = upload(clean), upload(augmented)
    out: dict[str, np.ndarray] = {}
    with torch.inference_mode():
        if "patch_similarity" in names:
            d = (a - b) / 255.0
            mse = _cells(d * d, 4).mean(dim=(3, 4, 5), dtype=torch.float64)
            out["patch_similarity"] = (1.0 / (1.0 + mse)).mean(dim=(1, 2)).cpu().numpy()
        if names & {"edge_preservation", "detail_preservation"}:
            w = torch.tensor([0.299, 0.587, 0.114], device=a.device)
            ga, gb = a @ w, b @ w
            if "edge_preservation" in names:
                out["edge_preservation"] = (
                    (1.0 - (_edges(ga) - _edges(gb)).abs().mean(dim=(1, 2), dtype=torch.float64)).cpu().numpy()
                )
            if "detail_preservation" in names:
                so = _cells(ga, 8).double().std(dim=(3, 4), unbiased=False)
                sa = _cells(gb, 8).double().std(dim=(3, 4), unbiased=False)
                flat = 1e-3
                both = (so < flat) & (sa < flat)
                r = sa / so.clamp_min(EPS)
                score = torch.where(so < flat, torch.zeros_like(r), torch.minimum(r, 1.0 / r.clamp_min(EPS)))
                score = torch.where(both, torch.zeros_like(score), score)
                counted = (~both).sum(dim=(1, 2))
                total = score.sum(dim=(1, 2))
                out["detail_preservation"] = (
                    torch.where(counted > 0, total / counted.clamp_min(1), torch.ones_like(total)).cpu().numpy()
                )
    return out


def _cells(x, grid: int):
    n, h, w = x.shape[:3]
    ch, cw = h // grid, w // grid
    x = x[:, : ch * grid, : cw * grid]
    x = x.reshape((n, grid, ch, grid, cw) + tuple(x.shape[3:]))
    return x.movedim(3, 2)


def _edges(grey):
    import torch

    e = torch.zeros_like(grey)
    e[:, :, 1:-1] = (grey[:, :, 2:] - grey[:, :, :-2]).abs()
    e[:, 1:-1, :] += (grey[:, 2:, :] - grey[:, :-2, :]).abs()
    e = e * 0.5
    top = e.reshape(e.shape[0], -1).amax(dim=1).clamp_min(EPS)
    return e / top[:, None, None]
