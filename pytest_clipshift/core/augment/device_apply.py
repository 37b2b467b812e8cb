"""A case applied to a batch of canvases on the device: the batched form where the augmentation has
one (``augment_batched.py``), else the one-image torch version image by image (``augment_torch.py``);
both draw from each image's own seeded generator, so they give the same numbers."""

from __future__ import annotations

import numpy as np

from .augment_batched import BATCHED
from .augment_torch import TORCH_AUGMENTATIONS
from .tensor_ops import generators


def apply_batch(
    case, canvases: np.ndarray, seeds: list[int], device, batched: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """uint8 (B, H, W, 3) canvases -> augmented uint8 (B, H, W, 3), image i drawn from ``seeds[i]``,
    and for a geometric case the float32 (B, H, W, 3) coordinate grids (else None). ``batched``: the
    whole batch in a few tensor ops where the augmentation has that form (``augment_batched.py``), else
    image by image (the same draws)."""
    import torch

    from .augmentations import augmentation_for

    aug, level = augmentation_for(case)
    params = aug.parameters(level)
    x = torch.from_numpy(np.require(canvases, requirements=["C", "W"])).to(device).permute(0, 3, 1, 2).float()
    gens = generators(seeds, device)
    with torch.inference_mode():
        if batched and case.augmentation in BATCHED:
            result = BATCHED[case.augmentation](x, params, gens)
            geometric = isinstance(result, tuple)
            out, coords = result if geometric else (result, None)
        else:
            fn = TORCH_AUGMENTATIONS[case.augmentation]
            results = [fn(img, params, gen) for img, gen in zip(x, gens)]
            geometric = isinstance(results[0], tuple)
            out = torch.stack([r[0] if geometric else r for r in results])
            coords = torch.stack([r[1] for r in results]) if geometric else None
        out = out.clamp(0, 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        coords = coords.float().cpu().numpy() if geometric else None
    return out, coords
