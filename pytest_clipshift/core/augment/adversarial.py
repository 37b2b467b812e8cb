"""The worst case inside a small budget: l-inf-bounded perturbations of the canvas (pixels in [0, 1]
before the model's normalisation) that move the model as far as possible, found by gradient steps.

* ``adversarial.embedding``: minimises the cosine similarity of each image's embedding to its clean
  embedding (FARE's embedding-space attack, Schlarmann et al. 2024; ``loss="l2"``: its unnormalised
  squared L2 distance, maximised).
* ``adversarial.zero_shot``: maximises the cross-entropy of the image's own label over the label
  prompts (the zero-shot classifier), so ``zero_shot_accuracy`` on it is robust zero-shot accuracy.
* ``adversarial.random_sign``: the typical case of the same size: each pixel moved by +-eps at
  random, the line the worst case is read against.

Severities 1-5 are eps = 0.5, 1, 2, 4, 8 (/255). Projected gradient descent (Madry et al. 2018):
a random start drawn uniformly from [-eps, eps] by each image's own seeded generator, ``steps``
signed-gradient steps of ``2.5 * eps / steps``, each projected back to the eps-ball and to [0, 1];
the perturbation kept is the best one seen, so the loss never gets worse over the steps. APGD
(Croce & Hein 2020: a step size that halves when progress stalls, momentum 0.75) is the option.
The attacked canvas stays in float, unquantised: 0.5/255 does not survive rounding to uint8.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ConfigError

EPS_255 = (0.5, 1.0, 2.0, 4.0, 8.0)  # severities 1-5, in 1/255 of full scale
LOSSES = ("cosine", "l2")
METHODS = ("pgd", "apgd")
PREFIX = "adversarial."


@dataclass(frozen=True)
class AttackSettings:
    loss: str = "cosine"  # adversarial.embedding's loss: cosine similarity, or FARE's squared L2
    steps: int = 10
    method: str = "pgd"
    restarts: int = 1  # random starts; the strongest kept, image by image

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ConfigError(f"attack loss {self.loss!r}: valid: {', '.join(LOSSES)}")
        if self.method not in METHODS:
            raise ConfigError(f"attack method {self.method!r}: valid: {', '.join(METHODS)}")
        for name in ("steps", "restarts"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
                raise ConfigError(f"attack {name} = {value!r}: must be a whole number between 1 and 1000")

    def parameters(self, eps: float) -> dict:
        """What the results and the cache key record of an attack at ``eps`` (0-1 scale)."""
        return {**asdict(self), "eps": eps, "step_size": step_size(eps, self.steps), "step_rule": STEP_RULE}


STEP_RULE = "2.5 * eps / steps"


def step_size(eps: float, steps: int) -> float:
    return 2.5 * eps / steps


def is_adversarial(name: str) -> bool:
    return name.startswith(PREFIX) and name != PREFIX + "random_sign"


def levels() -> dict:
    return {s: {"eps": e / 255} for s, e in zip((1, 2, 3, 4, 5), EPS_255)}


def random_sign(image: np.ndarray, rng: np.random.Generator, eps: float) -> np.ndarray:
    """Every pixel and channel moved by +-eps (full scale 1), at random: float, unquantised."""
    signs = rng.integers(0, 2, size=image.shape).astype(np.float32) * 2 - 1
    return np.clip(image.astype(np.float32) + signs * np.float32(eps * 255), 0, 255)


def attack(
    encoder,
    canvases: np.ndarray,
    seeds,
    eps: float,
    objective: str,
    settings: AttackSettings,
    labels=None,
    label_text=None,
) -> tuple[np.ndarray, np.ndarray]:
    """The attacked canvases (float32, 0-255, within ``eps`` of ``canvases``) and each step's best loss
    per image, (steps + 1, B): minimised, so it never rises. ``objective``: "embedding" or
    "zero_shot" (``labels``: each image's label index, -1 when unknown; ``label_text``: (K, D) unit
    text embeddings of the prompts)."""
    import torch

    if not hasattr(encoder, "embed_differentiable"):
        raise ConfigError(
            f"model {encoder.name} gives no gradients (an encoder without embed_differentiable, e.g. a wrapper "
            "without autograd): adversarial cases cannot be measured with it; leave them out of the suite"
        )
    device = getattr(encoder, "device", torch.device("cpu"))
    clean = torch.from_numpy(np.ascontiguousarray(canvases, dtype=np.float32)).to(device) / 255.0
    # the clean embedding as the measurement computes it (uint8 canvases: the processor's rounding kept)
    target = torch.as_tensor(encoder.encode(np.asarray(canvases)).embeddings, dtype=torch.float32, device=device)
    loss_of = _objective(encoder, clean, target, objective, settings, labels, label_text, device)
    best, best_loss, history = None, None, []
    for restart in range(settings.restarts):
        start = _random_start(clean, seeds, eps, restart, device)
        delta, trace = (_apgd if settings.method == "apgd" else _pgd)(clean, start, eps, settings.steps, loss_of)
        losses = loss_of(delta).detach()
        if best is None:
            best, best_loss, history = delta, losses, trace
        else:
            better = losses < best_loss
            best = torch.where(better[:, None, None, None], delta, best)
            best_loss = torch.minimum(losses, best_loss)
            history = [torch.minimum(a, b) for a, b in zip(history, trace)]
    attacked = ((clean + best).clamp(0, 1) * 255).detach().cpu().numpy().astype(np.float32)
    return attacked, torch.stack(history).cpu().numpy()


def _objective(encoder, clean, target, objective: str, settings: AttackSettings, labels, label_text, device):
    """A function delta -> per-image loss to minimise."""
    import torch
    import torch.nn.functional as F

    def embed(x01):
        return encoder.embed_differentiable(x01 * 255.0).float()

    if objective == "embedding":
        if settings.loss == "l2":
            return lambda delta: -((embed((clean + delta).clamp(0, 1)) - target) ** 2).sum(dim=1)
        return lambda delta: F.cosine_similarity(embed((clean + delta).clamp(0, 1)), target, dim=1)
    if label_text is None or labels is None:
        raise ConfigError(
            "adversarial.zero_shot needs the label prompts and each image's label, like zero_shot_accuracy"
        )
    text = torch.as_tensor(np.asarray(label_text), dtype=torch.float32, device=device)
    own = torch.as_tensor(np.asarray(labels), dtype=torch.long, device=device)
    known = own >= 0

    def cross_entropy(delta):
        logits = 100.0 * F.normalize(embed((clean + delta).clamp(0, 1)), dim=1) @ text.T
        ce = F.cross_entropy(logits, own.clamp(min=0), reduction="none")
        return torch.where(known, -ce, torch.zeros_like(ce))  # an image without a label is not attacked

    return cross_entropy


def _random_start(clean, seeds, eps: float, restart: int, device):
    import torch

    starts = [
        np.random.default_rng([int(s), restart]).uniform(-eps, eps, size=tuple(clean.shape[1:])).astype(np.float32)
        for s in seeds
    ]
    delta = torch.from_numpy(np.stack(starts)).to(device)
    return (clean + delta).clamp(0, 1) - clean


def _gradient(loss_of, delta):
    import torch

    delta = delta.detach().requires_grad_(True)
    losses = loss_of(delta)
    (grad,) = torch.autograd.grad(losses.sum(), delta)
    return losses.detach(), grad


def _project(clean, delta, eps: float):
    return (clean + delta.clamp(-eps, eps)).clamp(0, 1) - clean


def _pgd(clean, delta, eps: float, steps: int, loss_of):
    import torch

    alpha = step_size(eps, steps)
    best, best_loss, history = delta, None, []
    for _ in range(steps + 1):
        losses, grad = _gradient(loss_of, delta)
        if best_loss is None:
            best, best_loss = delta, losses
        else:
            better = losses < best_loss
            best = torch.where(better[:, None, None, None], delta, best)
            best_loss = torch.minimum(losses, best_loss)
        history.append(best_loss.clone())
        delta = _project(clean, delta - alpha * grad.sign(), eps)
    return best.detach(), history


def _apgd(clean, delta, eps: float, steps: int, loss_of):
    """Croce & Hein (2020), Algorithm 1, per image: step size 2 eps, momentum 0.75, halved at the
    checkpoints where fewer than 75% of the steps since the last one improved, or where neither the
    step nor the best loss changed; restarting then from the best point."""
    import torch

    eta = torch.full((len(clean),), 2 * eps, device=clean.device)
    checkpoints = _apgd_checkpoints(steps)
    losses, grad = _gradient(loss_of, delta)
    best, best_loss, history = delta, losses, [losses.clone()]
    previous, improved = delta, torch.zeros(len(clean), device=clean.device)
    last_eta, last_best, last_check = eta.clone(), best_loss.clone(), 0
    for k in range(steps):
        step = _project(clean, delta - eta[:, None, None, None] * grad.sign(), eps)
        moved = delta + 0.75 * (step - delta) + (0.25 if k else 0.0) * (delta - previous)
        previous, delta = delta, _project(clean, moved, eps)
        new_losses, new_grad = _gradient(loss_of, delta)
        better = new_losses < best_loss
        improved += (new_losses < losses).float()
        best = torch.where(better[:, None, None, None], delta, best)
        best_loss = torch.minimum(best_loss, new_losses)
        losses, grad = new_losses, new_grad
        history.append(best_loss.clone())
        if k + 1 in checkpoints:
            span = k + 1 - last_check
            stalled = (improved < 0.75 * span) | ((eta == last_eta) & (best_loss == last_best))
            eta = torch.where(stalled, eta / 2, eta)
            delta = torch.where(stalled[:, None, None, None], best, delta)
            if stalled.any():
                losses, grad = _gradient(loss_of, delta)
            improved.zero_()
            last_eta, last_best, last_check = eta.clone(), best_loss.clone(), k + 1
    return best.detach(), history


def _apgd_checkpoints(steps: int) -> set[int]:
    p = [0.0, 0.22]
    while p[-1] < 1:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    return {int(np.ceil(x * steps)) for x in p[1:] if x <= 1}
