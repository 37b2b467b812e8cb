"""open_clip ViT checkpoints, loaded into transformers' CLIP modules (open_clip itself is not imported).

``--clipshift-model open_clip:ARCH[:WEIGHTS]``. ARCH is an open_clip architecture name (ViT-B-32,
ViT-B-16, ViT-L-14, ViT-H-14 and their ``-quickgelu`` variants ship here; any other ViT config is
read from an installed open_clip package's ``model_configs`` without importing it) or a path to such
a ``.json`` config. WEIGHTS is a checkpoint file (``.safetensors``, ``.bin`` or ``.pt``; a bare state
dict, one under ``state_dict``, or with DDP's ``module.`` prefix) or ``hf-hub:org/name`` resolved
from the local Hugging Face cache.

The layouts correspond one to one: ``in_proj_weight`` splits into q/k/v, ``ln_pre``/``ln_post``
are the pre/post layer norms, ``proj`` and ``text_projection`` are the (transposed) projections,
QuickGELU is transformers' ``quick_gelu``. The text tower pools at the end-of-text token as open_clip
does (the highest token id). Preprocessing is open_clip's eval transform: bicubic resize of the
shortest side, centre crop with torchvision's rounding, OpenAI mean and std. A test checks image and
text embeddings against open_clip's own ``encode_image`` / ``encode_text`` to 1e-5.

The architecture configurations are open_clip's (MIT licence, (c) 2012-2021 Gabriel Ilharco et al.).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ModelLoadError

_TEXT = {"context_length": 77, "vocab_size": 49408}
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "ViT-B-32": {
        "embed_dim": 512,
        "vision_cfg": {"image_size": 224, "layers": 12, "width": 768, "patch_size": 32},
        "text_cfg": {**_TEXT, "width": 512, "heads": 8, "layers": 12},
    },
    "ViT-B-16": {
        "embed_dim": 512,
        "vision_cfg": {"image_size": 224, "layers": 12, "width": 768, "patch_size": 16},
        "text_cfg": {**_TEXT, "width": 512, "heads": 8, "layers": 12},
    },
    "ViT-L-14": {
        "embed_dim": 768,
        "vision_cfg": {"image_size": 224, "layers": 24, "width": 1024, "patch_size": 14},
        "text_cfg": {**_TEXT, "width": 768, "heads": 12, "layers": 12},
    },
    "ViT-H-14": {
        "embed_dim": 1024,
        "vision_cfg": {"image_size": 224, "layers": 32, "width": 1280, "head_width": 80, "patch_size": 14},
        "text_cfg": {**_TEXT, "width": 1024, "heads": 16, "layers": 24},
    },
}
for _name in list(ARCHITECTURES):
    ARCHITECTURES[f"{_name}-quickgelu"] = {**ARCHITECTURES[_name], "quick_gelu": True}

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
EOT = 49407  # open_clip's end-of-text token: the highest id, where the text tower pools


def parse_spec(spec: str) -> tuple[str, str | None]:
    """``open_clip:ViT-B-32:w.safetensors`` -> ("ViT-B-32", "w.safetensors")."""
    _, _, rest = spec.partition(":")
    arch, _, weights = rest.partition(":")
    if not arch:
        raise ModelLoadError(
            f"model {spec!r}: expected open_clip:ARCH[:WEIGHTS], e.g. open_clip:ViT-B-32:model.safetensors"
        )
    return arch, (weights or None)


def _installed_configs() -> Path | None:
    return _open_clip_file("model_configs")


def architecture(arch: str) -> dict[str, Any]:
    """The open_clip model config of ``arch``: bundled, a .json path, or an installed open_clip's."""
    if arch in ARCHITECTURES:
        return json.loads(json.dumps(ARCHITECTURES[arch]))
    path = Path(arch).expanduser()
    if arch.endswith(".json"):
        if not path.is_file():
            raise ModelLoadError(f"open_clip config {arch!r} does not exist")
        return json.loads(path.read_text(encoding="utf-8"))
    folder = _installed_configs()
    if folder is not None and (folder / f"{arch}.json").is_file():
        return json.loads((folder / f"{arch}.json").read_text(encoding="utf-8"))
    known = sorted(ARCHITECTURES) + (sorted(p.stem for p in folder.glob("ViT-*.json")) if folder else [])
    raise ModelLoadError(
        f"unknown open_clip architecture {arch!r}; known here: {', '.join(dict.fromkeys(known))} "
        "(or a path to an open_clip model config .json)"
    )


def clip_config(cfg: dict[str, Any]):
    """The transformers ``CLIPConfig`` of an open_clip ViT config."""
    from transformers import CLIPConfig

    vision, text = cfg["vision_cfg"], cfg["text_cfg"]
    unsupported = [k for k in ("timm_model_name", "hf_model_name") if vision.get(k) or text.get(k)]
    if (
        unsupported
        or isinstance(vision.get("layers"), (list, tuple))
        or vision.get("attentional_pool")
        or vision.get("final_ln_after_pool")
        or vision.get("pool_type", "tok") != "tok"
        or text.get("pool_type", "argmax") != "argmax"
        or vision.get("no_ln_pre")
        or vision.get("ls_init_value")
        or text.get("ls_init_value")
    ):
        raise ModelLoadError(
            "only open_clip's plain ViT CLIPs map onto transformers' CLIP (class-token pooling, "
            "pre-norm, no timm or Hugging Face towers, no layer scale)"
        )
    act = "quick_gelu" if cfg.get("quick_gelu") else "gelu"
    v_width = int(vision["width"])
    head_width = int(vision.get("head_width", 64))
    mlp = float(vision.get("mlp_ratio", 4.0))
    t_width = int(text["width"])
    return CLIPConfig(
        vision_config={
            "hidden_size": v_width,
            "num_hidden_layers": int(vision["layers"]),
            "num_attention_heads": v_width // head_width,
            "intermediate_size": int(v_width * mlp),
            "image_size": int(vision["image_size"]),
            "patch_size": int(vision["patch_size"]),
            "hidden_act": act,
            "layer_norm_eps": 1e-5,
        },
        text_config={
            "hidden_size": t_width,
            "num_hidden_layers": int(text["layers"]),
            "num_attention_heads": int(text["heads"]),
            "intermediate_size": int(t_width * float(text.get("mlp_ratio", 4.0))),
            "max_position_embeddings": int(text["context_length"]),
            "vocab_size": int(text["vocab_size"]),
            "hidden_act": act,
            "layer_norm_eps": 1e-5,
            "eos_token_id": EOT,
            "bos_token_id": EOT - 1,
            "pad_token_id": EOT,
        },
        projection_dim=int(cfg["embed_dim"]),
    )


def read_checkpoint(path: Path) -> dict:
    """A checkpoint file's state dict: safetensors, or a torch file loaded with ``weights_only``."""
    import torch

    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            checkpoint = load_file(str(path), device="cpu")
        else:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise ModelLoadError(f"open_clip weights {path}: cannot be read ({type(exc).__name__}: {first})") from None
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict):
        checkpoint = checkpoint["state_dict"]
    if not isinstance(checkpoint, dict) or not checkpoint:
        raise ModelLoadError(f"open_clip weights {path}: not a state dict (got {type(checkpoint).__name__})")
    if all(k.startswith("module.") for k in checkpoint):  # saved from DistributedDataParallel
        checkpoint = {k[len("module.") :]: v for k, v in checkpoint.items()}
    return checkpoint


def _open_clip_file(name: str) -> Path | None:
    import importlib.util

    found = importlib.util.find_spec("open_clip")  # located, not imported
    if found is None or not found.submodule_search_locations:
        return None
    path = Path(list(found.submodule_search_locations)[0]) / name
    return path if path.exists() else None


def pretrained_tag(arch: str, tag: str) -> tuple[str, dict[str, Any]]:
    """open_clip's pretrained tag (``laion2b_s34b_b79k``, ``openai``, ...) -> (its Hugging Face repo,
    its settings), read from an installed open_clip's ``pretrained.py`` by parsing, not importing it."""
    import ast

    source = _open_clip_file("pretrained.py")
    if source is None:
        raise ModelLoadError(
            f"open_clip pretrained tag {tag!r}: the tag table is open_clip's; install it (pip install "
            "--no-deps open-clip-torch) so it can be read, or give the weights as a file or hf-hub:ORG/NAME"
        )
    tables: dict[str, dict[str, dict]] = {}
    registry: dict[str, str] = {}
    for node in ast.parse(source.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.Assign) or len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
            continue
        name, value = node.targets[0].id, node.value
        if isinstance(value, ast.Call) and getattr(value.func, "id", "") == "dict":
            entries = {}
            for kw in value.keywords:
                if kw.arg and isinstance(kw.value, ast.Call):
                    settings = {}
                    for k in kw.value.keywords:
                        try:
                            settings[k.arg] = ast.literal_eval(k.value)
                        except ValueError:
                            continue
                    entries[kw.arg] = settings
            tables[name] = entries
        elif name == "_PRETRAINED" and isinstance(value, ast.Dict):
            registry = {
                k.value: v.id
                for k, v in zip(value.keys, value.values)
                if isinstance(k, ast.Constant) and isinstance(v, ast.Name)
            }
    entries = tables.get(registry.get(arch, ""), {})
    if tag not in entries:
        known = ", ".join(entries) or "none"
        raise ModelLoadError(f"open_clip has no pretrained tag {tag!r} for {arch}; its tags: {known}")
    repo = str(entries[tag].get("hf_hub", "")).strip("/")
    if not repo:
        raise ModelLoadError(
            f"open_clip's {arch} {tag!r} weights are only at a URL ({entries[tag].get('url', '?')}): "
            "download that file on a machine with network and give its path"
        )
    return repo, entries[tag]


def resolve_weights(weights: str, arch: str | None = None) -> Path:
    """A checkpoint file, ``hf-hub:ORG/NAME`` or an open_clip pretrained tag -> a local file."""
    if (
        arch is not None
        and not weights.startswith("hf-hub:")
        and not Path(weights).expanduser().exists()
        and "/" not in weights
        and not weights.endswith((".safetensors", ".bin", ".pt", ".pth"))
    ):
        repo, _ = pretrained_tag(arch, weights)
        weights = f"hf-hub:{repo}"
    if weights.startswith("hf-hub:"):
        repo = weights[len("hf-hub:") :]
        from huggingface_hub import try_to_load_from_cache

        for filename in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
            found = try_to_load_from_cache(repo, filename)
            if isinstance(found, str):
                return Path(found)
        raise ModelLoadError(
            f"open_clip weights {weights!r}: neither open_clip_model.safetensors nor "
            f"open_clip_pytorch_model.bin of {repo} is in the local Hugging Face cache; download it on a "
            f"machine with network (hf download {repo}) and copy the cache (HF_HOME) here"
        )
    path = Path(weights).expanduser()
    if not path.is_file():
        raise ModelLoadError(
            f"open_clip weights {weights!r}: no such file; give a .safetensors, .bin or .pt checkpoint "
            "or hf-hub:org/name in the local cache"
        )
    return path


def _split_qkv(prefix: str, source: dict, target: dict, out: str) -> None:
    w, b = source[f"{prefix}.attn.in_proj_weight"], source[f"{prefix}.attn.in_proj_bias"]
    for part, ws, bs in zip(("q", "k", "v"), w.chunk(3, dim=0), b.chunk(3, dim=0)):
        target[f"{out}.self_attn.{part}_proj.weight"] = ws
        target[f"{out}.self_attn.{part}_proj.bias"] = bs
    for src, dst in (
        ("attn.out_proj", "self_attn.out_proj"),
        ("ln_1", "layer_norm1"),
        ("ln_2", "layer_norm2"),
        ("mlp.c_fc", "mlp.fc1"),
        ("mlp.c_proj", "mlp.fc2"),
    ):
        for p in ("weight", "bias"):
            target[f"{out}.{dst}.{p}"] = source[f"{prefix}.{src}.{p}"]


def convert_state_dict(sd: dict, cfg: dict) -> dict:
    """open_clip CLIP state dict -> transformers CLIPModel state dict (ViT image and text towers)."""
    if "text.token_embedding.weight" in sd:  # CustomTextCLIP layout: the text tower under "text."
        sd = {(k[len("text.") :] if k.startswith("text.") else k): v for k, v in sd.items()}
    missing = [
        k for k in ("visual.conv1.weight", "visual.proj", "token_embedding.weight", "text_projection") if k not in sd
    ]
    if missing:
        raise ModelLoadError(f"not an open_clip ViT CLIP state dict: missing {', '.join(missing)}")
    out: dict = {
        "vision_model.embeddings.class_embedding": sd["visual.class_embedding"],
        "vision_model.embeddings.position_embedding.weight": sd["visual.positional_embedding"],
        "vision_model.embeddings.patch_embedding.weight": sd["visual.conv1.weight"],
        "vision_model.pre_layrnorm.weight": sd["visual.ln_pre.weight"],
        "vision_model.pre_layrnorm.bias": sd["visual.ln_pre.bias"],
        "vision_model.post_layernorm.weight": sd["visual.ln_post.weight"],
        "vision_model.post_layernorm.bias": sd["visual.ln_post.bias"],
        "visual_projection.weight": sd["visual.proj"].t().contiguous(),
        "text_model.embeddings.token_embedding.weight": sd["token_embedding.weight"],
        "text_model.embeddings.position_embedding.weight": sd["positional_embedding"],
        "text_model.final_layer_norm.weight": sd["ln_final.weight"],
        "text_model.final_layer_norm.bias": sd["ln_final.bias"],
        "text_projection.weight": sd["text_projection"].t().contiguous(),
        "logit_scale": sd["logit_scale"].reshape(()),
    }
    for i in range(int(cfg["vision_cfg"]["layers"])):
        _split_qkv(f"visual.transformer.resblocks.{i}", sd, out, f"vision_model.encoder.layers.{i}")
    for i in range(int(cfg["text_cfg"]["layers"])):
        _split_qkv(f"transformer.resblocks.{i}", sd, out, f"text_model.encoder.layers.{i}")
    return out


def tokenizer_files() -> Path | None:
    """The CLIP BPE vocabulary (``bpe_simple_vocab_16e6.txt.gz``) of an installed open_clip package."""
    return _open_clip_file("bpe_simple_vocab_16e6.txt.gz")


def clip_tokenizer(bpe_gz: Path, folder: Path):
    """transformers' ``CLIPTokenizer`` over open_clip's BPE file (its vocabulary rebuilt the same way
    as open_clip's SimpleTokenizer: bytes, bytes + </w>, the 48,894 merges, the two special tokens)."""
    import gzip

    from transformers import CLIPTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode  # GPT-2's table: the vocabulary opens with it

    with gzip.open(bpe_gz) as stream:
        merges = stream.read().decode("utf-8").split("\n")[1 : 49152 - 256 - 2 + 1]

    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    return CLIPTokenizer(
        str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77, pad_token="<|endoftext|>"
    )


def build_open_clip(spec: str, torch_device, dtype, *, attention: bool):
    """An open_clip ViT checkpoint as (transformers CLIPModel, preprocessing, tokenizer or None, the
    weights' path, info for the results); ``encoders.load_encoder`` wraps it (see the module docstring)."""
    import tempfile

    from transformers import CLIPModel

    from .preprocess import PreprocessSettings

    arch, weights = parse_spec(spec)
    cfg = architecture(arch)
    if weights is None:
        raise ModelLoadError(
            f"model {spec!r} names no weights: add :PATH (a .safetensors, .bin or .pt checkpoint) or "
            ":hf-hub:org/name, e.g. open_clip:{arch}:hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K"
        )
    path = resolve_weights(weights, arch)
    if not weights.startswith("hf-hub:") and not Path(weights).expanduser().exists():
        try:  # a pretrained tag: its settings (OpenAI's weights need QuickGELU whatever the architecture says)
            if pretrained_tag(arch, weights)[1].get("quick_gelu"):
                cfg["quick_gelu"] = True
        except ModelLoadError:
            pass
    config = clip_config(cfg)
    config._attn_implementation = "eager" if attention else "sdpa"
    model = CLIPModel(config)
    state = convert_state_dict(read_checkpoint(path), cfg)
    result = model.load_state_dict(state, strict=False)
    unexpected = [k for k in result.unexpected_keys]
    missing = [k for k in result.missing_keys if not k.endswith("position_ids")]
    if missing or unexpected:
        raise ModelLoadError(
            f"open_clip weights {path} do not fit {arch}: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    model.to(device=torch_device, dtype=dtype)
    size = int(cfg["vision_cfg"]["image_size"])
    preprocess = cfg.get("preprocess_cfg", {})
    settings = PreprocessSettings(
        (size, size),
        "shortest_edge",
        size,
        (size, size),
        3,
        1 / 255,
        tuple(preprocess.get("mean", OPENAI_MEAN)),
        tuple(preprocess.get("std", OPENAI_STD)),
        True,
        source=f"open_clip eval transform ({arch})",
        crop_rounding="round",
    )
    bpe = tokenizer_files()
    tokenizer = clip_tokenizer(bpe, Path(tempfile.mkdtemp(prefix="clipshift-bpe-"))) if bpe is not None else None
    info = {"family": "open_clip", "architecture": arch}
    if tokenizer is None:
        info["text"] = (
            "no tokenizer: text metrics need the CLIP BPE vocabulary; install open-clip-torch (pip install "
            "--no-deps open-clip-torch is enough) for its bpe_simple_vocab_16e6.txt.gz"
        )
    return model, settings, tokenizer, path, info
