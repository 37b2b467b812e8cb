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
from typing import Any

import numpy as np

from ..cases import PAPER, SEVERITIES, Case, Severity
from ..errors import ConfigError
from .study import albumentations as _albu
from .types import Augmentation, Augmented, coordinate_grid

__all__ = ["Augmentation", "Augmented", "coordinate_grid"]  # the value types, where they were always imported


_REGISTRY: dict[str, Augmentation] = {}


def _ensure_builtins() -> None:
    if not _REGISTRY:
        from .study import study_table

        for aug in study_table():
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
        for aug in _adversarial_table():
            _REGISTRY[aug.name] = aug


def _adversarial_table() -> list[Augmentation]:
    from . import adversarial as adv

    eps = "l-inf budget eps = 0.5, 1, 2, 4, 8 (/255) at severities 1-5"
    return [
        Augmentation(
            adv.PREFIX + "random_sign",
            adv.random_sign,
            adv.levels(),
            description=f"every pixel moved by +-eps at random: the typical case beside the worst; {eps}",
            kind="callable",
            unquantised=True,
        ),
        Augmentation(
            adv.PREFIX + "embedding",
            None,
            adv.levels(),
            description=f"PGD minimising the cosine of the embedding to the clean one (FARE's attack); {eps}",
            kind="adversarial",
            unquantised=True,
        ),
        Augmentation(
            adv.PREFIX + "zero_shot",
            None,
            adv.levels(),
            description=f"PGD maximising the zero-shot cross-entropy of the image's own label; {eps}",
            kind="adversarial",
            unquantised=True,
        ),
    ]


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

GROUPS = {"study": STUDY_AUGMENTATIONS, "adversarial": ("adversarial.random_sign", "adversarial.embedding")}
"""Words that stand for several augmentations wherever augmentations are listed (flag, ini, budgets
``[settings]``, marker); ``imagenet-c`` (all 19 ImageNet-C corruptions) is added below. ``adversarial``
is the worst case with the typical case of the same size beside it (``adversarial.zero_shot``, which
needs labels, is named on its own)."""


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
    if aug.kind == "adversarial":
        raise ConfigError(
            f"augmentation {aug.name!r} attacks the model (it needs its gradients): the engine measures it "
            "(measure(), the plugin); apply_augmentation has no model to attack"
        )
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
        out = np.asarray(out) if aug.unquantised else _check_output(aug.name, np.asarray(out), image.shape)
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
        if np.issubdtype(out.dtype, np.floating):
            if not np.isfinite(out).all():
                raise ConfigError(f"augmentation {name!r} returned NaN or infinite pixel values")
            # a float image in [0, 1] is scaled to 0-255; either way rounded to the nearest grey level
            out = np.rint(out * 255 if out.size and out.max() <= 1.0 else out)
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


# ---------------------------------------------------------------- continuous strength
def _strength_params(name: str, t: float) -> dict[str, Any]:
    """Parameters of built-in ``name`` at continuous strength ``t`` in [0, 1] (0 = no change; a
    ``Case`` refuses any other strength)."""
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
