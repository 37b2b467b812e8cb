"""Augmenting one batch of (image, case) jobs: on the CPU reference path (albumentations, OpenCV,
numpy; a few threads, which release the GIL) or, for cases with a torch version, on a torch device
in one call per batch."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..augment.augmentations import Augmented, apply_case, augmentation_for, draw_seed
from ..cases import Case
from ..errors import ConfigError
from .plan import on_device


@dataclass
class Job:
    case: int  # index into the plan's cases
    image: int  # index into the image set
    key: str | None = None  # its cache key, when a cache is used


def augment_device(choice, encoder):
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


class Augmenter:
    """Augments batches of one case's jobs, deterministically for the seed and each image's hash; an
    adversarial case attacks ``encoder`` (its labels and prompts from ``text_scorer``)."""

    def __init__(
        self,
        cases: tuple[Case, ...],
        seed: int,
        image_hashes,
        device=None,
        *,
        encoder=None,
        attack=None,
        text_scorer=None,
    ):
        from .thread_budget import thread_budget

        self.cases, self.seed, self.hashes, self.device = cases, seed, image_hashes, device
        self.encoder, self.attack, self.text_scorer = encoder, attack, text_scorer
        cores = thread_budget() or os.cpu_count() or 2  # under xdist: this worker's share of the cores
        self.workers = max(1, min(8, cores // 2))

    def uses_model(self, batch: list[Job]) -> bool:
        """An attack's batch: it runs the model, so never beside another forward (hooks, paths)."""
        return bool(batch) and augmentation_for(self.cases[batch[0].case])[0].kind == "adversarial"

    def __call__(self, batch: list[Job], canvases: dict[int, np.ndarray]) -> list[Augmented]:
        case = self.cases[batch[0].case] if batch else None  # a batch holds one case's images
        if case is not None and augmentation_for(case)[0].kind == "adversarial":
            return self._attack(case, batch, canvases)
        if case is not None and on_device(case, self.device):
            return self._on_device(case, batch, canvases)

        def one(job: Job) -> Augmented:
            return apply_case(self.cases[job.case], canvases[job.image], self.seed, self.hashes[job.image])

        if self.workers == 1 or len(batch) < 4:
            return [one(job) for job in batch]
        with ThreadPoolExecutor(max_workers=self.workers) as inner:
            return list(inner.map(one, batch))

    def _attack(self, case: Case, batch: list[Job], canvases) -> list[Augmented]:
        from ..augment.adversarial import attack

        aug, level = augmentation_for(case)
        seeds = [draw_seed(self.seed, self.hashes[j.image], aug.name, level, case.draw) for j in batch]
        clean = np.stack([canvases[j.image] for j in batch])
        labels = label_text = None
        if self.text_scorer is not None and self.text_scorer.own is not None:
            labels, label_text = self.text_scorer.own[[j.image for j in batch]], self.text_scorer.label_text
        objective = aug.name.rpartition(".")[2]
        eps = aug.parameters(level)["eps"]
        out, _ = attack(self.encoder, clean, seeds, eps, objective, self.attack, labels, label_text)
        return [Augmented(o, None, changed=not np.array_equal(o, c)) for o, c in zip(out, clean)]

    def _on_device(self, case: Case, batch: list[Job], canvases) -> list[Augmented]:
        from ..augment.device_apply import apply_batch

        aug, level = augmentation_for(case)
        seeds = [draw_seed(self.seed, self.hashes[j.image], aug.name, level, case.draw) for j in batch]
        clean = np.stack([canvases[j.image] for j in batch])
        out, coords = apply_batch(case, clean, seeds, self.device)
        return [
            Augmented(o, None if coords is None else coords[i], changed=not np.array_equal(o, c))
            for i, (o, c) in enumerate(zip(out, clean))
        ]
