"""Text-aligned shift: zero-shot stability and the augmentation direction probe.

* ``zero_shot_flip``: 1 when the top-1 label (over the label prompts) of the augmented image differs
  from the clean image's, else 0. Its mean is the flip rate.
* ``text_similarity_drop``: cos(clean, own prompt) - cos(augmented, own prompt), the own prompt being
  the image's known label, or the clean image's top-1 label when the set carries none.
* ``direction_probe``: cos(shift, text direction of the augmentation) minus the mean over control
  directions, with shift = unit(augmented) - unit(clean) and a text direction = unit(T(prompt naming
  the augmentation)) - unit(T(neutral prompt)). Above 0: the model "sees" the augmentation as the
  concept its prompt names, more than it sees unrelated concepts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError

AUGMENTATION_PROMPTS = {
    "gaussian_noise": "a noisy grainy photo",
    "gaussian_blur": "a blurry photo",
    "color_jitter": "a photo with strange colours",
    "shift_scale_rotate": "a rotated photo",
    "horizontal_flip": "a mirrored photo",
    "elastic": "a warped photo",
    "perspective": "a photo taken at an angle",
    "brightness_contrast": "an overexposed photo",
    "coarse_dropout": "a photo with black squares",
}
CONTROL_PROMPTS = ("a photo of a dog", "a photo at night", "a drawing of a house", "a photo of food")
NEUTRAL_PROMPT = "a photo"


@dataclass
class TextSpec:
    labels: list[str]
    template: str = "a photo of a {}"
    image_labels: list[str | None] | None = None
    captions: list[str | None] | None = None  # one per image: image-to-text recall under shift
    augmentation_prompts: dict[str, str] = field(default_factory=lambda: dict(AUGMENTATION_PROMPTS))
    controls: tuple[str, ...] = CONTROL_PROMPTS
    neutral: str = NEUTRAL_PROMPT

    def __post_init__(self) -> None:
        if len(self.labels) < 2:
            raise ConfigError(f"zero-shot metrics need at least two labels, got {self.labels}")
        if "{}" not in self.template:
            raise ConfigError(f"prompt template {self.template!r} must contain {{}} where the label goes")


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


class TextScorer:
    """Text embeddings computed once; scores per batch."""

    def __init__(self, encoder, spec: TextSpec, image_names: list[str]):
        if not hasattr(encoder, "encode_text"):
            raise ConfigError(f"model {encoder.name} has no text tower (encode_text): text metrics are not available")
        for what, given in (("image labels", spec.image_labels), ("captions", spec.captions)):
            if given is not None and len(given) != len(image_names):  # one per image, in the set's order
                raise ConfigError(
                    f"the text spec has {len(given)} {what} for {len(image_names)} images: give one per image "
                    "(None where an image has none)"
                )
        self.encoder, self.spec = encoder, spec
        self.label_text = _unit(encoder.encode_text([spec.template.format(lab) for lab in spec.labels]))
        self.own = None
        if spec.image_labels is not None:
            missing = {lab for lab in spec.image_labels if lab is not None and lab not in spec.labels}
            if missing:
                raise ConfigError(f"image labels {sorted(missing)} are not among the label prompts {spec.labels}")
            self.own = np.array([spec.labels.index(lab) if lab is not None else -1 for lab in spec.image_labels])
        self.caption_text = None
        if spec.captions is not None:  # each distinct caption encoded once; an image points at its own
            distinct = sorted({c for c in spec.captions if c})
            self.caption_text = _unit(encoder.encode_text(distinct)) if distinct else None
            self.own_caption = np.array([distinct.index(c) if c else -1 for c in spec.captions])
        neutral = _unit(encoder.encode_text([spec.neutral]))[0]
        self.controls = _unit(_unit(encoder.encode_text(list(spec.controls))) - neutral)
        self._neutral = neutral
        self._directions: dict[str, np.ndarray | None] = {}

    def direction(self, augmentation: str) -> np.ndarray | None:
        base = augmentation  # probes carry their base name (cases.Case), so no suffix to strip
        if base not in self._directions:
            prompt = self.spec.augmentation_prompts.get(base)
            self._directions[base] = (
                None if prompt is None else _unit(_unit(self.encoder.encode_text([prompt]))[0] - self._neutral)
            )
        return self._directions[base]

    def scores(
        self, clean: np.ndarray, augmented: np.ndarray, image_index: np.ndarray, augmentations: list[str]
    ) -> dict:
        c, a = _unit(clean), _unit(augmented)
        sc, sa = c @ self.label_text.T, a @ self.label_text.T
        top_c, top_a = sc.argmax(1), sa.argmax(1)
        own = top_c.copy()
        if self.own is not None:
            known = self.own[image_index]
            own = np.where(known >= 0, known, top_c)
        rows = np.arange(len(c))
        shift = a - c
        norm = np.linalg.norm(shift, axis=1)
        probe = np.full(len(c), np.nan)
        for k, name in enumerate(augmentations):
            d = self.direction(name)
            if d is None or norm[k] < 1e-9:
                continue  # no prompt for this augmentation, or no shift: undefined, not 0
            s = shift[k] / norm[k]
            probe[k] = float(s @ d - np.mean(self.controls @ s))
        out = {
            "zero_shot_flip": (top_c != top_a).astype(np.float64),
            "text_similarity_drop": sc[rows, own] - sa[rows, own],
            "direction_probe": probe,
        }
        # accuracy against the image's own label (NaN for an image without one: never counted as wrong)
        truth = self.own[image_index] if self.own is not None else np.full(len(c), -1)
        known = truth >= 0
        correct_a = (top_a == truth).astype(np.float64)
        correct_c = (top_c == truth).astype(np.float64)
        top5 = np.argsort(-sa, axis=1)[:, :5]
        out["zero_shot_accuracy"] = np.where(known, correct_a, np.nan)
        out["zero_shot_accuracy_drop"] = np.where(known, correct_c - correct_a, np.nan)
        out["zero_shot_top5_accuracy"] = np.where(
            known & (sa.shape[1] >= 5), (top5 == truth[:, None]).any(axis=1), np.nan
        )
        if self.caption_text is not None:  # image -> text retrieval among the set's captions
            own_caption = self.own_caption[image_index]
            ranked = np.argsort(-(a @ self.caption_text.T), axis=1)
            has = own_caption >= 0
            out["recall_at_1"] = np.where(has, ranked[:, 0] == own_caption, np.nan).astype(np.float64)
            out["recall_at_5"] = np.where(has, (ranked[:, :5] == own_caption[:, None]).any(axis=1), np.nan).astype(
                np.float64
            )
        else:
            out["recall_at_1"] = out["recall_at_5"] = np.full(len(c), np.nan)
        return out


def text_spec_for(metric_names, image_set, labels=(), template: str = "a photo of a {}", cases=()) -> TextSpec | None:
    """The prompts of a run's text metrics and of a zero-shot attack among ``cases`` (None when it needs
    none): ``labels`` if given, else every class the image set defines, else the labels its images carry,
    else (a captioned set) its captions."""
    from ..metrics.registry import needs_of

    attacked = any(str(getattr(c, "augmentation", c)).endswith("adversarial.zero_shot") for c in cases)
    if not attacked and not any(needs_of(m) in ("text", "lens") for m in metric_names):
        return None
    labels = list(labels)
    if not labels and image_set.labels:
        labels = list(image_set.label_set or sorted({lab for lab in image_set.labels if lab is not None}))
    if not labels and image_set.captions:  # a captioned set without labels: its captions are the prompts
        labels, template = sorted({c for c in image_set.captions if c}), "{}"
    if not labels:
        raise ConfigError(
            "text metrics need label prompts: set --clipshift-labels (or ini clipshift_labels); "
            f"the image set {image_set.source!r} carries no labels"
        )
    return text_spec(metric_names, labels, template, image_set)


def text_spec(metric_names, labels: list[str], template: str, image_set) -> TextSpec:
    """The prompts for a run's text metrics, after checking that ``image_set`` carries what each
    requested metric declares it needs (``Metric.needs_own_label``, ``min_labels``, ``needs_captions``)."""
    from ..metrics import METRICS, metric_info

    wanted = [metric_info(m) for m in metric_names]
    own = image_set.labels if image_set.labels and all(lab in labels for lab in image_set.labels if lab) else None
    accuracy = sorted(m.name for m in wanted if m.needs_own_label)
    if accuracy and own is None:
        missing = sorted({lab for lab in image_set.labels or [] if lab and lab not in labels})
        why = f"labels {missing[:5]} are not among the prompts {labels[:5]}" if missing else "the set carries no labels"
        raise ConfigError(
            f"{', '.join(accuracy)} need each image's own label among the label prompts: {why} "
            "(a labelled set: class folders, a manifest, .tar shards or a dataset)"
        )
    for m in wanted:
        if len(labels) < m.min_labels:
            raise ConfigError(f"{m.name} needs at least {m.min_labels} labels; this run has {len(labels)}")
    if any(m.needs_captions for m in wanted) and not image_set.captions:
        family = " / ".join(m.name for m in METRICS.values() if m.needs_captions)
        raise ConfigError(
            f"{family} need captions: a manifest with a caption column, .tar shards "
            f"with .txt members or a dataset with a caption column; {image_set.source!r} has none"
        )
    return TextSpec(labels, template, own, captions=image_set.captions)
