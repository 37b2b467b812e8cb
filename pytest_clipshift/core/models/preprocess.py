"""Preprocessing that follows a checkpoint's own image-processor settings.

Two steps. ``to_canvas`` does the geometry on the uint8 image with PIL, exactly as transformers'
image processors do (resize the shortest edge or to a fixed size, then centre-crop); augmentations
act on that canvas. ``normalize_batch`` then turns a batch of canvases into model input in torch,
on the model's device: resize to the input size when the canvas is larger, rescale, normalise.
With the canvas at the model's input size the result equals the checkpoint's own processor.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
_PIL_RESAMPLE_NAMES = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming"}


@dataclass(frozen=True)
class PreprocessSettings:
    input_size: tuple[int, int]  # (height, width) the model takes
    resize_mode: str  # "shortest_edge" or "exact"
    resize_to: tuple[int, int] | int  # shortest edge, or (height, width)
    crop: tuple[int, int] | None
    resample: int  # PIL resample id
    rescale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    normalize: bool = True
    source: str = "preprocessor_config.json"
    crop_rounding: str = "floor"  # "floor": transformers' centre-crop offset; "round": torchvision's (open_clip)

    @classmethod
    def from_processor_dict(cls, cfg: dict, source: str = "preprocessor_config.json") -> PreprocessSettings:
        size = cfg.get("size") or {}
        if isinstance(size, int):
            size = {"shortest_edge": size}
        do_resize = cfg.get("do_resize", True)
        if "shortest_edge" in size:
            mode, target = "shortest_edge", int(size["shortest_edge"])
        elif "height" in size and "width" in size:
            mode, target = "exact", (int(size["height"]), int(size["width"]))
        else:
            raise ValueError(f"{source}: unsupported 'size' {size!r} (expected shortest_edge or height/width)")
        crop = None
        if cfg.get("do_center_crop", False):
            cs = cfg.get("crop_size") or {}
            if isinstance(cs, int):
                cs = {"height": cs, "width": cs}
            crop = (int(cs["height"]), int(cs["width"]))
        if crop is not None:
            input_size = crop
        elif mode == "exact":
            input_size = target  # type: ignore[assignment]
        else:
            raise ValueError(f"{source}: a shortest-edge resize without a centre crop gives images of varying size")
        if not do_resize:
            mode = "none"
        return cls(
            input_size=tuple(input_size),
            resize_mode=mode,
            resize_to=target,
            crop=crop,
            resample=int(cfg.get("resample", 3)),
            rescale=float(cfg.get("rescale_factor", 1 / 255)) if cfg.get("do_rescale", True) else 1.0,
            mean=tuple(cfg.get("image_mean", CLIP_MEAN)),
            std=tuple(cfg.get("image_std", CLIP_STD)),
            normalize=bool(cfg.get("do_normalize", True)),
            source=source,
        )

    @classmethod
    def fallback(cls, image_size: int) -> PreprocessSettings:
        """CLIP's settings scaled to ``image_size``: used when a checkpoint has no processor config."""
        return cls(
            (image_size, image_size),
            "shortest_edge",
            image_size,
            (image_size, image_size),
            3,
            1 / 255,
            CLIP_MEAN,
            CLIP_STD,
            True,
            source=f"fallback: CLIP settings at {image_size} px (no preprocessor_config.json)",
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["resample"] = _PIL_RESAMPLE_NAMES.get(self.resample, str(self.resample))
        if d["crop_rounding"] == "floor":  # the default stays out: cache keys of existing models are unchanged
            del d["crop_rounding"]
        return d


def read_processor_config(directory: Path) -> dict | None:
    path = Path(directory) / "preprocessor_config.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    return None


def to_canvas(image: np.ndarray, settings: PreprocessSettings, canvas: tuple[int, int] | None = None) -> np.ndarray:
    """Resize and centre-crop a uint8 HxWx3 image as the checkpoint's processor does.

    ``canvas`` (height, width) scales the whole geometry up from the model's input size (the demo
    model takes 80 px; augmenting at 224 px keeps the study's pixel-sized parameters meaningful).
    """
    from PIL import Image

    out_h, out_w = canvas or settings.input_size
    scale = out_h / settings.input_size[0]
    img = Image.fromarray(image)
    h, w = image.shape[:2]
    if settings.resize_mode == "shortest_edge":
        edge = round(int(settings.resize_to) * scale)  # type: ignore[arg-type]
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = edge, int(edge * long / short)
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
        if (new_w, new_h) != (w, h):
            img = img.resize((new_w, new_h), resample=settings.resample)
    elif settings.resize_mode == "exact":
        rh, rw = settings.resize_to  # type: ignore[misc]
        new_h, new_w = round(rh * scale), round(rw * scale)
        if (new_w, new_h) != (w, h):
            img = img.resize((new_w, new_h), resample=settings.resample)
    arr = np.asarray(img, dtype=np.uint8)
    if settings.crop is not None or arr.shape[:2] != (out_h, out_w):
        arr = center_crop(arr, out_h, out_w, settings.crop_rounding)
    return np.ascontiguousarray(arr)


def center_crop(arr: np.ndarray, height: int, width: int, rounding: str = "floor") -> np.ndarray:
    """A centre crop, zero padding if the image is smaller. ``rounding``: "floor" takes transformers'
    offsets (int((h - height) / 2)), "round" torchvision's (int(round((h - height) / 2))), as
    open_clip's eval transform does; they differ by a pixel when the margin is odd. Padding an odd
    margin, transformers puts the extra pixel first (ceil), torchvision last (floor)."""
    h, w = arr.shape[:2]
    if h < height or w < width:
        padded = np.zeros((max(h, height), max(w, width), 3), dtype=arr.dtype)
        extra = 1 if rounding == "floor" else 0
        top, left = (padded.shape[0] - h + extra) // 2, (padded.shape[1] - w + extra) // 2
        padded[top : top + h, left : left + w] = arr
        arr, h, w = padded, padded.shape[0], padded.shape[1]
    if rounding == "round":
        top, left = int(round((h - height) / 2.0)), int(round((w - width) / 2.0))
    else:
        top, left = int((h - height) / 2), int((w - width) / 2)
    return arr[top : top + height, left : left + width]


def normalize_batch(canvases, settings: PreprocessSettings, device, dtype):
    """(N, H, W, 3) canvases, numpy or tensor, 0-255 -> (N, 3, h, w) model input on ``device`` in ``dtype``.

    uint8 canvases are what every augmentation gives; float ones (an adversarial perturbation, kept
    unquantised) pass through unrounded, and a float tensor keeps its gradient."""
    import torch
    import torch.nn.functional as F

    x = canvases if torch.is_tensor(canvases) else torch.from_numpy(np.require(canvases, requirements=["C", "W"]))
    exact = x.is_floating_point()
    if device.type == "cuda" and x.device.type == "cpu":
        x = x.pin_memory().to(device, non_blocking=True)
    x = x.to(device).permute(0, 3, 1, 2).float()
    if tuple(x.shape[-2:]) != tuple(settings.input_size):
        mode = "bilinear" if settings.resample == 2 else "bicubic"
        x = F.interpolate(x, size=settings.input_size, mode=mode, antialias=True, align_corners=False)
        if not exact:  # the processor resizes uint8 images: keep that quantisation
            x = x.round().clamp(0, 255)
    x = x * settings.rescale
    if settings.normalize:
        mean = torch.tensor(settings.mean, device=device).view(1, 3, 1, 1)
        std = torch.tensor(settings.std, device=device).view(1, 3, 1, 1)
        x = (x - mean) / std
    return x.to(dtype)
