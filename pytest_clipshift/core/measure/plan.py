"""What one measurement will do, decided before any image is touched: the cases (each asked case, then
its extra draws), the metrics stored, what the forward pass must return, and each entry's cache key."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..augment.augmentations import augmentation_for
from ..cases import DEFAULT_SEVERITY, Case
from ..errors import ConfigError
from ..metrics import METRICS, Metric, metric_info, validate_metrics
from ..metrics.registry import ATTENTION_NEEDS, needs_of, split_position
from .cache import EmbeddingCache
from .settings import MeasureSettings


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


@dataclass(frozen=True)
class Plan:
    cases: tuple[Case, ...]  # the asked cases, then the extra draws of each that draws at random
    asked: int  # how many of ``cases`` were asked for
    metrics: tuple[str, ...]  # the asked metrics computed per batch (not those across draws, nor dropped ones)
    stored_metrics: tuple[str, ...]  # per-image values kept for every case
    across: tuple[Metric, ...]  # computed across a case's draws, once all are measured
    needs: frozenset[str]  # what the forward pass and the batch must provide (metrics.NEEDS)
    skipped_note: str | None = None  # metrics the model cannot give, dropped with this warning

    @property
    def want_attention(self) -> bool:
        return bool(self.needs & set(ATTENTION_NEEDS))

    @property
    def want_layers(self) -> bool:
        return bool(self.needs & {"layers", "sinks"})

    @property
    def tower(self) -> frozenset[str]:
        """What the forward reads from inside the vision tower (``encoders.TowerRead``)."""
        return self.needs & {"heads", "direct", "lens"}

    def draws_of(self, index: int) -> list[int]:
        """The indices of every draw of ``cases[index]`` (itself included)."""
        case = self.cases[index]
        return [q for q, c in enumerate(self.cases) if c.same_case(case)]


def make_plan(encoder, cases: list[Case], settings: MeasureSettings) -> Plan:
    """The plan for measuring ``cases`` with ``settings``; a metric the model cannot give is dropped
    with a note, one that needs more draws than asked is a ``ConfigError``."""
    names = validate_metrics(settings.metrics)
    note = None
    attention_note = str(encoder.info.get("attention", ""))
    if attention_note.startswith("not available"):  # a convolutional tower: no attention maps, no layer tokens
        dropped = [m for m in names if metric_info(m).needs in ("attention", "layers")]
        if dropped:
            names = tuple(m for m in names if m not in dropped)
            note = (
                f"model {encoder.name}: attention maps and layer tokens are {attention_note}; "
                f"not measured: {', '.join(dropped)}"
            )
    readable = set(encoder.info.get("tower", []))
    unread = [m for m in names if needs_of(m) in ("heads", "direct", "lens") and needs_of(m) not in readable]
    if unread:  # a family that cannot be read from this model's tower (SigLIP's pooling head: no direct effects)
        names = tuple(m for m in names if m not in unread)
        reads = ", ".join(sorted(readable)) or "nothing"
        dropped = f"model {encoder.name} cannot give {', '.join(unread)} (inside its tower: {reads}); not measured"
        note = f"{note}; {dropped}" if note else dropped
    across = tuple(METRICS[m] for m in names if metric_info(m).needs == "draws")
    if across and settings.draws < 2:
        raise ConfigError(
            f"{', '.join(m.name for m in across)} needs at least 2 draws of each case: --clipshift-draws K (K >= 2), "
            "or draws=K"
        )
    per_batch = [m for m in names if metric_info(m).needs != "draws"]
    needs = frozenset(needs_of(m) for m in per_batch)
    if "lens" in needs:  # the logit lens reads each layer against the label prompts
        needs |= {"text"}
    attacked = [c for c in cases if augmentation_for(c)[0].kind == "adversarial"]
    if attacked:
        check_attackable(encoder, attacked)
        if any(c.augmentation.endswith(".zero_shot") for c in attacked):
            needs |= {"text"}  # the attack needs the label prompts and each image's label
    asked = len(cases)
    if settings.draws > 1:  # the extra draws of every case that draws anything at random (identity draws nothing)
        cases = cases + [
            c.with_draw(k) for k in range(1, settings.draws) for c in cases if c.augmentation != "identity"
        ]
    return Plan(tuple(cases), asked, tuple(per_batch), _stored(per_batch, needs, encoder), across, needs, note)


def check_attackable(encoder, attacked: list[Case]) -> None:
    """An adversarial case needs the model's gradients, at fp32."""
    names = ", ".join(dict.fromkeys(c.augmentation for c in attacked))
    if not hasattr(encoder, "embed_differentiable"):
        raise ConfigError(
            f"{names}: model {encoder.name} gives no gradients (an encoder without embed_differentiable, e.g. a "
            "wrapper without autograd), so the worst case cannot be searched for; leave these out of the suite"
        )
    precision = encoder.info.get("precision", "fp32")
    if precision != "fp32":
        raise ConfigError(
            f"{names}: attacks run at fp32 and this model runs at {precision} (an attack in half precision measures "
            "rounding): measure them with --clipshift-precision fp32"
        )


def case_parameters(case: Case, attack) -> dict:
    """What the results and the cache key record of a case: its augmentation's parameters at its level,
    and for an attack every attack setting (loss, eps, steps, step size and its rule, restarts)."""
    aug, level = augmentation_for(case)
    params = aug.parameters(level)
    return attack.parameters(params["eps"]) if aug.kind == "adversarial" else params


def _stored(names: list[str], needs: frozenset[str], encoder) -> tuple[str, ...]:
    n_layers, n_heads = int(encoder.info.get("layers", 0)), int(encoder.info.get("heads", 0))
    stored: list[str] = []
    if "attention" in needs:  # the maps are computed anyway: every built-in metric of the last layer's maps
        stored += [m.name for m in METRICS.values() if m.builtin and m.needs == "attention"]
    for name in names:
        base, layer, head = split_position(name)
        stored += metric_info(base).stored_names(layer, n_layers, head, n_heads)
    return tuple(dict.fromkeys(stored))


class CacheKeys:
    """The cache key of each (image, case) of one measurement: model fingerprint, image hash,
    augmentation with its parameters and severity, draw, the augmenting device, seed, preprocessing,
    the stored metrics and the batch size."""

    def __init__(self, encoder, image_hashes, settings: MeasureSettings, plan: Plan, augment_device):
        self.fingerprint = encoder.fingerprint
        self.hashes = image_hashes
        self.seed = settings.seed
        self.batch_size = settings.batch_size
        self.augment_device = augment_device
        self.prep_signature = str(encoder.info.get("preprocessing")) + str(encoder.canvas_size)
        self.attack = settings.attack
        self.metric_identity = [m if metric_info(m).builtin else metric_info(m).identity for m in plan.stored_metrics]
        if "sinks" in plan.needs:  # the sink threshold changes those metrics' numbers
            self.metric_identity = [*self.metric_identity, f"sink_factor={settings.sink_factor}"]

    def clean(self, image: int) -> str:
        return self._key(image, "clean", {}, "-")

    def case(self, image: int, case: Case) -> str:
        aug, severity = augmentation_for(case)
        name = aug.name
        if case.draw:  # another draw of the case: its own entry (draw 0 keeps the keys it always had)
            name = f"{name}#draw{case.draw}"
        if on_device(case, self.augment_device):  # other bytes than the CPU path's: other entries
            name = f"{name}@torch-{self.augment_device.type}"
        return self._key(image, name, case_parameters(case, self.attack), str(severity))

    def _key(self, image: int, name: str, params: dict, severity: str) -> str:
        # batch size is part of the key: CPU kernels change an embedding's last bits (up to ~3e-6 in
        # cosine) with the batch it ran in, so a hit returns exactly what this batch size computes
        return EmbeddingCache.key(
            self.fingerprint,
            self.hashes[image],
            name,
            params,
            severity,
            self.seed,
            self.prep_signature,
            self.metric_identity,
            self.batch_size,
        )


def on_device(case: Case, augment_device) -> bool:
    """True when ``case`` is augmented on ``augment_device`` (a torch device) rather than the CPU path."""
    if augment_device is None:
        return False
    from ..augment.augment_torch import has_device_version

    return has_device_version(case)
