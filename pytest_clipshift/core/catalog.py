"""The names of every metric the engine computes, what each needs and which way is better."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError


@dataclass(frozen=True)
class MetricInfo:
    name: str
    needs: str  # "embedding", "attention", "pixels", "layers", "text"
    higher_is_better: bool
    description: str


METRICS: dict[str, MetricInfo] = {m.name: m for m in (
    MetricInfo("cosine", "embedding", True, "cosine similarity of clean and augmented image embeddings"),
    MetricInfo("l2", "embedding", False, "L2 distance of the raw (unnormalised) embeddings"),
    MetricInfo("l2_normalized", "embedding", False, "L2 distance of the unit-normalised embeddings, sqrt(2 - 2 cos)"),
    MetricInfo("attention_correlation", "attention", True,
               "Pearson correlation of last-layer attention maps, the clean map warped into the augmented frame"),
    MetricInfo("attention_inverse_mse", "attention", True,
               "the study's 1 / (1 + MSE) of min-max normalised last-layer attention maps, aligned as above"),
    MetricInfo("attention_correlation_raw", "attention", True, "as attention_correlation, without warping (the study's way)"),
    MetricInfo("attention_inverse_mse_raw", "attention", True, "as attention_inverse_mse, without warping (the study's way)"),
    MetricInfo("attention_inverse_mse_study", "attention", True,
               "the study's number exactly: maps upsampled to the canvas (cv2 bilinear), min-max normalised, 1 / (1 + MSE), not warped"),
    MetricInfo("patch_similarity", "pixels", True, "mean over a 4x4 grid of 1 / (1 + MSE / 255^2), in float"),
    MetricInfo("edge_preservation", "pixels", True, "1 - mean |E_clean - E_aug| of max-normalised gradient maps"),
    MetricInfo("detail_preservation", "pixels", True, "mean over an 8x8 grid of min(r, 1/r), r = std ratio"),
    MetricInfo("layer_cosine", "layers", True, "cosine of the CLS (or mean) token at the last layer; per layer as layer_cosine@K"),
    MetricInfo("layer_cka", "layers", True,
               "linear CKA (unbiased HSIC) of clean vs augmented tokens at the last layer, the clean tokens warped into the "
               "augmented frame for geometric augmentations; per layer as layer_cka@K"),
    MetricInfo("layer_cka_raw", "layers", True, "as layer_cka, tokens compared by position without warping; per layer as layer_cka_raw@K"),
    MetricInfo("zero_shot_flip", "text", False, "1 if the top-1 zero-shot label changed under the augmentation, else 0"),
    MetricInfo("text_similarity_drop", "text", False, "drop of the image's similarity to its own label prompt"),
    MetricInfo("direction_probe", "text", True,
               "cosine of the shift vector with the text direction naming the augmentation, minus the control prompts' mean"),
)}

LAYERED = ("layer_cosine", "layer_cka", "layer_cka_raw", "attention_correlation", "attention_inverse_mse")
"""Metrics that also exist per layer as NAME@K (K = 1 .. number of layers)."""

DEFAULT_METRICS = ("cosine", "l2", "l2_normalized", "attention_correlation", "attention_inverse_mse",
                   "patch_similarity", "edge_preservation", "detail_preservation")


def split_layer(name: str) -> tuple[str, int | None]:
    """``"layer_cka@3"`` -> (``"layer_cka"``, 3); ``"cosine"`` -> (``"cosine"``, None)."""
    base, sep, layer = name.partition("@")
    if not sep:
        return name, None
    if not layer.lstrip("-").isdigit():
        raise ConfigError(f"metric {name!r}: the part after '@' must be a layer number")
    return base, int(layer)


def metric_info(name: str) -> MetricInfo:
    base, layer = split_layer(name)
    if base not in METRICS:
        raise ConfigError(f"unknown metric {name!r}; valid: {', '.join(METRICS)} (layer metrics also as NAME@LAYER)")
    if layer is not None and base not in LAYERED:
        raise ConfigError(f"metric {name!r}: only {', '.join(LAYERED)} take '@LAYER'")
    return METRICS[base]


def validate_metrics(names) -> tuple[str, ...]:
    names = tuple(names)
    for n in names:
        metric_info(n)
    if len(set(names)) != len(names):
        raise ConfigError(f"metric list {list(names)} names a metric twice")
    return names
