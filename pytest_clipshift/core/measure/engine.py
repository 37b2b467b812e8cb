"""The measuring engine: images x (augmentation, severity) x metrics -> ``RunResult``.

Clean embeddings are computed once per image and reused by every augmentation; images are processed
in chunks, so memory stays bounded however many images there are (attention is reduced to one map
per layer inside the forward pass). The next batch is augmented in a worker thread while the model
runs the current one. The parts: ``plan`` (cases, stored metrics, cache keys), ``augmenting``,
``scoring`` (forward pass and metric values), ``tally`` (what was gathered), ``views`` (the images
that moved most, for the report).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..data.images import ImageSet
from ..errors import ConfigError
from ..models.encoders import Encoder
from ..runs.results import RunResult, ShiftResult
from .augmenting import Augmenter, Job, augment_device
from .cache import EmbeddingCache
from .plan import CacheKeys, Plan, case_parameters, expand_pairs, make_plan
from .scoring import Scorer
from .settings import MeasureSettings
from .tally import Tally
from .views import worst_views

Progress = Callable[[int, int], None]
__all__ = ["CHUNK_MEMORY", "MeasureSettings", "chunk_for_canvas", "expand_pairs", "measure"]

CHUNK_MEMORY = 2 * 1024**3
"""What a chunk's canvases may take. Peak RSS grew by about 0.85 GB an image at a 4096-px canvas
(measured before this bound): about 16 bytes a canvas pixel (the uint8 canvas, its float copies,
the augmented versions)."""


def chunk_for_canvas(chunk_size: int, canvas_size) -> int:
    """``chunk_size``, lowered so a chunk of large canvases stays within ``CHUNK_MEMORY`` (224 px: 64)."""
    height, width = (canvas_size, canvas_size) if isinstance(canvas_size, int) else tuple(canvas_size)[:2]
    per_image = height * width * 3 * 16
    return max(1, min(chunk_size, CHUNK_MEMORY // per_image))


def measure(
    encoder: Encoder,
    images: ImageSet,
    augmentations: Iterable = ("identity", "gaussian_noise", "gaussian_blur"),
    *,
    severities: Sequence | None = None,
    settings: MeasureSettings | None = None,
    cache: EmbeddingCache | None = None,
    progress: Progress | None = None,
    text=None,
    **options,
) -> RunResult:
    """Measure how far ``encoder``'s embeddings and attention move under each augmentation.

    ``augmentations``: names (each measured at every one of ``severities``, default [3]) or
    (name, severity) pairs. ``settings`` (a ``MeasureSettings``), or its fields as keywords
    (``metrics``, ``seed``, ``batch_size``, ``chunk_size``, ``draws``, ``augment_device``,
    ``keep_embeddings``, ``overlay_metrics``): metrics are names from ``metrics.METRICS`` (built-in or
    registered); the text metrics need ``text=TextSpec(labels=[...])`` (see textalign.py). The same
    arguments give the same numbers: every random draw derives from the seed.
    """
    settings = MeasureSettings.of(settings, **options)
    if len(images) == 0:
        raise ConfigError(f"image set {images.source!r} is empty")
    plan = make_plan(encoder, expand_pairs(augmentations, severities), settings)
    measurement = _Measurement(encoder, images, plan, settings, cache, _text_scorer(plan, text, encoder, images))
    started = time.perf_counter()
    measurement.run(progress)
    results = [measurement.result(p) for p in range(plan.asked)]
    warnings = [plan.skipped_note] if plan.skipped_note else []
    warnings += unchanged_warnings(results)
    if cache is not None and cache.problem and cache.problem not in warnings:
        warnings.append(cache.problem)
    run_settings = {
        "metrics": list(plan.metrics),
        "batch_size": settings.batch_size,
        "chunk_size": measurement.chunk_size,
        "pairs": [[c.augmentation, c.level] for c in plan.cases[: plan.asked]],
        "draws": settings.draws,
        "canvas_size": list(encoder.canvas_size),
        "seconds": round(time.perf_counter() - started, 3),
        "cache": None if cache is None else {"dir": str(cache.directory), "hits": cache.hits, "misses": cache.misses},
    }
    return RunResult(
        model=dict(encoder.info),
        seed=settings.seed,
        image_names=list(images.names),
        image_hash=images.digest,
        image_source=images.source,
        results=results,
        clean_embeddings=measurement.tally.clean_embeddings(),
        settings=run_settings,
        warnings=warnings,
        view_distances=measurement.tally.view_distances(),
    )


def _text_scorer(plan: Plan, text, encoder, images):
    if "text" not in plan.needs:
        return None
    if text is None:
        raise ConfigError(
            "text metrics (zero_shot_flip, text_similarity_drop, direction_probe) need text=TextSpec(labels=...)"
        )
    from ..models.textalign import TextScorer

    return TextScorer(encoder, text, list(images.names))


def unchanged_warnings(results: list[ShiftResult]) -> list[str]:
    warnings = []
    for r in results:
        if r.augmentation != "identity" and r.unchanged_images == r.n_images:
            warnings.append(
                f"augmentation {r.key} left every image unchanged: it measures nothing; check its parameters"
            )
        elif r.augmentation != "identity" and r.unchanged_images:
            warnings.append(f"augmentation {r.key} left {r.unchanged_images} of {r.n_images} images unchanged")
    return warnings


class _Later:
    """A future that runs its call when its result is asked for, in the asking thread."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def result(self):
        return self.fn(*self.args)


class _Measurement:
    """One ``measure`` call: chunks of images through the cache, the augmenter and the scorer."""

    def __init__(self, encoder, images, plan: Plan, settings: MeasureSettings, cache, text_scorer):
        self.encoder, self.images, self.plan, self.settings, self.cache = encoder, images, plan, settings, cache
        device = augment_device(settings.augment_device, encoder)
        self.keys = CacheKeys(encoder, images.hashes, settings, plan, device) if cache is not None else None
        self.augment = Augmenter(
            plan.cases,
            settings.seed,
            images.hashes,
            device,
            encoder=encoder,
            attack=settings.attack,
            text_scorer=text_scorer,
        )
        self.scorer = Scorer(encoder, images, plan, text_scorer, settings.sink_factor)
        self.tally = Tally(plan, len(images), settings.keep_embeddings)
        self.chunk_size = chunk_for_canvas(settings.chunk_size, encoder.canvas_size)
        self.dim = encoder.info.get("embedding_dim")  # checks cache entries when the encoder states it
        self.total, self.done, self.progress = len(images) * (1 + len(plan.cases)), 0, None

    def run(self, progress: Progress | None) -> None:
        self.progress = progress
        pool = ThreadPoolExecutor(max_workers=1)  # augments the next batch while the model runs this one
        try:
            for start in range(0, len(self.images), self.chunk_size):
                self.chunk(list(range(start, min(start + self.chunk_size, len(self.images)))), pool)
        finally:
            pool.shutdown()
            if self.cache is not None:  # what was measured is kept, even when a later image failed
                self.cache.flush()

    def _tick(self, count: int) -> None:
        self.done += count
        if self.progress is not None:
            self.progress(self.done, self.total)

    def _from_cache(self, idx: list[int]) -> tuple[list[Job], dict[int, np.ndarray]]:
        """The jobs the cache cannot answer, and the clean embeddings it can."""
        jobs, clean = [], {}
        for i in idx:
            if self.cache is not None:
                hit = self.cache.get(self.encoder.fingerprint, self.keys.clean(i), dim=self.dim)
                if hit is not None:
                    clean[i] = hit[0]
                    self.dim = self.dim or hit[0].shape[0]  # unstated: the first entry read decides
            for p, case in enumerate(self.plan.cases):
                job = Job(p, i)
                if self.cache is not None:
                    job.key = self.keys.case(i, case)
                    hit = self.cache.get(self.encoder.fingerprint, job.key, self.plan.stored_metrics, self.dim)
                    if hit is not None:
                        self.tally.store(p, i, hit[0], hit[1], unchanged=bool(hit[1].get("_unchanged", 0)))
                        continue
                jobs.append(job)
        return jobs, clean

    def chunk(self, idx: list[int], pool: ThreadPoolExecutor) -> None:
        self.scorer.new_chunk()
        jobs, clean_cached = self._from_cache(idx)
        per_image = 1 + len(self.plan.cases)
        if not jobs and len(clean_cached) == len(idx):
            for i in idx:
                self.tally.clean[i] = clean_cached[i]
            self.tally.end_chunk(idx)
            self._tick(len(idx) * per_image)
            return
        self._tick(len(idx) * per_image - len(jobs) - len(idx))
        canvases = {i: self.encoder.to_canvas(self.images.arrays[i]) for i in idx}
        clean = self.scorer.encode(np.stack([canvases[i] for i in idx]), [(i, None) for i in idx])
        self.dim = clean.embeddings.shape[1]  # what the model really returns decides
        rows_of = {i: k for k, i in enumerate(idx)}
        for i in idx:
            self.tally.clean[i] = clean.embeddings[rows_of[i]]
            if self.cache is not None:
                self.cache.put(self.encoder.fingerprint, self.keys.clean(i), clean.embeddings[rows_of[i]], {})
        self._tick(len(idx))
        # a batch holds one case's images only: an image's numbers then never depend on which other
        # cases run in the same process, so xdist workers and CI shards reproduce a single-process run
        # bit for bit (CPU GEMMs differ in the last bits with batch composition)
        size = self.settings.batch_size
        batches = []
        for p in range(len(self.plan.cases)):
            of_case = [j for j in jobs if j.case == p]
            batches += [of_case[b : b + size] for b in range(0, len(of_case), size)]

        def start(batch):  # an attack runs the model: in this thread, when its turn comes
            return (
                _Later(self.augment, batch, canvases)
                if self.augment.uses_model(batch)
                else pool.submit(self.augment, batch, canvases)
            )

        pending = start(batches[0]) if batches else None
        for b, batch in enumerate(batches):
            augmented = pending.result()
            if b + 1 < len(batches):
                pending = start(batches[b + 1])
            enc, rows = self.scorer.score(batch, augmented, canvases, clean, rows_of)
            for k, job in enumerate(batch):
                unchanged = not augmented[k].changed
                self.tally.store(job.case, job.image, enc.embeddings[k], rows[k], unchanged)
                if self.cache is not None:
                    entry = {**rows[k], "_unchanged": int(unchanged)}
                    self.cache.put(self.encoder.fingerprint, job.key, enc.embeddings[k], entry)
            self._tick(len(batch))
        self.tally.end_chunk(idx)

    def result(self, p: int) -> ShiftResult:
        """The asked case ``p`` as a ``ShiftResult``, with the metrics computed across its draws."""

        case, tally = self.plan.cases[p], self.tally
        values = {m: v.copy() for m, v in tally.values[p].items()}
        views = []
        if self.settings.overlay_metrics and case.augmentation != "identity" and not case.is_probe:
            views = worst_views(self, p, self.settings.overlay_metrics, self.settings.overlay_count)
        return ShiftResult(
            augmentation=case.augmentation,
            severity=case.severity,
            image_names=list(self.images.names),
            values=values,
            seed=self.settings.seed,
            parameters=case_parameters(case, self.settings.attack),
            unchanged_images=tally.unchanged[p],
            embeddings=tally.embeddings_of(p),
            strength=case.strength,
            views=views,
        )
