"""The measuring engine: images x (augmentation, severity) x metrics -> ``RunResult``.

Clean embeddings are computed once per image and reused by every augmentation; images are processed
in chunks, so memory stays bounded however many images there are (attention is reduced to one map
per layer inside the forward pass). The next batch is augmented in a worker thread while the model
runs the current one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..augment.augmentations import apply_case, augmentation_for
from ..cases import DEFAULT_SEVERITY, Case
from ..data.images import ImageSet
from ..errors import ConfigError, NonFiniteEmbeddingError
from ..metrics import DEFAULT_METRICS, METRICS, Batch, metric_info, split_layer, validate_metrics
from ..metrics import functional as M
from ..models.encoders import Encoder
from ..runs.results import RunResult, ShiftResult
from .cache import EmbeddingCache

Progress = Callable[[int, int], None]


@dataclass
class _Job:
    pair: int  # index into the pair list
    image: int  # index into the image set
    key: str | None = None


def expand_pairs(augmentations: Iterable, severities: Sequence | None = None) -> list[Case]:
    """Names (each at every one of ``severities``, default [3]), (name, severity) pairs and ``Case``
    objects -> validated Cases, in order, no repeats. An unknown name or level is a ``ConfigError``."""
    from ..augment.augmentations import expand_names

    sevs = list(severities) if severities is not None else [DEFAULT_SEVERITY]
    cases: list[Case] = []
    items = list(augmentations)
    items = [x for i in items for x in (expand_names([i]) if isinstance(i, str) else [i])]  # "imagenet-c", "study"
    for item in items:
        new = [Case(item, s) for s in sevs] if isinstance(item, str) else [Case.of(item)]
        for case in new:
            augmentation_for(case)
            if case not in cases:
                cases.append(case)
    if not cases:
        raise ConfigError("no augmentations to measure")
    return cases


def _augment_device(choice, encoder):
    """The torch device augmentation runs on, or None for the CPU reference path."""
    if choice is None or choice == "cpu":
        return None
    import torch

    if choice == "auto":
        device = getattr(encoder, "device", None)
        return device if getattr(device, "type", "cpu") == "cuda" else None
    device = torch.device(choice) if isinstance(choice, str) else choice
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"augment device {choice!r}: torch {torch.__version__} sees no CUDA device; use auto or cpu")
    return device


CHUNK_MEMORY = 2 * 1024**3
"""What a chunk's canvases may take. Peak RSS grew by about 0.85 GB an image at a 4096-px canvas
(measured before this bound): about 16 bytes a canvas pixel (the uint8 canvas, its float copies,
the augmented versions)."""


def _same_maps(metric, asked) -> bool:
    """A built-in layered metric computed from the same per-layer maps as ``asked``."""
    return metric.builtin and metric.layered and metric.layers_on_request and metric.needs == asked.needs


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
    metrics: Sequence[str] = DEFAULT_METRICS,
    seed: int = 0,
    batch_size: int = 32,
    chunk_size: int = 64,
    cache: EmbeddingCache | None = None,
    progress: Progress | None = None,
    keep_embeddings: bool = True,
    text=None,
    draws: int = 1,
    augment_device=None,
) -> RunResult:
    """Measure how far ``encoder``'s embeddings and attention move under each augmentation.

    ``augmentations``: names (each measured at every one of ``severities``, default [3]) or
    (name, severity) pairs. ``metrics``: names from ``metrics.METRICS`` (built-in or registered); the text metrics need
    ``text=TextSpec(labels=[...])`` (see textalign.py). ``draws``: how many independent random draws
    of each case to take (draw 0 is the case's own; the others feed ``divergence_radius``).
    ``augment_device``: None or "cpu" (the reference path), "auto" (the model's GPU, if any), or a
    torch device: the cases with a batched torch version (``augment_torch.py``) are augmented there.
    The same arguments give the same numbers: every random draw derives from ``seed``.
    """
    if len(images) == 0:
        raise ConfigError(f"image set {images.source!r} is empty")
    if batch_size < 1 or chunk_size < 1:
        raise ConfigError(f"batch_size and chunk_size must be positive, got {batch_size} and {chunk_size}")
    metric_names = validate_metrics(metrics)
    skipped_note = None
    attention_note = str(encoder.info.get("attention", ""))
    if attention_note.startswith("not available"):  # a convolutional tower: no attention maps, no layer tokens
        dropped = [m for m in metric_names if metric_info(m).needs in ("attention", "layers")]
        if dropped:
            metric_names = tuple(m for m in metric_names if m not in dropped)
            skipped_note = (
                f"model {encoder.name}: attention maps and layer tokens are {attention_note}; "
                f"not measured: {', '.join(dropped)}"
            )
    if not isinstance(draws, int) or isinstance(draws, bool) or not 1 <= draws <= 64:
        raise ConfigError(f"draws = {draws!r}: must be a whole number between 1 and 64")
    across = [METRICS[m] for m in metric_names if metric_info(m).needs == "draws"]  # computed across draws, below
    if across and draws < 2:
        raise ConfigError(
            f"{', '.join(m.name for m in across)} needs at least 2 draws of each case: --clipshift-draws K (K >= 2), "
            "or draws=K"
        )
    metric_names = tuple(m for m in metric_names if metric_info(m).needs != "draws")
    needs = {metric_info(m).needs for m in metric_names}
    scorer = None
    if "text" in needs:
        if text is None:
            raise ConfigError(
                "text metrics (zero_shot_flip, text_similarity_drop, direction_probe) need text=TextSpec(labels=...)"
            )
        from ..models.textalign import TextScorer

        scorer = TextScorer(encoder, text, list(images.names))
    pairs = expand_pairs(augmentations, severities)
    main = len(pairs)
    if draws > 1:  # the extra draws of every case that draws anything at random (identity draws nothing)
        pairs = pairs + [
            Case(c.augmentation, c.severity, c.strength, draw=k)
            for k in range(1, draws)
            for c in pairs
            if c.augmentation != "identity"
        ]
    want_attention = "attention" in needs
    want_layers = "layers" in needs
    run = _Run(
        encoder,
        images,
        pairs,
        metric_names,
        seed,
        batch_size,
        cache,
        progress,
        want_attention,
        want_layers,
        scorer,
        _augment_device(augment_device, encoder),
    )
    chunk_size = chunk_for_canvas(chunk_size, encoder.canvas_size)
    started = time.perf_counter()
    try:
        for start in range(0, len(images), chunk_size):
            run.chunk(list(range(start, min(start + chunk_size, len(images)))))
    finally:
        run.pool.shutdown()
        if cache is not None:  # what was measured is kept, even when a later image failed
            cache.flush()
    results = []
    for p, case in enumerate(pairs[:main]):
        aug, level = augmentation_for(case)
        values = {m: np.asarray(run.values[p][m], dtype=np.float64) for m in run.stored_metrics}
        same = [
            q
            for q, c in enumerate(pairs)
            if (c.augmentation, c.severity, c.strength) == (case.augmentation, case.severity, case.strength)
        ]
        for metric in across:  # a case that draws nothing at random (identity) has one draw: no spread
            values[metric.name] = (
                np.array(
                    [metric.across_draws(np.stack([run.embeddings[q][i] for q in same])) for i in range(len(images))]
                )
                if len(same) > 1
                else np.zeros(len(images))
            )
        emb = np.stack(run.embeddings[p]) if keep_embeddings else None
        results.append(
            ShiftResult(
                case.augmentation,
                case.severity,
                list(images.names),
                values,
                seed,
                aug.parameters(level),
                run.unchanged[p],
                emb,
                strength=case.strength,
            )
        )
    warnings = [skipped_note] if skipped_note else []
    for r in results:
        if r.augmentation != "identity" and r.unchanged_images == r.n_images:
            warnings.append(
                f"augmentation {r.key} left every image unchanged: it measures nothing; check its parameters"
            )
        elif r.augmentation != "identity" and r.unchanged_images:
            warnings.append(f"augmentation {r.key} left {r.unchanged_images} of {r.n_images} images unchanged")
    clean = np.stack(run.clean_embeddings) if keep_embeddings else None
    if cache is not None and cache.problem and cache.problem not in warnings:
        warnings.append(cache.problem)
    settings = {
        "metrics": list(metric_names),
        "batch_size": batch_size,
        "chunk_size": chunk_size,
        "pairs": [[c.augmentation, c.level] for c in pairs[:main]],
        "draws": draws,
        "canvas_size": list(encoder.canvas_size),
        "seconds": round(time.perf_counter() - started, 3),
        "cache": None if cache is None else {"dir": str(cache.directory), "hits": cache.hits, "misses": cache.misses},
    }
    return RunResult(
        dict(encoder.info),
        seed,
        list(images.names),
        images.digest,
        images.source,
        results,
        clean,
        settings,
        warnings=warnings,
    )


class _Run:
    """The state of one ``measure`` call."""

    def __init__(
        self,
        encoder,
        images,
        pairs,
        metric_names,
        seed,
        batch_size,
        cache,
        progress,
        want_attention,
        want_layers,
        scorer=None,
        augment_device=None,
    ):
        self.augment_device = augment_device
        self.encoder, self.images, self.pairs = encoder, images, pairs
        self.metric_names, self.seed, self.batch_size = metric_names, seed, batch_size
        self.cache, self.progress = cache, progress
        self.want_attention, self.want_layers = want_attention, want_layers
        self.scorer = scorer  # text metrics (textalign.TextScorer), or None
        self.stored_metrics = self._stored_metric_names()
        self.metric_identity = [m if metric_info(m).builtin else metric_info(m).identity for m in self.stored_metrics]
        # the built-in pixel metrics a GPU batch computes in one upload
        self.pixel_names = {
            m for m in self.stored_metrics if metric_info(m).needs == "pixels" and metric_info(m).builtin
        }
        n = len(images)
        self.values = [{m: [np.nan] * n for m in self.stored_metrics} for _ in pairs]
        self.embeddings: list[list] = [[None] * n for _ in pairs]
        self.clean_embeddings: list = [None] * n
        self.unchanged = [0] * len(pairs)
        self.total = n * (1 + len(pairs))
        self.done = 0
        # augmenting runs beside the model: a few threads (OpenCV and numpy release the GIL)
        from .thread_budget import thread_budget

        cores = thread_budget() or os.cpu_count() or 2  # under xdist: this worker's share of the cores
        self.workers = max(1, min(8, cores // 2))
        self.pool = ThreadPoolExecutor(max_workers=self.workers + 1)
        self.edge_maps: dict[int, np.ndarray] = {}
        self.fingerprint = encoder.fingerprint
        self._dim = encoder.info.get("embedding_dim")  # checks cache entries when the encoder states it
        self.prep_signature = str(encoder.info.get("preprocessing")) + str(encoder.canvas_size)

    def _stored_metric_names(self) -> list[str]:
        names = []
        if self.want_attention:  # the built-in attention metrics come from the same maps: keep them all
            names += [m.name for m in METRICS.values() if m.builtin and m.needs == "attention"]
        for m in self.metric_names:
            base, layer = split_layer(m)
            info = metric_info(base)
            if info.layers_on_request and layer is not None:
                n_layers = int(self.encoder.info.get("layers", 0))
                if not 1 <= layer <= n_layers:
                    raise ConfigError(f"metric {m!r}: the model has layers 1 to {n_layers}")
                # the built-in metrics of the same maps at that layer: computed together, kept together
                names += [f"{x.name}@{layer}" for x in METRICS.values() if _same_maps(x, info)]
                continue
            if metric_info(m).needs == "layers" and metric_info(m).builtin and layer is None:
                n_layers = int(self.encoder.info.get("layers", 0))
                # every built-in layer metric comes from the same tokens: keep them all, at every layer
                for family in (x.name for x in METRICS.values() if x.builtin and x.needs == "layers" and x.layered):
                    names += [family] + [f"{family}@{k}" for k in range(1, n_layers + 1)]
            else:
                names.append(m)
        out = []
        for n in names:
            if n not in out:
                out.append(n)
        return out

    def _key(self, image: int, case: Case | None) -> str:
        """The cache key of ``image`` under ``case`` (None: the clean image)."""
        if case is None:
            name, params, severity = "clean", {}, "-"
        else:
            aug, severity = augmentation_for(case)
            name, params = aug.name, aug.parameters(severity)
            if case.draw:  # another draw of the case: its own entry (draw 0 keeps the keys it always had)
                name = f"{name}#draw{case.draw}"
            if self._on_device(case):  # other bytes than the CPU path's: other entries
                name = f"{name}@torch-{self.augment_device.type}"
        # batch size is part of the key: CPU kernels change an embedding's last bits (up to ~3e-6 in
        # cosine) with the batch it ran in, so a hit returns exactly what this batch size computes
        return EmbeddingCache.key(
            self.fingerprint,
            self.images.hashes[image],
            name,
            params,
            str(severity),
            self.seed,
            self.prep_signature,
            self.metric_identity,
            self.batch_size,
        )

    def _tick(self, count: int) -> None:
        self.done += count
        if self.progress is not None:
            self.progress(self.done, self.total)

    # -------------------------------------------------------------------------------------------
    def chunk(self, idx: list[int]) -> None:
        self.edge_maps.clear()  # per chunk: memory stays bounded
        jobs: list[_Job] = []
        clean_cached = {}
        for i in idx:
            if self.cache is not None:
                key = self._key(i, None)
                hit = self.cache.get(self.fingerprint, key, dim=self._dim)
                if hit is not None:
                    clean_cached[i] = hit[0]
            for p, case in enumerate(self.pairs):
                job = _Job(p, i)
                if self.cache is not None:
                    job.key = self._key(i, case)
                    hit = self.cache.get(self.fingerprint, job.key, self.stored_metrics, self._dim)
                    if hit is not None:
                        self._store(job, hit[0], hit[1], unchanged=bool(hit[1].get("_unchanged", 0)))
                        continue
                jobs.append(job)
        if not jobs and len(clean_cached) == len(idx):
            for i in idx:
                self.clean_embeddings[i] = clean_cached[i]
            self._tick(len(idx) * (1 + len(self.pairs)))
            return
        self._tick(len(idx) * (1 + len(self.pairs)) - len(jobs) - len(idx))
        canvases = {i: self.encoder.to_canvas(self.images.arrays[i]) for i in idx}
        clean = self._encode(np.stack([canvases[i] for i in idx]), [(i, None) for i in idx])
        self._dim = clean.embeddings.shape[1]  # what the model really returns decides
        pos = {i: k for k, i in enumerate(idx)}
        for i in idx:
            self.clean_embeddings[i] = clean.embeddings[pos[i]]
            if self.cache is not None:
                self.cache.put(self.fingerprint, self._key(i, None), clean.embeddings[pos[i]], {})
        self._tick(len(idx))
        # a batch holds one augmentation's images only: an image's numbers then never depend on which
        # other augmentations run in the same process, so xdist workers and CI shards reproduce a
        # single-process run bit for bit (CPU GEMMs differ in the last bits with batch composition)
        batches = []
        for p in range(len(self.pairs)):
            of_pair = [j for j in jobs if j.pair == p]
            batches += [of_pair[b : b + self.batch_size] for b in range(0, len(of_pair), self.batch_size)]
        pending = self.pool.submit(self._augment, batches[0], canvases) if batches else None
        for b, batch in enumerate(batches):
            augmented = pending.result()
            if b + 1 < len(batches):
                pending = self.pool.submit(self._augment, batches[b + 1], canvases)
            self._measure_batch(batch, augmented, canvases, clean, pos)
            self._tick(len(batch))

    def _on_device(self, case: Case) -> bool:
        if self.augment_device is None:
            return False
        from ..augment.augment_torch import has_device_version

        return has_device_version(case)

    def _augment(self, batch: list[_Job], canvases: dict[int, np.ndarray]):
        case = self.pairs[batch[0].pair] if batch else None  # a batch holds one case's images
        if case is not None and self._on_device(case):
            from ..augment.augment_torch import apply_batch
            from ..augment.augmentations import Augmented, draw_seed

            aug, level = augmentation_for(case)
            seeds = [draw_seed(self.seed, self.images.hashes[j.image], aug.name, level, case.draw) for j in batch]
            clean = np.stack([canvases[j.image] for j in batch])
            out, coords = apply_batch(case, clean, seeds, self.augment_device)
            return [
                Augmented(o, None if coords is None else coords[i], changed=not np.array_equal(o, c))
                for i, (o, c) in enumerate(zip(out, clean))
            ]

        def one(job):
            return apply_case(self.pairs[job.pair], canvases[job.image], self.seed, self.images.hashes[job.image])

        if self.workers == 1 or len(batch) < 4:
            return [one(job) for job in batch]
        with ThreadPoolExecutor(max_workers=self.workers) as inner:
            return list(inner.map(one, batch))

    def _encode(self, canvases: np.ndarray, labels: list[tuple[int, Case | None]]):
        enc = self.encoder.encode(canvases, attention=self.want_attention, hidden_states=self.want_layers)
        bad = ~np.isfinite(enc.embeddings).all(axis=1)
        if bad.any():
            k = int(np.argmax(bad))
            i, case = labels[k]
            what = "the clean image" if case is None else f"augmentation {case.key}"
            raise NonFiniteEmbeddingError(
                f"model {self.encoder.name} produced a NaN/inf embedding for image {self.images.names[i]!r} under "
                f"{what} (precision {self.encoder.info.get('precision')}; fp16 overflows are the usual cause: try "
                "bf16 or fp32)"
            )
        return enc

    def _measure_batch(self, batch, augmented, canvases, clean, pos) -> None:
        aug_imgs = np.stack([a.image for a in augmented])
        enc = self._encode(aug_imgs, [(j.image, self.pairs[j.pair]) for j in batch])
        rows = np.array([pos[j.image] for j in batch])
        ce = clean.embeddings[rows]
        names = [self.pairs[j.pair].augmentation for j in batch]
        text_scores = None
        if self.scorer is not None:
            image_index = np.array([j.image for j in batch])
            text_scores = lambda: self.scorer.scores(ce, enc.embeddings, image_index, names)
        shared = Batch(
            clean_embeddings=ce,
            augmented_embeddings=enc.embeddings,
            clean_images=np.stack([canvases[j.image] for j in batch]),
            augmented_images=aug_imgs,
            coords=[a.coords for a in augmented],
            augmentations=names,
            image_names=[self.images.names[j.image] for j in batch],
            clean_attention=clean.attention[rows] if self.want_attention else None,
            augmented_attention=enc.attention if self.want_attention else None,
            clean_hidden=clean.hidden_states[rows] if self.want_layers else None,
            augmented_hidden=enc.hidden_states if self.want_layers else None,
            grid=getattr(self.encoder, "grid", None),
            device=getattr(self.encoder, "device", None),
            # one edge map per clean image, reused by every augmentation of it
            clean_edges=lambda: np.stack([self._clean_edges(j.image, canvases) for j in batch]),
            text_scores=text_scores,
            pixel_names=self.pixel_names,
        )
        values = {}
        for m in self.stored_metrics:
            base, layer = split_layer(m)
            values[m] = METRICS[base].values(shared, layer)
        for k, job in enumerate(batch):
            row = {m: float(values[m][k]) for m in self.stored_metrics}
            unchanged = not augmented[k].changed
            self._store(job, enc.embeddings[k], row, unchanged)
            if self.cache is not None and job.key is not None:
                self.cache.put(self.fingerprint, job.key, enc.embeddings[k], {**row, "_unchanged": int(unchanged)})

    def _clean_edges(self, image: int, canvases) -> np.ndarray:
        if image not in self.edge_maps:
            self.edge_maps[image] = M.edge_map(M.grey(canvases[image][None]))[0]
        return self.edge_maps[image]

    def _store(self, job: _Job, embedding, row: dict, unchanged: bool) -> None:
        for m in self.stored_metrics:
            self.values[job.pair][m][job.image] = row[m]
        self.embeddings[job.pair][job.image] = embedding
        if unchanged:
            self.unchanged[job.pair] += 1
