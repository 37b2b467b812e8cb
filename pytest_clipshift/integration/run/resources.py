"""What a run measures with, loaded lazily once per process: the encoder, the image set, the cache.
A load that failed is remembered and raised again, never retried per item."""

from __future__ import annotations

from ...core.errors import ClipShiftError
from .state import ProcessState

DEMO_SCENES_DEFAULT = 32


def device_for_worker(device: str, worker_index: int | None) -> str:
    """The configured device; xdist workers spread over several GPUs (gw0 -> cuda:0, gw1 -> cuda:1, ...)."""
    if worker_index is not None and device in ("auto", "cuda"):
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count > 1:
            return f"cuda:{worker_index % count}"
    return device


class Resources:
    def __init__(self, cfg, state: ProcessState, needs_attention: bool):
        self.cfg, self.state, self.needs_attention = cfg, state, needs_attention
        self.worker_index: int | None = None  # set under xdist
        self._encoder = None
        self._images = None
        self._cache = None
        self._error: ClipShiftError | None = None

    @property
    def encoder(self):
        if self._error is not None:
            raise self._error
        if self._encoder is None:
            from ...core.models.encoders import load_encoder
            from ..threads import apply_budget

            budget = apply_budget()
            if budget is not None:
                self.state.threads = budget
            try:
                self._encoder = load_encoder(
                    self.cfg.model,
                    device_for_worker(self.cfg.device, self.worker_index),
                    self.cfg.precision,
                    attention=self.needs_attention,
                    canvas_size=self.cfg.canvas_size,
                    trust_remote_code=self.cfg.trust_remote_code,
                )
            except ClipShiftError as exc:
                self._error = exc
                raise
            self.state.model = dict(self._encoder.info)
        return self._encoder

    @property
    def images(self):
        if self._images is None:
            from ...core.data.images import IMAGE_SUFFIXES, load_image_set

            max_images = self.cfg.max_images
            if self.cfg.images.startswith("demo-scenes") and max_images is None:
                max_images = DEMO_SCENES_DEFAULT
            self._images = load_image_set(
                self.cfg.images,
                max_images=max_images,
                seed=self.cfg.seed,
                root=self.cfg.root,
                columns={
                    "image": self.cfg.image_column,
                    "label": self.cfg.label_column,
                    "caption": self.cfg.caption_column,
                },
                split=self.cfg.split,
            )
            if self._images.skipped:
                self.state.add_warning(
                    f"skipped {len(self._images.skipped)} file(s) of {self.cfg.images} that are not images by their "
                    f"extension ({', '.join(IMAGE_SUFFIXES)}): {', '.join(self._images.skipped)}"
                )
            self.state.images = {
                "count": len(self._images),
                "hash": self._images.digest,
                "source": self._images.source,
                "names": list(self._images.names),
            }
        return self._images

    @property
    def cache(self):
        if self._cache is None and self.cfg.cache_dir is not None:
            from ...core.measure.cache import EmbeddingCache

            self._cache = EmbeddingCache(self.cfg.cache_dir)
        return self._cache
