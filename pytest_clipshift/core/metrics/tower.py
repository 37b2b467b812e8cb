"""Metrics from inside the vision tower: which heads' attention moved, which heads carry the
embedding's shift (their direct contributions), attention sinks (high-norm patch tokens that absorb
the CLS token's attention, Darcet et al. 2024), and the layer where the zero-shot answer forms (the
logit lens). The formulas are pure functions of arrays; the ``Metric`` objects at the bottom read
them off a ``Batch``."""

from __future__ import annotations

import numpy as np

from . import functional as F
from .registry import Metric

SINK_FACTOR = 10.0  # a sink's norm exceeds this times the median patch-token norm (configurable)


def _most_moved_head(batch, formula) -> np.ndarray:
    """Per image, the lowest value of ``formula(clean, augmented)`` over every head of every layer."""
    layers, heads = batch.clean_heads.shape[1:3]
    values = np.stack([formula(*batch.attention(k + 1, head=h + 1)) for k in range(layers) for h in range(heads)], 1)
    defined = ~np.isnan(values).all(axis=1)  # every head's map constant: undefined, never a made-up number
    out = np.full(len(values), np.nan)
    out[defined] = np.nanmin(values[defined], axis=1)
    return out


def head_shares(clean_heads, augmented_heads, clean_embeddings, augmented_embeddings) -> np.ndarray:
    """(B, L, H): each head's share of the embedding's shift, (delta_lh . delta_e) / |delta_e|^2, where
    delta_lh is the change of the head's direct contribution; the shares of every head and of the rest
    add up to 1. An image whose embedding did not move has no share: NaN."""
    change = np.asarray(augmented_heads, np.float64) - np.asarray(clean_heads, np.float64)
    shift = np.asarray(augmented_embeddings, np.float64) - np.asarray(clean_embeddings, np.float64)
    norm2 = (shift * shift).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.einsum("blhd,bd->blh", change, shift) / norm2[:, None, None]
    return np.where(norm2[:, None, None] > F.EPS, shares, np.nan)


def sinks(tokens: np.ndarray, has_cls: bool, factor: float) -> np.ndarray:
    """(B, T, d) one layer's output tokens -> (B, n_patches) bool: the patch tokens whose norm exceeds
    ``factor`` times the median patch-token norm of their image."""
    patches = tokens[:, 1:] if has_cls else tokens
    norms = np.linalg.norm(np.asarray(patches, np.float64), axis=-1)
    return norms > factor * np.median(norms, axis=1, keepdims=True)


def sink_share(maps: np.ndarray, is_sink: np.ndarray) -> np.ndarray:
    """(B, gh, gw) attention maps and (B, n_patches) sinks -> the share of attention the sinks take."""
    flat = np.asarray(maps, np.float64).reshape(len(maps), -1)
    total = flat.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > F.EPS, (flat * is_sink).sum(axis=1) / total, np.nan)


def correlation_without(clean: np.ndarray, augmented: np.ndarray, drop: np.ndarray) -> np.ndarray:
    """attention_correlation over the patches not in ``drop`` (B, n_patches); undefined (NaN) with fewer
    than 4 patches left."""
    out = np.full(len(clean), np.nan)
    for i in range(len(clean)):
        keep = ~drop[i]
        if keep.sum() >= 4:
            out[i] = F.attention_correlation(clean[i].reshape(-1)[keep], augmented[i].reshape(-1)[keep])
    return out


def answer_layers(lens: np.ndarray, label_text: np.ndarray) -> np.ndarray:
    """(B, L, D) each layer's embedding and (K, D) unit label prompts -> (B,) the first layer (1-based)
    whose zero-shot label is already the final layer's."""
    unit = lens / np.maximum(np.linalg.norm(lens, axis=-1, keepdims=True), 1e-12)
    labels = (unit @ np.asarray(label_text).T).argmax(axis=-1)  # (B, L)
    agrees = labels == labels[:, -1:]
    return agrees.argmax(axis=1) + 1


# ------------------------------------------------------------------ reading them off a batch
def _sink_masks(batch, layer):
    """(clean sinks warped into the augmented frame, augmented sinks), (B, n_patches) bool each."""
    k = batch.clean_hidden.shape[1] - 1 if layer is None else layer  # hidden states: embeddings output first
    gh, gw = batch.grid
    has_cls = batch.clean_hidden.shape[2] == gh * gw + 1
    clean = sinks(batch.clean_hidden[:, k], has_cls, batch.sink_factor)
    augmented = sinks(batch.augmented_hidden[:, k], has_cls, batch.sink_factor)
    moved = batch.warped(clean.reshape(len(clean), gh, gw).astype(np.float64)) >= 0.5
    return clean, moved.reshape(len(clean), -1), augmented


def _sink_count_change(batch, layer):
    clean, _, augmented = _sink_masks(batch, layer)
    return augmented.sum(axis=1).astype(np.float64) - clean.sum(axis=1)


def _sink_share_change(batch, layer):
    clean, _, augmented = _sink_masks(batch, layer)
    clean_maps, augmented_maps = batch.attention(layer, aligned=False)
    return sink_share(augmented_maps, augmented) - sink_share(clean_maps, clean)


def _correlation_nosink(batch):
    _, moved, augmented = _sink_masks(batch, None)
    return correlation_without(*batch.attention(), moved | augmented)


def _direct_share(batch, layer, head=None):
    shares = head_shares(
        batch.clean_direct[0], batch.augmented_direct[0], batch.clean_embeddings, batch.augmented_embeddings
    )
    if layer is None:  # the family: the largest share any one head carries (undefined when nothing moved)
        flat = np.abs(shares).reshape(len(shares), -1)
        defined = ~np.isnan(flat).all(axis=1)
        out = np.full(len(flat), np.nan)
        out[defined] = np.nanmax(flat[defined], axis=1)
        return out
    return shares[:, layer - 1].sum(axis=1) if head is None else shares[:, layer - 1, head - 1]


def _answer_layer_shift(batch):
    return (
        answer_layers(batch.augmented_lens, batch.label_text) - answer_layers(batch.clean_lens, batch.label_text)
    ).astype(np.float64)


TOWER = (
    Metric(
        "head_attention_correlation",
        "heads",
        True,
        "the most-moved head's attention correlation (the lowest over every head of every layer, aligned); "
        "stores attention_correlation@LhH for every layer L and head H",
        lambda b: _most_moved_head(b, F.attention_correlation),
        head_of="attention_correlation",
        bounds=(-1.0, 1.0),
    ),
    Metric(
        "direct_effect_shift",
        "direct",
        False,
        "the largest share of the embedding's shift one head carries directly (its direct contribution's change "
        "projected on the shift, Gandelsman et al.); @L: layer L's heads together, @LhH: one head",
        lambda b, layer, head=None: _direct_share(b, layer, head),
        layered=True,
        heads=True,
        head_of="direct_effect_shift",
        report_stats=(),
    ),
    Metric(
        "sink_count_change",
        "sinks",
        False,
        "augmented minus clean count of sink tokens (patch tokens with a norm over 10x the median) in the last "
        "layer's output; @L at layer L",
        _sink_count_change,
        layered=True,
        report_stats=(),
    ),
    Metric(
        "sink_attention_share_change",
        "sinks",
        False,
        "augmented minus clean share of the CLS attention the sink tokens take, last layer; @L at layer L",
        _sink_share_change,
        layered=True,
        report_stats=(),
        bounds=(-1.0, 1.0),
    ),
    Metric(
        "attention_correlation_nosink",
        "sinks",
        True,
        "attention_correlation with the sink patches (clean or augmented) left out",
        _correlation_nosink,
        report_stats=(),
        bounds=(-1.0, 1.0),
    ),
    Metric(
        "answer_layer_shift",
        "lens",
        False,
        "augmented minus clean first layer whose token, read through the final norm and projection, already "
        "gives the final zero-shot label (the logit lens); needs label prompts",
        _answer_layer_shift,
        report_stats=(),
    ),
)
