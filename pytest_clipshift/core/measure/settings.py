"""``MeasureSettings``: how a measurement is taken, built once and passed down whole (the plugin builds
it from its options, the Python API from ``measure``'s keywords)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from ..augment.adversarial import AttackSettings
from ..errors import ConfigError
from ..metrics import DEFAULT_METRICS


@dataclass(frozen=True)
class MeasureSettings:
    """Every choice that decides a measured number, besides the model, the images and the cases.

    ``draws``: independent random draws of each case (draw 0 is the case's own; the others feed the
    metrics computed across draws). ``augment_device``: None or "cpu" (the reference path), "auto"
    (the model's GPU, if any) or a torch device. ``keep_embeddings``: keep every augmented embedding
    (the report's distance matrix and dendrogram). ``overlay_metrics``: the metrics whose most-moved
    images are kept, as measured, for the report (empty: none).
    """

    metrics: tuple[str, ...] = DEFAULT_METRICS
    seed: int = 0
    batch_size: int = 32
    chunk_size: int = 64
    draws: int = 1
    augment_device: Any = None
    keep_embeddings: bool = True
    overlay_metrics: tuple[str, ...] = ()
    overlay_count: int = 2
    attack: AttackSettings = AttackSettings()  # the adversarial cases' loss, steps, method, restarts
    sink_factor: float = 10.0  # a sink token's norm exceeds this times its image's median patch-token norm

    def __post_init__(self):
        object.__setattr__(self, "metrics", tuple(self.metrics))
        object.__setattr__(self, "overlay_metrics", tuple(self.overlay_metrics))
        if self.batch_size < 1 or self.chunk_size < 1:
            raise ConfigError(
                f"batch_size and chunk_size must be positive, got {self.batch_size} and {self.chunk_size}"
            )
        draws = self.draws
        if not isinstance(draws, int) or isinstance(draws, bool) or not 1 <= draws <= 64:
            raise ConfigError(f"draws = {draws!r}: must be a whole number between 1 and 64")

    @classmethod
    def of(cls, settings: MeasureSettings | None = None, **options) -> MeasureSettings:
        """``settings`` with ``options`` replaced; an unknown option is a ``ConfigError`` naming it."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise ConfigError(f"unknown measure option(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}")
        base = {f.name: getattr(settings, f.name) for f in fields(cls)} if settings is not None else {}
        return cls(**{**base, **options})


DEFAULT_SETTINGS = MeasureSettings()
