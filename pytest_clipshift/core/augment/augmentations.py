"""The augmentation registry: the study's nine, ``identity``, and the user's own.

Each built-in augmentation has five severities (1 mild .. 5 strong) and a ``paper`` preset with the
study's exact parameters (PAPER.md). Augmentations act on the *canvas*: the image already resized
and cropped to the model's input geometry, as the study squashed everything to 224 px first.

Determinism: an augmentation draws its randomness from ``draw_seed(seed, image_hash, name,
severity)``, so the same (image, augmentation, severity, seed) gives the same bytes on every run,
in every process and in any batch order.

Geometric augmentations also warp a coordinate grid through albumentations' ``mask`` target. The
warped grid says, for each output pixel, where it came from; ``warp_map`` uses it to move a clean
heat map (an attention map) into the augmented frame, so attention can be compared aligned.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..cases import PAPER, SEVERITIES, Case, Severity
from ..errors import ConfigError


@dataclass(frozen=True)
class Augmentation:
    """A named augmentation. ``params`` maps each severity (1..5, "paper") to its parameters."""

    name: str
    factory: Callable[..., Any]  # params -> albumentations transform, or a callable (see register)
    params: dict[Severity, dict[str, Any]]
    geometric: bool = False
    description: str = ""
    kind: str = "albumentations"  # or "callable": fn(image uint8 HxWx3, rng, **params) -> image

    def parameters(self, severity: Severity) -> dict[str, Any]:
        if severity not in self.params:
            valid = ", ".join(str(s) for s in self.params)
            raise ConfigError(f"augmentation {self.name!r} has no severity {severity!r}; valid: {valid}")
        return dict(self.params[severity])


_REGISTRY: dict[str, Augmentation] = {}


def _cv2():
    import cv2

    return cv2


def _albu():
    import albumentations as A

    return A


def _levels(*levels: dict[str, Any], paper: dict[str, Any]) -> dict[Severity, dict[str, Any]]:
    assert len(levels) == 5
    table: dict[Severity, dict[str, Any]] = {i + 1: lv for i, lv in enumerate(levels)}
    table[PAPER] = paper
    return table


def _builtin_table() -> list[Augmentation]:
    def noise(std):
        return _albu().GaussNoise(std_range=std, p=1.0)

    def blur(sigma=None, kernel=0):
        # kernel 0: albumentations derives the kernel size from the drawn sigma; no sigma: the
        # study's call, which leaves sigma at albumentations' default
        if sigma is None:
            return _albu().GaussianBlur(blur_limit=kernel, p=1.0)
        return _albu().GaussianBlur(blur_limit=kernel, sigma_limit=sigma, p=1.0)

    def jitter(b, c, s, h):
        return _albu().ColorJitter(brightness=b, contrast=c, saturation=s, hue=h, p=1.0)

    def affine(shift, scale, rotate, study=False):
        cv2 = _cv2()
        if study:  # the study's own call: ShiftScaleRotate with its default black (constant) border
            return _albu().ShiftScaleRotate(
                shift_limit=shift, scale_limit=scale, rotate_limit=rotate, mask_interpolation=cv2.INTER_LINEAR, p=1.0
            )
        # severities 1-5: Affine (ShiftScaleRotate's successor) with a reflect border, a deliberate
        # deviation: a black border measures the border as much as the warp
        return _albu().Affine(
            translate_percent=(-shift, shift),
            scale=(1 - scale, 1 + scale),
            rotate=(-rotate, rotate),
            border_mode=cv2.BORDER_REFLECT_101,
            mask_interpolation=cv2.INTER_LINEAR,
            p=1.0,
        )

    def flip():
        return _albu().HorizontalFlip(p=1.0)

    def elastic(alpha, sigma, study=False):
        cv2 = _cv2()
        # the study's call keeps albumentations' constant (black) border; severities 1-5 reflect
        border = cv2.BORDER_CONSTANT if study else cv2.BORDER_REFLECT_101
        return _albu().ElasticTransform(
            alpha=alpha, sigma=sigma, mask_interpolation=cv2.INTER_LINEAR, border_mode=border, p=1.0
        )

    def perspective(scale):
        cv2 = _cv2()
        return _albu().Perspective(scale=scale, mask_interpolation=cv2.INTER_LINEAR, p=1.0)

    def brightness_contrast(limit):
        return _albu().RandomBrightnessContrast(brightness_limit=limit, contrast_limit=limit, p=1.0)

    def dropout(holes, size=None, size_px=None):
        # severities 1-5: hole side as a fraction of the canvas (16 px at 224); paper: the study's
        # 16 px holes in pixels, as it called it (on its 224 px images)
        side = (size_px, size_px) if size_px is not None else (size, size)
        return _albu().CoarseDropout(
            num_holes_range=holes, hole_height_range=side, hole_width_range=side, fill="random", p=1.0
        )

    def identity():
        return None

    hole = 16 / 224
    return [
        Augmentation(
            "identity",
            identity,
            {s: {} for s in (*SEVERITIES, PAPER)},
            description="preprocessing only: the noise floor every other number is read against",
        ),
        Augmentation(
            "gaussian_noise",
            noise,
            _levels(
                {"std": (0.02, 0.04)},
                {"std": (0.05, 0.08)},
                {"std": (0.10, 0.16)},
                {"std": (0.20, 0.30)},
                {"std": (0.44, 0.88)},
                paper={"std": (0.44, 0.88)},
            ),
            description="GaussNoise, std as a fraction of full scale",
        ),
        Augmentation(
            "gaussian_blur",
            blur,
            _levels(
                {"sigma": (0.5, 0.8)},
                {"sigma": (1.0, 1.4)},
                {"sigma": (1.6, 2.2)},
                {"sigma": (2.6, 3.4)},
                {"sigma": (4.0, 5.0)},
                paper={"kernel": (3, 7)},
            ),
            description=(
                "GaussianBlur: sigma range in px (kernel from sigma); "
                "paper: kernel 3-7, albumentations' default sigma (0.5-3)"
            ),
        ),
        Augmentation(
            "color_jitter",
            jitter,
            _levels(
                {"b": 0.05, "c": 0.05, "s": 0.05, "h": 0.02},
                {"b": 0.1, "c": 0.1, "s": 0.1, "h": 0.05},
                {"b": 0.2, "c": 0.2, "s": 0.2, "h": 0.1},
                {"b": 0.3, "c": 0.3, "s": 0.3, "h": 0.2},
                {"b": 0.4, "c": 0.4, "s": 0.4, "h": 0.3},
                paper={"b": 0.2, "c": 0.2, "s": 0.2, "h": 0.2},
            ),
            description="ColorJitter: brightness, contrast, saturation, hue",
        ),
        Augmentation(
            "shift_scale_rotate",
            affine,
            _levels(
                {"shift": 0.02, "scale": 0.03, "rotate": 3},
                {"shift": 0.04, "scale": 0.06, "rotate": 8},
                {"shift": 0.0625, "scale": 0.1, "rotate": 15},
                {"shift": 0.1, "scale": 0.15, "rotate": 25},
                {"shift": 0.15, "scale": 0.2, "rotate": 40},
                paper={"shift": 0.0625, "scale": 0.1, "rotate": 15, "study": True},
            ),
            geometric=True,
            description=(
                "Affine (the successor of ShiftScaleRotate), reflect border: shift fraction, scale, rotate degrees; "
                "paper: the study's ShiftScaleRotate, black border"
            ),
        ),
        Augmentation(
            "horizontal_flip",
            flip,
            {s: {} for s in (*SEVERITIES, PAPER)},
            geometric=True,
            description="HorizontalFlip: no parameter, every severity is the same flip",
        ),
        Augmentation(
            "elastic",
            elastic,
            _levels(
                {"alpha": 20, "sigma": 12},
                {"alpha": 40, "sigma": 12},
                {"alpha": 80, "sigma": 12},
                {"alpha": 160, "sigma": 12},
                {"alpha": 320, "sigma": 12},
                paper={"alpha": 30, "sigma": 60, "study": True},
            ),
            geometric=True,
            description=(
                "ElasticTransform, reflect border: alpha (displacement scale), sigma (smoothness); "
                "paper: the study's call, black border"
            ),
        ),
        Augmentation(
            "perspective",
            perspective,
            _levels(
                {"scale": (0.01, 0.03)},
                {"scale": (0.03, 0.05)},
                {"scale": (0.05, 0.1)},
                {"scale": (0.1, 0.15)},
                {"scale": (0.15, 0.2)},
                paper={"scale": (0.05, 0.1)},
            ),
            geometric=True,
            description="Perspective: corner jitter as a fraction of the side",
        ),
        Augmentation(
            "brightness_contrast",
            brightness_contrast,
            _levels(
                {"limit": 0.05}, {"limit": 0.1}, {"limit": 0.2}, {"limit": 0.3}, {"limit": 0.45}, paper={"limit": 0.2}
            ),
            description="RandomBrightnessContrast: brightness and contrast limit",
        ),
        Augmentation(
            "coarse_dropout",
            dropout,
            _levels(
                {"holes": (1, 2), "size": hole},
                {"holes": (3, 4), "size": hole},
                {"holes": (6, 8), "size": hole},
                {"holes": (10, 12), "size": hole},
                {"holes": (16, 20), "size": hole},
                paper={"holes": (6, 8), "size_px": 16},
            ),
            description="CoarseDropout with random fill: number of holes, hole side as a fraction (16 px at 224)",
        ),
    ]


def _ensure_builtins() -> None:
    if not _REGISTRY:
        for aug in _builtin_table():
            _REGISTRY[aug.name] = aug
        from . import imagenet_c

        for name, (function, levels, geometric) in imagenet_c.LEVELS.items():
            full = imagenet_c.PREFIX + name
            _REGISTRY[full] = Augmentation(
                full,
                function,
                levels,
                geometric,
                f"ImageNet-C {name.replace('_', ' ')} ({imagenet_c.family_of(name)})",
                kind="callable",
            )


STUDY_AUGMENTATIONS = (
    "gaussian_noise",
    "gaussian_blur",
    "color_jitter",
    "shift_scale_rotate",
    "horizontal_flip",
    "elastic",
    "perspective",
    "brightness_contrast",
    "coarse_dropout",
)
DEFAULT_AUGMENTATIONS = ("identity", *STUDY_AUGMENTATIONS)
"""What the plugin measures when nothing narrows it: the noise floor, then the study's nine."""

GROUPS = {"study": STUDY_AUGMENTATIONS}
"""Words that stand for several augmentations wherever augmentations are listed (flag, ini, budgets
``[settings]``, marker); ``imagenet-c`` (all 19 ImageNet-C corruptions) is added below."""


def expand_names(names) -> list[str]:
    """``["identity", "imagenet-c"]`` -> identity and the 19 ``imagenet_c.*`` names, in order, no repeats."""
    from .imagenet_c import NAMES, PREFIX

    groups = {**GROUPS, "imagenet-c": tuple(PREFIX + n for n in NAMES)}
    out: list[str] = []
    for name in names:
        for member in groups.get(name, (name,)):
            if member not in out:
                out.append(member)
    return out


def registry() -> dict[str, Augmentation]:
    _ensure_builtins()
    return _REGISTRY


def get_augmentation(name: str) -> Augmentation:
    reg = registry()
    if name not in reg:
        raise ConfigError(f"unknown augmentation {name!r}; valid: {', '.join(sorted(reg))}")
    return reg[name]


def register_augmentation(
    name: str,
    transform: Any,
    *,
    severities: dict[Severity, dict[str, Any]] | None = None,
    geometric: bool = False,
    description: str = "",
    replace: bool = False,
) -> Augmentation:
    """Register a user augmentation and return it.

    ``transform`` is either

    * an albumentations transform instance (used as is at every severity), or a factory
      ``f(**params) -> transform`` with ``severities`` giving the params per level; or
    * a callable ``f(image, rng, **params) -> image`` on a uint8 HxWx3 array, with ``rng`` a seeded
      ``numpy.random.Generator`` (its only source of randomness).

    ``geometric=True`` makes attention and tokens comparable in the augmented frame: albumentations
    replays the warp on a coordinate grid; a geometric callable returns ``(image, coords)`` itself,
    ``coords`` (H x W x 3 float: source x, source y, 1 where the source is inside the image; start
    from ``coordinate_grid(h, w)`` and move it as the image moves).
    """
    reg = registry()
    if name in reg and not replace:
        raise ConfigError(f"augmentation {name!r} is already registered; pass replace=True to override it")
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ConfigError(f"augmentation name {name!r} must be letters, digits, '_' or '-'")
    table = severities or {s: {} for s in (*SEVERITIES, PAPER)}
    A = _albu()
    if isinstance(transform, A.BasicTransform):
        instance = transform
        factory, kind = (lambda **_: instance), "albumentations"
    elif callable(transform):
        params = list(inspect.signature(transform).parameters)
        kind = "callable" if len(params) >= 2 and params[1] == "rng" else "albumentations"
        factory = transform
    else:
        raise ConfigError(
            f"augmentation {name!r}: expected an albumentations transform or a callable, got {type(transform).__name__}"
        )
    aug = Augmentation(name, factory, dict(table), geometric=geometric, description=description, kind=kind)
    reg[name] = aug
    return aug


def unregister_augmentation(name: str) -> None:
    registry().pop(name, None)


def draw_seed(seed: int, image_hash: str, name: str, severity: Severity, draw: int = 0) -> int:
    """The seed of one augmentation draw: a stable hash, independent of process and batch order.
    ``draw`` > 0: another independent draw of the same case (``--clipshift-draws``); draw 0 is the
    case's own, unchanged by how many draws are taken."""
    extra = f"|draw{draw}" if draw else ""
    digest = hashlib.sha256(f"{seed}|{image_hash}|{name}|{severity}{extra}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


@dataclass
class Augmented:
    image: np.ndarray  # uint8 HxWx3
    coords: np.ndarray | None = None  # float32 HxWx3: source x, source y, valid (geometric only)
    changed: bool = field(default=True)


def coordinate_grid(height: int, width: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack([xx, yy, np.ones_like(xx)], axis=-1)


def apply_augmentation(
    aug: Augmentation | str,
    image: np.ndarray,
    severity: Severity,
    seed: int,
    image_hash: str | None = None,
    draw: int = 0,
) -> Augmented:
    """Apply ``aug`` at ``severity`` to a uint8 HxWx3 image, deterministically for ``seed`` (and ``draw``)."""
    from ..data.decode import image_hash as hash_of

    if isinstance(aug, str):
        aug = get_augmentation(aug)
    params = aug.parameters(severity)
    draw = draw_seed(seed, image_hash or hash_of(image), aug.name, severity, draw)
    if aug.name == "identity":
        return Augmented(image.copy(), None, changed=False)
    if aug.kind == "callable":
        rng = np.random.default_rng(draw)
        out = aug.factory(image.copy(), rng, **params)
        coords = None
        if aug.geometric:  # a geometric callable returns (image, coordinate grid) for aligned attention
            if not (isinstance(out, tuple) and len(out) == 2):
                raise ConfigError(
                    f"augmentation {aug.name!r} is geometric: its callable must return (image, coords), "
                    f"got {type(out).__name__}"
                )
            out, coords = out
            coords = np.asarray(coords, dtype=np.float32)
            if coords.shape != image.shape[:2] + (3,):
                raise ConfigError(
                    f"augmentation {aug.name!r}: coords of shape {coords.shape}; expected "
                    f"{image.shape[:2] + (3,)} (source x, source y, valid)"
                )
        out = _check_output(aug.name, np.asarray(out), image.shape)
        return Augmented(out, coords, changed=not np.array_equal(out, image))
    A = _albu()
    transform = aug.factory(**params)
    pipeline = A.Compose([transform], seed=draw)
    if aug.geometric:
        h, w = image.shape[:2]
        result = pipeline(image=image, mask=coordinate_grid(h, w))
        out = _check_output(aug.name, result["image"], image.shape)
        return Augmented(out, np.asarray(result["mask"], dtype=np.float32), changed=not np.array_equal(out, image))
    out = _check_output(aug.name, pipeline(image=image)["image"], image.shape)
    return Augmented(out, None, changed=not np.array_equal(out, image))


def _check_output(name: str, out: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if out.shape != shape:
        raise ConfigError(
            f"augmentation {name!r} returned an image of shape {out.shape}; it must keep the input shape {shape}"
        )
    if out.dtype != np.uint8:
        if np.issubdtype(out.dtype, np.floating) and out.size and out.max() <= 1.0:
            out = np.rint(out * 255)
        out = np.clip(out, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(out)


def warp_map(heatmap: np.ndarray, coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move a clean heat map into the augmented frame, given a geometric augmentation's ``coords``.

    ``heatmap`` is (..., gh, gw) over the whole canvas, one value per patch cell; ``coords`` is the
    warped coordinate grid (Hc x Wc x 3). Each output cell averages the source cells of a 4x4 grid
    of points inside it. Returns the warped map on the same (gh, gw) grid and the fraction of each
    output cell that came from inside the canvas (cells mostly filled from outside are unreliable).
    """
    gh, gw = heatmap.shape[-2:]
    hc, wc = coords.shape[:2]
    # sample the coordinate field at a 4x4 grid of points inside each output cell
    sub = 4
    ys = (np.arange(gh * sub) + 0.5) * hc / (gh * sub) - 0.5
    xs = (np.arange(gw * sub) + 0.5) * wc / (gw * sub) - 0.5
    yi = np.clip(np.rint(ys).astype(int), 0, hc - 1)
    xi = np.clip(np.rint(xs).astype(int), 0, wc - 1)
    c = coords[yi][:, xi]  # (gh*sub, gw*sub, 3)
    valid = c[..., 2] > 0.5
    # source pixel -> the patch cell holding it (a patch's value covers its whole cell)
    u = np.clip(np.floor((c[..., 0] + 0.5) * gw / wc), 0, gw - 1).astype(int)
    v = np.clip(np.floor((c[..., 1] + 0.5) * gh / hc), 0, gh - 1).astype(int)
    sampled = heatmap[..., v, u]
    sampled = np.where(valid, sampled, 0.0)
    shape = heatmap.shape[:-2] + (gh, sub, gw, sub)
    weight = valid.reshape(gh, sub, gw, sub).sum(axis=(1, 3)).astype(np.float64)
    total = sampled.reshape(shape).sum(axis=(-3, -1))
    warped = np.where(weight > 0, total / np.maximum(weight, 1), 0.0)
    return warped.astype(np.float32), (weight / (sub * sub)).astype(np.float32)


def describe_levels() -> str:
    """A Markdown table of every augmentation's parameters per severity (for docs/augmentations.md)."""
    lines = ["| augmentation | " + " | ".join(f"s{s}" for s in SEVERITIES) + " | paper |", "|---" * 7 + "|"]
    for aug in registry().values():
        cells = [", ".join(f"{k}={v}" for k, v in aug.params.get(s, {}).items()) or "-" for s in (*SEVERITIES, PAPER)]
        lines.append(f"| {aug.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------- continuous strength
def _strength_params(name: str, t: float) -> dict[str, Any]:
    """Parameters of built-in ``name`` at continuous strength ``t`` in [0, 1] (0 = no change)."""
    t = float(min(max(t, 0.0), 1.0))
    table: dict[str, Callable[[float], dict[str, Any]]] = {
        "gaussian_noise": lambda t: {"std": (0.9 * t, 0.9 * t)},
        "gaussian_blur": lambda t: {"sigma": (0.05 + 6 * t, 0.05 + 6 * t)},
        "color_jitter": lambda t: {"b": 0.6 * t, "c": 0.6 * t, "s": 0.6 * t, "h": 0.45 * t},
        "shift_scale_rotate": lambda t: {"shift": 0.2 * t, "scale": 0.3 * t, "rotate": 60 * t},
        "elastic": lambda t: {"alpha": 500 * t, "sigma": 12},
        "perspective": lambda t: {"scale": (0.3 * t * 0.9, 0.3 * t)},
        "brightness_contrast": lambda t: {"limit": 0.7 * t},
        # at least one hole (albumentations needs one); near 0 it shrinks to 2 px at 224
        "coarse_dropout": lambda t: {
            "holes": (max(1, round(30 * t)),) * 2,
            "size": max(2 / 224, 16 / 224 * min(1.0, 3 * t)),
        },
    }
    if name not in table:
        raise ConfigError(f"augmentation {name!r} has no continuous strength; those that do: {', '.join(table)}")
    return table[name](t)


CONTINUOUS = (
    "gaussian_noise",
    "gaussian_blur",
    "color_jitter",
    "shift_scale_rotate",
    "elastic",
    "perspective",
    "brightness_contrast",
    "coarse_dropout",
)


_PROBES: dict[tuple[str, float], Augmentation] = {}


def augmentation_for(case: Case) -> tuple[Augmentation, Severity]:
    """The augmentation and severity that realise ``case``. A probe (continuous strength) is its
    augmentation with the strength's parameters as its only level, 1; it is never registered, so
    it appears in no list of augmentations. Raises ``ConfigError`` for an unknown name or level."""
    base = get_augmentation(case.augmentation)
    if not case.is_probe:
        base.parameters(case.severity)  # a clear error for a level this augmentation lacks
        return base, case.severity
    key = (case.augmentation, case.strength)
    if key not in _PROBES:
        # the seed label keeps the strength, so every probe draws its own noise
        _PROBES[key] = Augmentation(
            f"{case.augmentation}@{case.strength:.5f}",
            base.factory,
            {1: _strength_params(case.augmentation, case.strength)},
            base.geometric,
            f"{case.augmentation} at strength {case.strength:.5f}",
            base.kind,
        )
    return _PROBES[key], 1


def apply_case(case: Case, image: np.ndarray, seed: int, image_hash: str | None = None) -> Augmented:
    """Apply one ``Case`` (severity or strength) to a uint8 HxWx3 image, deterministically for ``seed``."""
    aug, severity = augmentation_for(case)
    return apply_augmentation(aug, image, severity, seed, image_hash, case.draw)
