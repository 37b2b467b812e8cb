"""Every metric is one ``Metric``: its name, what it needs, which way is better, and how it computes
per-image values from a ``Batch``. Budgets, compare, the results file, the terminal and the report
all read this registry, so a metric registered here needs no other edit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

NEEDS = ("embedding", "attention", "pixels", "layers", "text", "draws", "heads", "direct", "lens", "sinks")
"""What a metric reads: the embeddings, the heads-averaged attention maps, the canvases, each layer's
tokens, the text prompts, several draws, the per-head maps, the heads' direct contributions to the
embedding, each layer's embedding (the logit lens), or high-norm tokens with the attention they take."""
ATTENTION_NEEDS = ("attention", "heads", "sinks")  # read from the captured attention maps: eager attention


@dataclass(frozen=True)
class Metric:
    name: str
    needs: str  # one of NEEDS: decides what the forward pass must return
    higher_is_better: bool
    description: str
    compute: Callable | None = None  # (batch) -> (B,) values; with layered=True: (batch, layer) -> (B,)
    layered: bool = False  # also exists per layer as NAME@K (K = 1 .. number of layers)
    builtin: bool = True
    version: str = ""  # part of the embedding cache key: a changed user metric never reads old values
    report_stats: tuple[str, ...] = ("mean",)  # the statistics the report's metric table shows; () = none
    terminal_label: str = ""  # its column in the terminal summary ("" = not shown there)
    severity_curve: bool = False  # the report draws it against severity
    bounds: tuple[float | None, float | None] = (None, None)  # the values it can take (None: unbounded)
    # layered metrics: NAME@K of one that is computed only at the layers asked for (attention maps are
    # aligned per layer) stores every built-in layered metric of the same needs at layer K; the others
    # (layer tokens) keep every layer whenever the bare NAME is measured
    layers_on_request: bool = False
    # text metrics: what the image set must carry for them (checked at start-up, textalign.text_spec)
    needs_own_label: bool = False  # each image's own label among the prompts
    min_labels: int = 2
    needs_captions: bool = False
    # NAME@LhH: at head H of layer L (1-based), from the per-head maps; a "heads"/"direct" family's
    # bare NAME stores its value at every layer and head (``head_of``: the metric it holds per head)
    heads: bool = False
    head_of: str = ""

    def across_draws(self, points: np.ndarray) -> float:
        """A ``needs="draws"`` metric's value for one image: ``compute`` of its (K, D) embeddings over
        K independent draws of the case."""
        return float(self.compute(points))

    @property
    def identity(self) -> str:
        """What the cache key records of this metric: built-ins are versioned with the package; a
        user metric by its source code and ``version``."""
        if self.builtin:
            return self.name
        import hashlib
        import inspect

        try:
            source = inspect.getsource(self.compute)
        except (OSError, TypeError):  # no source (a lambda made at run time, a builtin): by name only
            source = getattr(self.compute, "__qualname__", repr(self.compute))
        return f"{self.name}:{self.version}:{hashlib.sha256(source.encode()).hexdigest()[:12]}"

    def stored_names(self, layer: int | None, n_layers: int, head: int | None = None, n_heads: int = 0) -> list[str]:
        """What measuring this metric (at ``layer``, 1-based, or None: the last; at ``head`` of it) stores.
        A built-in metric computed from the same maps or tokens as others is stored with them: they cost
        nothing more. ``n_layers``, ``n_heads``: the model's vision layers and heads per layer."""
        if layer is not None and not 1 <= layer <= n_layers:
            raise ConfigError(f"metric {f'{self.name}@{layer}'!r}: the model has layers 1 to {n_layers}")
        if head is not None:
            if not 1 <= head <= n_heads:
                raise ConfigError(f"metric {f'{self.name}@{layer}h{head}'!r}: the model has heads 1 to {n_heads}")
            return [f"{self.name}@{layer}h{head}"]
        if self.head_of and layer is None:  # the family: its value, and every head at every layer
            every = [f"{self.head_of}@{k}h{h}" for k in range(1, n_layers + 1) for h in range(1, n_heads + 1)]
            return [self.name, *every]
        siblings = [m for m in METRICS.values() if m.builtin and m.needs == self.needs and m.layered]
        if self.builtin and self.layers_on_request and layer is not None:  # the maps of layer K, aligned once
            return [f"{m.name}@{layer}" for m in siblings if m.layers_on_request]
        if self.builtin and self.needs == "layers" and layer is None:  # one forward gives every layer's tokens
            return [name for m in siblings for name in [m.name, *(f"{m.name}@{k}" for k in range(1, n_layers + 1))]]
        return [self.name if layer is None else f"{self.name}@{layer}"]

    def values(self, batch, layer: int | None = None, head: int | None = None) -> np.ndarray:
        """Per-image values on ``batch`` (``layer``: 1-based, None = last; ``head``: 1-based, None =
        averaged), checked for shape."""
        if head is not None:
            out = self.compute(batch, layer, head)
        else:
            out = self.compute(batch, layer) if self.layered else self.compute(batch)
        try:
            out = np.asarray(out, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"metric {self.name!r} returned {type(out).__name__}, not numbers: {exc}") from None
        if out.shape != (batch.size,):
            raise ConfigError(
                f"metric {self.name!r} returned {out.size} value(s) for a batch of {batch.size} images; "
                "return one number per image"
            )
        return out


METRICS: dict[str, Metric] = {}
"""name -> Metric, in registration order (built-ins first, from builtin.py)."""

DEFAULT_METRICS = (
    "cosine",
    "l2",
    "l2_normalized",
    "attention_correlation",
    "attention_inverse_mse",
    "patch_similarity",
    "edge_preservation",
    "detail_preservation",
)


RANKING_METRIC = "cosine"
"""The metric the report ranks the images that moved most by, when no rule names another."""


def register_metric(
    name: str,
    compute: Callable,
    *,
    needs: str = "embedding",
    higher_is_better: bool,
    description: str = "",
    replace: bool = False,
    version: str = "",
) -> Metric:
    """Add a metric the whole run measures, budgets, compares and reports like a built-in one.

    ``compute(batch) -> (B,) numbers``, one per image: ``batch`` is a ``metrics.Batch`` (clean and
    augmented embeddings, canvases, attention maps and hidden states, by what ``needs`` asks for).
    ``higher_is_better``: True for a similarity (1 = unchanged), False for a distance. Register in a
    ``conftest.py`` so every xdist worker and the controller know it. Cached values are keyed by
    ``compute``'s source code and ``version``: bump ``version`` when its behaviour changes otherwise
    (a helper it calls, a setting it reads).
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ConfigError(f"metric name {name!r} must be a Python identifier (letters, digits, _)")
    if needs not in NEEDS:
        raise ConfigError(f"metric {name!r}: needs={needs!r}; valid: {', '.join(NEEDS)}")
    if not callable(compute):
        raise ConfigError(f"metric {name!r}: compute must be a function of the batch")
    if not isinstance(higher_is_better, bool):
        raise ConfigError(f"metric {name!r}: higher_is_better must be True or False")
    existing = METRICS.get(name)
    if existing is not None and (existing.builtin or not replace):
        what = "a built-in metric" if existing.builtin else "already registered (pass replace=True)"
        raise ConfigError(f"metric {name!r} is {what}")
    metric = Metric(
        name,
        needs,
        higher_is_better,
        description or f"user metric {name}",
        compute,
        builtin=False,
        version=str(version),
        terminal_label=name[:10],
    )
    METRICS[name] = metric
    return metric


def split_layer(name: str) -> tuple[str, int | None]:
    """``"layer_cka@3"`` -> (``"layer_cka"``, 3); ``"attention_correlation@3h2"`` -> (..., 3);
    ``"cosine"`` -> (``"cosine"``, None)."""
    base, layer, _ = split_position(name)
    return base, layer


def split_position(name: str) -> tuple[str, int | None, int | None]:
    """``"attention_correlation@3h2"`` -> (``"attention_correlation"``, 3, 2): layer 3, head 2."""
    base, sep, where = name.partition("@")
    if not sep:
        return name, None, None
    layer, h, head = where.partition("h")
    if not layer.lstrip("-").isdigit() or (h and not head.lstrip("-").isdigit()):
        raise ConfigError(f"metric {name!r}: the part after '@' must be a layer number, or LAYERhHEAD (3h2)")
    return base, int(layer), int(head) if h else None


def layered_names() -> tuple[str, ...]:
    return tuple(m.name for m in METRICS.values() if m.layered)


def metric_info(name: str) -> Metric:
    base, layer, head = split_position(name)
    if base not in METRICS:
        raise ConfigError(f"unknown metric {name!r}; valid: {', '.join(METRICS)} (layer metrics also as NAME@LAYER)")
    if layer is not None and not METRICS[base].layered:
        raise ConfigError(f"metric {name!r}: only {', '.join(layered_names())} take '@LAYER'")
    if head is not None and not METRICS[base].heads:
        with_heads = ", ".join(m.name for m in METRICS.values() if m.heads)
        raise ConfigError(f"metric {name!r}: only {with_heads} take '@LAYERhHEAD'")
    return METRICS[base]


def needs_of(name: str) -> str:
    """What measuring ``name`` reads: its metric's need, or "heads" at one head (``NAME@LhH``)."""
    return "heads" if split_position(name)[2] is not None else metric_info(name).needs


def validate_metrics(names) -> tuple[str, ...]:
    names = tuple(names)
    for n in names:
        metric_info(n)
    if len(set(names)) != len(names):
        raise ConfigError(f"metric list {list(names)} names a metric twice")
    return names
