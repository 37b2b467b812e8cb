"""The built-in metrics: each one definition, its formula in ``functional.py``."""

from __future__ import annotations

from . import functional as F
from .registry import METRICS, Metric


def _layer_index(batch, layer):
    return -1 if layer is None else layer - 1


def _pixel(name, numpy_formula):
    def compute(batch):
        if batch.on_cuda:  # the model is fast there: CPU-side pixel maths would dominate
            return batch.device_pixel_metrics[name]
        return numpy_formula(batch)

    return compute


BUILTIN = (
    Metric(
        "cosine",
        "embedding",
        True,
        "cosine similarity of clean and augmented image embeddings",
        lambda b: F.cosine_similarity(b.clean_embeddings, b.augmented_embeddings),
        report_stats=("mean", "p05"),
        terminal_label="cosine",
        severity_curve=True,
        bounds=(-1.0, 1.0),
    ),
    Metric(
        "l2",
        "embedding",
        False,
        "L2 distance of the raw (unnormalised) embeddings",
        lambda b: F.l2_distance(b.clean_embeddings, b.augmented_embeddings),
        bounds=(0.0, None),
    ),
    Metric(
        "l2_normalized",
        "embedding",
        False,
        "L2 distance of the unit-normalised embeddings, sqrt(2 - 2 cos)",
        lambda b: F.l2_distance_normalized(b.clean_embeddings, b.augmented_embeddings),
        terminal_label="l2 norm",
        severity_curve=True,
        bounds=(0.0, 2.0),
    ),
    Metric(
        "attention_correlation",
        "attention",
        True,
        "Pearson correlation of last-layer attention maps, the clean map warped into the augmented frame",
        lambda b, layer, head=None: F.attention_correlation(*b.attention(layer, head=head)),
        layered=True,
        heads=True,
        terminal_label="attn corr",
        severity_curve=True,
        layers_on_request=True,
        bounds=(-1.0, 1.0),
    ),
    Metric(
        "attention_inverse_mse",
        "attention",
        True,
        "the study's 1 / (1 + MSE) of min-max normalised last-layer attention maps, aligned as above",
        lambda b, layer, head=None: F.attention_inverse_mse(*b.attention(layer, head=head)),
        layered=True,
        heads=True,
        layers_on_request=True,
        bounds=(0.0, 1.0),
    ),
    Metric(
        "attention_correlation_raw",
        "attention",
        True,
        "as attention_correlation, without warping (the study's way)",
        lambda b: F.attention_correlation(*b.attention(aligned=False)),
        report_stats=(),
        bounds=(-1.0, 1.0),
    ),
    Metric(
        "attention_inverse_mse_raw",
        "attention",
        True,
        "as attention_inverse_mse, without warping (the study's way)",
        lambda b: F.attention_inverse_mse(*b.attention(aligned=False)),
        report_stats=(),
        bounds=(0.0, 1.0),
    ),
    Metric(
        "attention_inverse_mse_study",
        "attention",
        True,
        "the study's number exactly: maps upsampled to the canvas (cv2 bilinear), min-max normalised, 1 / (1 + MSE), "
        "not warped",
        lambda b: F.attention_inverse_mse_study(*b.attention(aligned=False), tuple(b.augmented_images.shape[2:0:-1])),
        report_stats=(),
        bounds=(0.0, 1.0),
    ),
    Metric(
        "patch_similarity",
        "pixels",
        True,
        "mean over a 4x4 grid of 1 / (1 + MSE / 255^2), in float",
        _pixel("patch_similarity", lambda b: F.patch_similarity(b.clean_images, b.augmented_images)),
        terminal_label="patch sim",
        severity_curve=True,
    ),
    Metric(
        "edge_preservation",
        "pixels",
        True,
        "1 - mean |E_clean - E_aug| of max-normalised gradient maps",
        _pixel(
            "edge_preservation",
            lambda b: F.edge_preservation(b.clean_images, b.augmented_images, original_edges=b.clean_edge_maps),
        ),
        terminal_label="edges",
    ),
    Metric(
        "detail_preservation",
        "pixels",
        True,
        "mean over an 8x8 grid of min(r, 1/r), r = std ratio",
        _pixel("detail_preservation", lambda b: F.detail_preservation(b.clean_images, b.augmented_images)),
        bounds=(0.0, 1.0),
    ),
    Metric(
        "layer_cosine",
        "layers",
        True,
        "cosine of the CLS (or mean) token at the last layer; per layer as layer_cosine@K",
        lambda b, layer: b.layer_cosines[:, _layer_index(b, layer)],
        layered=True,
        report_stats=(),
        bounds=(-1.0, 1.0),
    ),
    Metric(
        "layer_cka",
        "layers",
        True,
        "linear CKA (unbiased HSIC) of clean vs augmented tokens at the last layer, the clean tokens warped into the "
        "augmented frame for geometric augmentations; per layer as layer_cka@K",
        lambda b, layer: b.layer_ckas[:, _layer_index(b, layer)],
        layered=True,
    ),
    Metric(
        "layer_cka_raw",
        "layers",
        True,
        "as layer_cka, tokens compared by position without warping; per layer as layer_cka_raw@K",
        lambda b, layer: b.layer_ckas_raw[:, _layer_index(b, layer)],
        layered=True,
        report_stats=(),
    ),
    Metric(
        "zero_shot_flip",
        "text",
        False,
        "1 if the top-1 zero-shot label changed under the augmentation, else 0",
        lambda b: b.text_scores["zero_shot_flip"],
    ),
    Metric(
        "text_similarity_drop",
        "text",
        False,
        "drop of the image's similarity to its own label prompt",
        lambda b: b.text_scores["text_similarity_drop"],
    ),
    Metric(
        "zero_shot_accuracy",
        "text",
        True,
        "1 if the augmented image's top-1 zero-shot label is its own label, else 0 (identity: the clean accuracy)",
        lambda b: b.text_scores["zero_shot_accuracy"],
        terminal_label="accuracy",
        severity_curve=True,
        needs_own_label=True,
    ),
    Metric(
        "zero_shot_accuracy_drop",
        "text",
        False,
        "clean correct minus augmented correct, per image (1, 0 or -1)",
        lambda b: b.text_scores["zero_shot_accuracy_drop"],
        terminal_label="acc drop",
        needs_own_label=True,
    ),
    Metric(
        "zero_shot_top5_accuracy",
        "text",
        True,
        "1 if the image's own label is among the augmented image's top 5 labels",
        lambda b: b.text_scores["zero_shot_top5_accuracy"],
        needs_own_label=True,
        min_labels=5,
    ),
    Metric(
        "recall_at_1",
        "text",
        True,
        "image-to-text retrieval: 1 if the augmented image's nearest caption is its own",
        lambda b: b.text_scores["recall_at_1"],
        severity_curve=True,
        needs_captions=True,
    ),
    Metric(
        "recall_at_5",
        "text",
        True,
        "image-to-text retrieval: 1 if its own caption is among the 5 nearest",
        lambda b: b.text_scores["recall_at_5"],
        needs_captions=True,
    ),
    Metric(
        "divergence_radius",
        "draws",
        False,
        "radius of the smallest ball enclosing an image's unit embeddings over K independent draws of the augmentation "
        "(--clipshift-draws K; Liu et al. 2026)",
        lambda points: F.enclosing_ball_radius(F.unit(points)),
        terminal_label="div radius",
        severity_curve=True,
        bounds=(0.0, 1.0),
    ),
    Metric(
        "direction_probe",
        "text",
        True,
        "cosine of the shift vector with the text direction naming the augmentation, minus the control prompts' mean",
        lambda b: b.text_scores["direction_probe"],
    ),
)

from .tower import TOWER  # noqa: E402  (after the core metrics: the registry's order is the report's)

BUILTIN = BUILTIN + TOWER
for _metric in BUILTIN:
    METRICS[_metric.name] = _metric
