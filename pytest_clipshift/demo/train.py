"""Train the demo CLIP contrastively on generated scenes (see ``scripts/train_demo_model.py``).

Bitwise reproducible on a CPU for a given seed, step count and thread count: every batch is drawn
from ``numpy.random.default_rng([seed, step])`` and torch runs with a fixed number of threads
(1 and 2 threads differ in the last bits).
"""

from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from .scenes import (
    LABELS,
    SHAPES,
    Scene,
    SceneObject,
    caption,
    caption_vocabulary,
    label_prompts,
    render_scene,
    sample_scene,
)
from .vocab import write_clip_vocabulary

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
DEMO_NOTICE = "demo model trained on synthetic scenes: not for conclusions about real models"


@dataclass
class TrainSettings:
    steps: int = 4200  # at image_size; then final_steps more at final_image_size
    batch_size: int = 128
    seed: int = 0
    lr: float = 1e-3
    warmup: int = 200
    weight_decay: float = 0.05
    threads: int = 2
    image_size: int = 64
    patch_size: int = 8
    width: int = 64
    vision_layers: int = 6
    text_layers: int = 2
    heads: int = 4
    max_text_len: int = 24
    pool_size: int = 65536
    eval_every: int = 500
    eval_scenes: int = 400
    # "sincos": 2-D sine-cosine patch positions at start (as MAE and MoCo v3 do), so attention can
    # relate neighbouring patches from the first step; "random": transformers' default init
    position_init: str = "sincos"
    # "label": a caption counts as a match for every image whose main object has its label (UniCL);
    # "exact": plain CLIP, only the image's own caption matches
    caption_targets: str = "label"
    # "mimetic": query-key products start near the identity and value-output products near minus
    # the identity (Trockman & Kolter, 2023), so with sine-cosine positions each head starts out
    # attending to nearby patches, as a convolution would; "default": transformers' init
    attention_init: str = "mimetic"
    position_scale: float = 0.3
    prompt_loss_weight: float = 1.0
    # the first steps draw from easy scenes (one large object on a flat or gradient background, no
    # occluder): shape is learned there first, then carried over to the full variety
    easy_steps: int = 300
    easy_pool_size: int = 8192
    # "d4": every drawn pool scene is flipped and turned by one of the square's 8 symmetries (its
    # caption's position words follow), so the pool's 65k scenes show as 524k images. A model
    # trained on the plain pool held 0.96 on pool scenes and 0.91 on fresh ones: it memorised them
    pool_augment: str = "d4"
    # "gelu": exact GELU; the vision tower's step was 8% faster than with CLIP's quick_gelu here
    activation: str = "gelu"
    # then fine-tune at a larger input (same 8 px patches, position table interpolated bicubically
    # as transformers' interpolate_pos_encoding does) with a fresh optimiser: small shapes get more
    # patches. The saved checkpoint takes final_image_size, its position table the interpolated one
    final_image_size: int = 80
    final_steps: int = 600
    final_lr: float = 3e-4
    final_warmup: int = 50
    final_pool_size: int = 32768


def build_tokenizer(directory: Path, max_len: int):
    from transformers import CLIPTokenizer

    write_clip_vocabulary(caption_vocabulary(), directory)
    return CLIPTokenizer(
        vocab=str(directory / "vocab.json"), merges=str(directory / "merges.txt"), model_max_length=max_len
    )


def build_model(settings: TrainSettings, vocab: dict[str, int]):
    import torch
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(settings.seed)
    eos, bos = vocab["<|endoftext|>"], vocab["<|startoftext|>"]
    config = CLIPConfig(
        text_config=dict(
            vocab_size=len(vocab),
            hidden_size=settings.width,
            intermediate_size=settings.width * 4,
            num_hidden_layers=settings.text_layers,
            num_attention_heads=settings.heads,
            max_position_embeddings=settings.max_text_len,
            hidden_act=settings.activation,
            # CLIP's default 49407 would make transformers pool the wrong token
            eos_token_id=eos,
            bos_token_id=bos,
            pad_token_id=eos,
        ),
        vision_config=dict(
            hidden_size=settings.width,
            intermediate_size=settings.width * 4,
            num_hidden_layers=settings.vision_layers,
            num_attention_heads=settings.heads,
            image_size=settings.image_size,
            patch_size=settings.patch_size,
            hidden_act=settings.activation,
        ),
        projection_dim=settings.width,
    )
    model = CLIPModel(config)
    if settings.position_init == "sincos":
        import torch

        grid = settings.image_size // settings.patch_size
        with torch.no_grad():
            table = model.vision_model.embeddings.position_embedding.weight
            table[0].zero_()  # the class token
            table[1:] = torch.from_numpy(sincos_positions(grid, settings.width)) * settings.position_scale
    elif settings.position_init != "random":
        raise ValueError(f"position_init {settings.position_init!r}: use 'sincos' or 'random'")
    if settings.attention_init == "mimetic":
        mimetic_attention(model.vision_model.encoder.layers, settings.width, np.random.default_rng([settings.seed, 3]))
    elif settings.attention_init != "default":
        raise ValueError(f"attention_init {settings.attention_init!r}: use 'mimetic' or 'default'")
    return model


def mimetic_attention(layers, width: int, rng: np.random.Generator, qk=(0.7, 0.7), vo=(0.4, 0.4)) -> None:
    """Set W_q^T W_k = a Z + b I and W_v^T W_o^T = a' Z' - b' I (Z: Gaussian, variance 1/width) in
    every layer, each product split between its two factors by an SVD."""
    import torch

    def factors(target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u, s, vt = np.linalg.svd(target)
        return (np.sqrt(s)[:, None] * u.T), (np.sqrt(s)[:, None] * vt)  # A, B with A^T B = target

    eye = np.eye(width)
    with torch.no_grad():
        for layer in layers:
            attn = layer.self_attn
            z = rng.standard_normal((width, width)) / np.sqrt(width)
            q, k = factors(qk[0] * z + qk[1] * eye)
            z = rng.standard_normal((width, width)) / np.sqrt(width)
            v, o_t = factors(vo[0] * z - vo[1] * eye)
            for linear, weight in ((attn.q_proj, q), (attn.k_proj, k), (attn.v_proj, v), (attn.out_proj, o_t.T)):
                linear.weight.copy_(torch.from_numpy(weight.astype(np.float32)))


def sincos_positions(grid: int, width: int) -> np.ndarray:
    """(grid*grid, width) 2-D sine-cosine position codes: half the channels for rows, half for columns."""
    quarter = width // 4
    frequencies = 1.0 / 10000 ** (np.arange(quarter) / quarter)
    rows, cols = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
    parts = []
    for axis in (rows.reshape(-1), cols.reshape(-1)):
        angle = axis[:, None] * frequencies[None, :]
        parts += [np.sin(angle), np.cos(angle)]
    return np.concatenate(parts, axis=1).astype(np.float32)


def to_pixels(images: np.ndarray):
    """uint8 NxHxWx3 -> normalised float tensor Nx3xHxW (CLIP mean/std)."""
    import torch

    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    return (x - mean) / std


class ScenePool:
    """A fixed pool of rendered training scenes, drawn once from ``seed``.

    Rendering is about a third of a training step's cost on 2 cores, so scenes are rendered once
    and each step samples a batch from the pool (captions are re-drawn per step).
    """

    def __init__(self, settings: TrainSettings, final: bool = False):
        """``final``: the pool of the fine-tuning phase, at ``final_image_size``, from its own stream."""
        rng = np.random.default_rng([settings.seed, 5 if final else 1])
        if final:
            size, side = (
                min(settings.final_pool_size, settings.final_steps * settings.batch_size),
                settings.final_image_size,
            )
        else:
            size, side = min(settings.pool_size, settings.steps * settings.batch_size), settings.image_size
        self.scenes = [sample_scene(rng) for _ in range(size)]
        self.images = np.empty((size, side, side, 3), dtype=np.uint8)
        for i, scene in enumerate(self.scenes):
            self.images[i] = render_scene(scene, size=side)
        names = [f"{c} {s}" for c, s in LABELS]
        self.label_index = [names.index(scene.label) for scene in self.scenes]
        self.easy = None
        if settings.easy_steps and not final:
            easy_rng = np.random.default_rng([settings.seed, 4])
            easy = []
            while len(easy) < settings.easy_pool_size:
                scene = sample_scene(easy_rng, max_objects=1)
                if scene.objects[0].extent >= 0.35 and scene.background in ("flat", "gradient") and not scene.occluded:
                    easy.append(scene)
            images = np.stack([render_scene(scene, size=settings.image_size) for scene in easy])
            self.easy = (easy, images, [names.index(scene.label) for scene in easy])

    def batch(self, settings: TrainSettings, step: int) -> tuple[np.ndarray, list[str], np.ndarray]:
        """Images, a freshly drawn caption for each, and the index in LABELS of each main object."""
        rng = np.random.default_rng([settings.seed, 2, step])  # final steps are numbered on from steps
        scenes, images, label_index = self.scenes, self.images, self.label_index
        if self.easy is not None and step < settings.easy_steps:
            scenes, images, label_index = self.easy
        index = rng.choice(len(scenes), size=settings.batch_size, replace=False)
        labels = np.array([label_index[i] for i in index])
        if settings.pool_augment == "none":
            return images[index], [caption(scenes[i], rng) for i in index], labels
        if settings.pool_augment != "d4":
            raise ValueError(f"pool_augment {settings.pool_augment!r}: use 'd4' or 'none'")
        symmetries = rng.integers(0, 8, size=len(index))
        batch = np.stack([square_symmetry(images[i], int(k)) for i, k in zip(index, symmetries)])
        return batch, [caption(scene_symmetry(scenes[i], int(k)), rng) for i, k in zip(index, symmetries)], labels


def square_symmetry(image: np.ndarray, k: int) -> np.ndarray:
    """Symmetry ``k`` (0-7) of the square applied to an HxW(xC) image: a left-right mirror when
    ``k`` is odd, then ``k // 2`` quarter turns anticlockwise (``np.rot90``)."""
    if k & 1:
        image = image[:, ::-1]
    return np.rot90(image, k // 2)


def scene_symmetry(scene: Scene, k: int) -> Scene:
    """``scene`` as far as a caption describes it after ``square_symmetry(render_scene(scene), k)``:
    object centres move with the image, so position words stay true (colour, shape and size words do
    not change; outline angles are left as they were, no caption uses them)."""

    def move(obj: SceneObject) -> SceneObject:
        x, y = obj.x, obj.y
        if k & 1:
            x = 1 - x
        for _ in range(k // 2):  # np.rot90 sends the point (x, y) to (y, 1 - x)
            x, y = y, 1 - x
        return replace(obj, x=x, y=y)

    return replace(scene, objects=tuple(move(obj) for obj in scene.objects))


class CaptionTokens:
    """The tokenizer's padded ids for a batch of captions, each caption tokenized once: captions
    come from a few templates, and tokenizing every step's 128 afresh took 5 ms of a 300-ms step."""

    def __init__(self, tokenizer, max_len: int):
        self.tokenizer, self.max_len, self.known = tokenizer, max_len, {}

    def __call__(self, captions: list[str]) -> dict:
        import torch

        new = sorted({c for c in captions if c not in self.known})
        if new:
            encoded = self.tokenizer(new, padding="max_length", max_length=self.max_len, truncation=True)
            for text, ids, mask in zip(new, encoded["input_ids"], encoded["attention_mask"]):
                self.known[text] = (ids, mask)
        return {
            "input_ids": torch.tensor([self.known[c][0] for c in captions]),
            "attention_mask": torch.tensor([self.known[c][1] for c in captions]),
        }


def zero_shot_accuracy(model, tokenizer, seed: int, count: int, image_size: int, independent: bool = False) -> float:
    """Top-1 accuracy over the colour x shape labels on ``count`` held-out single-object scenes.

    ``independent=False``: scenes from the training renderer, drawn from a stream no training step
    draws from. ``independent=True``: scenes from ``independent.py``, which shares no code with it.
    """
    if independent:
        from .independent import draw_scenes

        images, labels = draw_scenes(count, seed, size=image_size)
    else:
        scenes, images = held_out_scenes(seed, count, image_size)
        labels = [s.label for s in scenes]
    return float((predict_labels(model, tokenizer, images) == np.array(labels)).mean())


def held_out_scenes(seed: int, count: int, image_size: int) -> tuple[list[Scene], np.ndarray]:
    """``count`` single-object scenes of the training renderer from a stream no training step draws
    from, and their images."""
    rng = np.random.default_rng([seed, 10_000_019])
    scenes = [sample_scene(rng, max_objects=1) for _ in range(count)]
    return scenes, np.stack([render_scene(s, size=image_size) for s in scenes])


INDEPENDENT_RENDERER = (
    "pytest_clipshift/demo/independent.py: OpenCV drawing, its own shades, equilateral triangles, free position, "
    "size 15-70%, rotation, stretch, value-noise/checker/ring/gradient/flat/held-out-photo backgrounds, elliptical "
    "occluders; shares no code with scenes.py. 1,000 scenes from seed 0 at the model's input size"
)
FRESH_SEED, FRESH_COUNT = 2026, 2000
# drawn for the first time on the shipped checkpoint, after its recipe was fixed: seed 2026 had
# been looked at while choosing between recipes, this one never was
UNTOUCHED_SEED = 4242


def fresh_seed_evaluation(model, tokenizer, image_size: int, seed: int = FRESH_SEED) -> dict:
    """Top-1 on 2,000 independent-renderer scenes from ``seed``, and how often a horizontal flip
    (every demo shape is mirror-symmetric) keeps the predicted label."""
    from .independent import draw_scenes

    images, labels = draw_scenes(FRESH_COUNT, seed, size=image_size)
    plain = predict_labels(model, tokenizer, images)
    flipped = predict_labels(model, tokenizer, images[:, :, ::-1].copy())
    truth = np.array(labels)
    return {
        "seed": seed,
        "scenes": FRESH_COUNT,
        "top1": float((plain == truth).mean()),
        "horizontal_flip_same_label": float((plain == flipped).mean()),
        "top1_flipped": float((flipped == truth).mean()),
    }


RECIPE_SELECTION = (
    "the shipped recipe came from two full runs and a fine-tune on 2 cores: the previous recipe (5,600 steps at 64 px; "
    "independent seed 0: 0.930, seed 2026: 0.934); the same with the pool's 8 square symmetries and GELU (5,200 steps; "
    "held-out 0.941, independent seed 0: 0.934, seed 2026: 0.9465); and that checkpoint fine-tuned 600 steps at 80 px "
    "(held-out, 1,500 scenes of seed 123: 0.939 -> 0.963; independent seed 2026: 0.960 -> 0.973), which set this "
    "recipe: 4,200 + 600 steps, to stay within 30 minutes. Independent seed 2026 was seen while choosing; seed 4242 "
    "was drawn only on the shipped checkpoint"
)
SIZE_BINS = ((0.15, 0.25), (0.25, 0.35), (0.35, 0.70))


def held_out_accuracy_by_size(model, tokenizer, image_size: int, seed: int = 123, count: int = 1500) -> dict:
    """Top-1 on held-out single-object scenes of the training renderer (which records sizes), by the
    object's width as a fraction of the frame."""
    scenes, images = held_out_scenes(seed, count, image_size)
    correct = predict_labels(model, tokenizer, images) == np.array([s.label for s in scenes])
    extent = np.array([s.objects[0].extent for s in scenes])
    out = {"seed": seed, "scenes": count, "top1": float(correct.mean())}
    bin_of = np.digitize(extent, [high for _, high in SIZE_BINS[:-1]])  # each scene in exactly one bin
    for i, (low, high) in enumerate(SIZE_BINS):
        chosen = bin_of == i
        out[f"width {low:.2f}-{high:.2f}"] = {"scenes": int(chosen.sum()), "top1": float(correct[chosen].mean())}
    return out


def predict_labels(model, tokenizer, images: np.ndarray) -> np.ndarray:
    """The zero-shot top-1 label (``"red circle"``...) of each uint8 image, at the model's input size."""
    import torch

    names = np.array([f"{c} {s}" for c, s in LABELS])
    with torch.no_grad():
        tokens = tokenizer(
            label_prompts(), padding="max_length", max_length=tokenizer.model_max_length, return_tensors="pt"
        )
        text = model.get_text_features(**tokens)
        text = getattr(text, "pooler_output", text)
        text = torch.nn.functional.normalize(text, dim=-1)
        # during fine-tuning the model still holds the smaller grid's positions
        other_size = images.shape[1] != model.config.vision_config.image_size
        predictions = []
        for start in range(0, len(images), 256):
            image = model.get_image_features(
                pixel_values=to_pixels(images[start : start + 256]), interpolate_pos_encoding=other_size
            )
            image = getattr(image, "pooler_output", image)
            predictions.append((torch.nn.functional.normalize(image, dim=-1) @ text.T).argmax(-1).numpy())
    return names[np.concatenate(predictions)]


def train(settings: TrainSettings, out_dir: Path | None = None, log=print):
    """Train and (when ``out_dir`` is given) save a Hugging Face checkpoint there. Returns (model, tokenizer)."""
    import torch

    previous = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())
    torch.set_num_threads(settings.threads)
    torch.use_deterministic_algorithms(True)
    try:
        return _train(settings, out_dir, log)
    finally:  # leave the process as it was (the tests train inside a test session)
        torch.set_num_threads(previous[0])
        torch.use_deterministic_algorithms(previous[1])


def _train(settings: TrainSettings, out_dir: Path | None, log):
    import torch

    work = Path(out_dir) if out_dir else None
    tok_dir = work if work else Path(_tempdir())
    tokenizer = build_tokenizer(tok_dir, settings.max_text_len)
    model = build_model(settings, tokenizer.get_vocab())
    model.train()
    history = []
    start = time.perf_counter()
    prompts = tokenizer(label_prompts(), padding="max_length", max_length=settings.max_text_len, return_tensors="pt")
    token_cache = CaptionTokens(tokenizer, settings.max_text_len)
    phases = [(False, settings.image_size, settings.steps, settings.lr, settings.warmup)]
    if settings.final_steps:
        phases.append((True, settings.final_image_size, settings.final_steps, settings.final_lr, settings.final_warmup))
    first_step = 0
    for final, size, steps, peak_lr, warmup in phases:
        scene_pool = ScenePool(settings, final=final)
        log(f"rendered {len(scene_pool.scenes)} training scenes at {size} px ({time.perf_counter() - start:.0f}s)")
        opt = _optimizer(model, settings, peak_lr)  # a fresh one per phase
        for step in range(steps):
            for group in opt.param_groups:
                group["lr"] = _warmup_cosine(step, steps, peak_lr, warmup)
            loss = _loss(
                model,
                settings,
                scene_pool.batch(settings, first_step + step),
                token_cache,
                prompts,
                interpolate=size != settings.image_size,
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            done = first_step + step + 1
            if settings.eval_every and (done % settings.eval_every == 0 or step + 1 == steps):
                model.eval()
                acc = zero_shot_accuracy(model, tokenizer, settings.seed, settings.eval_scenes, size)
                # logged only: the step count is fixed in advance, never picked by this number
                other = zero_shot_accuracy(
                    model, tokenizer, settings.seed, settings.eval_scenes, size, independent=True
                )
                model.train()
                history.append(
                    {
                        "step": done,
                        "image_size": size,
                        "loss": round(loss.item(), 4),
                        "zero_shot_top1": acc,
                        "zero_shot_top1_independent": other,
                        "elapsed_s": round(time.perf_counter() - start, 1),
                    }
                )
                log(
                    f"step {done}/{settings.steps + settings.final_steps} at {size} px loss {loss.item():.4f} "
                    f"zero-shot {acc:.3f} independent {other:.3f} ({time.perf_counter() - start:.0f}s)"
                )
        first_step += steps
    model.eval()
    if settings.final_steps and settings.final_image_size != settings.image_size:
        model = resized_model(model, settings.final_image_size)
    seconds = time.perf_counter() - start
    if work is not None:
        _save(model, tokenizer, settings, work, history, seconds, log)
    return model, tokenizer


def _optimizer(model, settings: TrainSettings, lr: float):
    import torch

    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=lr
    )


def _warmup_cosine(step: int, steps: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))


def _loss(model, settings: TrainSettings, batch, token_cache, prompts, interpolate: bool):
    import torch

    images, captions, labels = batch
    tokens = token_cache(captions)
    out = model(
        input_ids=tokens["input_ids"],
        attention_mask=tokens["attention_mask"],
        pixel_values=to_pixels(images),
        return_loss=settings.caption_targets == "exact",
        interpolate_pos_encoding=interpolate,
    )
    label_tensor = torch.from_numpy(labels)
    if settings.caption_targets == "label":
        same = (label_tensor[:, None] == label_tensor[None, :]).float()
        targets = same / same.sum(dim=1, keepdim=True)
        caption_loss = (
            torch.nn.functional.cross_entropy(out.logits_per_image, targets)
            + torch.nn.functional.cross_entropy(out.logits_per_text, targets)
        ) / 2
    else:
        caption_loss = out.loss
    # a second contrastive term against the 20 label prompts (as UniCL does): captions in a
    # batch often share a label, so the caption loss alone treats true matches as negatives
    # and learns the varied scenes slowly
    prompt_embeds = model.get_text_features(**prompts)
    prompt_embeds = torch.nn.functional.normalize(getattr(prompt_embeds, "pooler_output", prompt_embeds), dim=-1)
    logits = model.logit_scale.exp() * out.image_embeds @ prompt_embeds.T
    return caption_loss + settings.prompt_loss_weight * torch.nn.functional.cross_entropy(logits, label_tensor)


def resized_model(model, image_size: int):
    """A copy of ``model`` whose vision tower takes ``image_size`` px natively: its position table is
    the one ``interpolate_pos_encoding`` computes from the trained grid, so it gives the same
    embeddings as the trained model run with interpolation."""
    import copy

    import torch

    vision = model.config.vision_config
    config = copy.deepcopy(model.config)
    config.vision_config.image_size = image_size
    resized = type(model)._from_config(config, attn_implementation=model.config._attn_implementation)
    embeddings = model.vision_model.embeddings
    with torch.no_grad():
        dummy = torch.zeros(1, (image_size // vision.patch_size) ** 2 + 1, vision.hidden_size)
        table = embeddings.interpolate_pos_encoding(dummy, image_size, image_size)[0]
        state = {
            k: v for k, v in model.state_dict().items() if k != "vision_model.embeddings.position_embedding.weight"
        }
        state["vision_model.embeddings.position_embedding.weight"] = table
        resized.load_state_dict(state)
    return resized.eval()


def _tempdir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="clipshift-vocab-")


def _save(model, tokenizer, settings: TrainSettings, out: Path, history, seconds: float, log) -> None:
    from transformers import CLIPImageProcessor

    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    size = model.config.vision_config.image_size
    CLIPImageProcessor(
        size={"shortest_edge": size},
        crop_size={"height": size, "width": size},
        image_mean=list(CLIP_MEAN),
        image_std=list(CLIP_STD),
    ).save_pretrained(out)
    write_card(model, tokenizer, settings, out, history, seconds, log)


def write_card(model, tokenizer, settings: TrainSettings, out: Path, history, seconds: float, log=print) -> dict:
    """Evaluate the trained model and write ``demo_card.json``: every number on it is computed here."""
    import torch
    import transformers

    size = model.config.vision_config.image_size
    held_out = zero_shot_accuracy(model, tokenizer, settings.seed, 1000, size)
    independent = zero_shot_accuracy(model, tokenizer, settings.seed, 1000, size, independent=True)
    fresh = fresh_seed_evaluation(model, tokenizer, size)
    untouched = fresh_seed_evaluation(model, tokenizer, size, seed=UNTOUCHED_SEED)
    n_params = sum(p.numel() for p in model.parameters())
    card = {
        "notice": DEMO_NOTICE,
        "labels": [f"{c} {s}" for c, s in LABELS],
        "prompt_template": "a photo of a {colour} {shape}",
        "zero_shot_top1_held_out": held_out,
        "zero_shot_top1_independent_renderer": independent,
        "independent_renderer": INDEPENDENT_RENDERER,
        "zero_shot_top1_independent_renderer_fresh_seed": fresh,
        "zero_shot_top1_independent_renderer_untouched_seed": untouched,
        "held_out_top1_by_size": held_out_accuracy_by_size(model, tokenizer, size),
        "image_size": size,
        "target": "top-1 >= 0.95 on the independent renderer (issue 10)",
        "target_met": bool(min(independent, fresh["top1"], untouched["top1"]) >= 0.95),
        "recipe_selection": RECIPE_SELECTION,
        "chance_level": 1 / len(LABELS),
        "shapes": list(SHAPES),
        "parameters": n_params,
        "training": asdict(settings),
        "training_seconds": round(seconds, 1),
        "history": history,
        "machine": f"{platform.machine()} {platform.processor() or ''} threads={settings.threads}".strip(),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }
    (out / "demo_card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    log(
        f"saved to {out}: held-out zero-shot {held_out:.3f}, independent renderer {independent:.3f}, {n_params} "
        "parameters"
    )
    return card
