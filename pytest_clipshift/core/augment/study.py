"""The study's nine augmentations and ``identity``: their albumentations calls and their severity rows
(severities 1-5 mild to strong, and ``paper``: the study's exact call, PAPER.md). The table is built
by functions, not held in constants, so mutation testing reaches every number in it."""

from __future__ import annotations

from ..cases import PAPER, SEVERITIES
from .types import Augmentation, levels

HOLE = 16 / 224  # coarse dropout's hole side as a fraction of the canvas: the study's 16 px at 224


def albumentations():
    import albumentations as A

    return A


def opencv():
    import cv2

    return cv2


def noise(std):
    return albumentations().GaussNoise(std_range=std, p=1.0)


def blur(sigma=None, kernel=0):
    # kernel 0: albumentations derives the kernel size from the drawn sigma; no sigma: the
    # study's call, which leaves sigma at albumentations' default
    if sigma is None:
        return albumentations().GaussianBlur(blur_limit=kernel, p=1.0)
    return albumentations().GaussianBlur(blur_limit=kernel, sigma_limit=sigma, p=1.0)


def jitter(b, c, s, h):
    return albumentations().ColorJitter(brightness=b, contrast=c, saturation=s, hue=h, p=1.0)


def affine(shift, scale, rotate, study=False):
    cv2 = opencv()
    if study:  # the study's own call: ShiftScaleRotate with its default black (constant) border
        return albumentations().ShiftScaleRotate(
            shift_limit=shift, scale_limit=scale, rotate_limit=rotate, mask_interpolation=cv2.INTER_LINEAR, p=1.0
        )
    # severities 1-5: Affine (ShiftScaleRotate's successor) with a reflect border, a deliberate
    # deviation: a black border measures the border as much as the warp
    return albumentations().Affine(
        translate_percent=(-shift, shift),
        scale=(1 - scale, 1 + scale),
        rotate=(-rotate, rotate),
        border_mode=cv2.BORDER_REFLECT_101,
        mask_interpolation=cv2.INTER_LINEAR,
        p=1.0,
    )


def flip():
    return albumentations().HorizontalFlip(p=1.0)


def elastic(alpha, sigma, study=False):
    cv2 = opencv()
    # the study's call keeps albumentations' constant (black) border; severities 1-5 reflect
    border = cv2.BORDER_CONSTANT if study else cv2.BORDER_REFLECT_101
    return albumentations().ElasticTransform(
        alpha=alpha, sigma=sigma, mask_interpolation=cv2.INTER_LINEAR, border_mode=border, p=1.0
    )


def perspective(scale):
    cv2 = opencv()
    return albumentations().Perspective(scale=scale, mask_interpolation=cv2.INTER_LINEAR, p=1.0)


def brightness_contrast(limit):
    return albumentations().RandomBrightnessContrast(brightness_limit=limit, contrast_limit=limit, p=1.0)


def dropout(holes, size=None, size_px=None):
    # severities 1-5: hole side as a fraction of the canvas (16 px at 224); paper: the study's
    # 16 px holes in pixels, as it called it (on its 224 px images)
    side = (size_px, size_px) if size_px is not None else (size, size)
    return albumentations().CoarseDropout(
        num_holes_range=holes, hole_height_range=side, hole_width_range=side, fill="random", p=1.0
    )


def identity():
    return None


def _noise_and_colour() -> list[Augmentation]:
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
            levels(
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
            levels(
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
            levels(
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
            "brightness_contrast",
            brightness_contrast,
            levels(
                {"limit": 0.05}, {"limit": 0.1}, {"limit": 0.2}, {"limit": 0.3}, {"limit": 0.45}, paper={"limit": 0.2}
            ),
            description="RandomBrightnessContrast: brightness and contrast limit",
        ),
    ]


def _warps() -> list[Augmentation]:
    return [
        Augmentation(
            "shift_scale_rotate",
            affine,
            levels(
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
            levels(
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
            levels(
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
    ]


def _occlusion() -> list[Augmentation]:
    return [
        Augmentation(
            "coarse_dropout",
            dropout,
            levels(
                {"holes": (1, 2), "size": HOLE},
                {"holes": (3, 4), "size": HOLE},
                {"holes": (6, 8), "size": HOLE},
                {"holes": (10, 12), "size": HOLE},
                {"holes": (16, 20), "size": HOLE},
                paper={"holes": (6, 8), "size_px": 16},
            ),
            description="CoarseDropout with random fill: number of holes, hole side as a fraction (16 px at 224)",
        ),
    ]


def study_table() -> list[Augmentation]:
    """identity and the study's nine, in the study's order."""
    built = {a.name: a for a in _noise_and_colour() + _warps() + _occlusion()}
    order = (
        "identity",
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
    return [built[name] for name in order]
