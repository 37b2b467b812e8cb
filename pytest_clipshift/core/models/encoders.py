"""Encoders: the small protocol every model is measured through, and its transformers implementation.

An encoder takes uint8 canvases (N, H, W, 3) and returns image embeddings, and on request the
attention each layer pays to each patch and the hidden states of every layer. Wrapping another
library's model (open_clip, say) means implementing ``to_canvas`` and ``encode`` (see docs/python-api.md).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import ConfigError, ModelLoadError
from .preprocess import PreprocessSettings, normalize_batch, read_processor_config, to_canvas
from .tower import direct_available

PRECISIONS = ("fp32", "fp16", "bf16")
DEVICES = ("auto", "cpu", "cuda", "mps")
DEMO_MODEL_DIR = Path(__file__).parents[2] / "demo" / "model"
DEFAULT_CANVAS = 224  # the study squashed every image to 224 px before augmenting


@dataclass
class Encoded:
    """What one ``encode`` call returns. Row i belongs to input i."""

    embeddings: np.ndarray  # (N, D) float32, as the model returns them (not normalised)
    attention: np.ndarray | None = None  # (N, L, gh, gw): attention to each patch per layer, heads averaged
    hidden_states: np.ndarray | None = None  # (N, L + 1, T, d): embeddings output, then each layer
    head_attention: np.ndarray | None = None  # (N, L, H, gh, gw): the same maps per head ("heads")
    direct_heads: np.ndarray | None = None  # (N, L, H, D): each head's direct contribution ("direct")
    direct_rest: np.ndarray | None = None  # (N, D): everything else; with the heads' it adds up to the embedding
    lens: np.ndarray | None = None  # (N, L, D): each layer read through the final norm and projection ("lens")


@runtime_checkable
class Encoder(Protocol):
    """What the engine needs from a model."""

    name: str
    fingerprint: str
    canvas_size: tuple[int, int]
    info: dict[str, Any]

    def to_canvas(self, image: np.ndarray) -> np.ndarray:
        """uint8 HxWx3 image of any size -> uint8 canvas of ``canvas_size`` (resize, crop)."""

    def encode(self, canvases: np.ndarray, *, attention: bool = False, hidden_states: bool = False) -> Encoded:
        """uint8 (N, H, W, 3) canvases -> embeddings (and attention / hidden states on request)."""


def resolve_device(device: str = "auto"):
    import torch

    if device not in DEVICES and not device.startswith("cuda:"):
        raise ConfigError(f"device {device!r} is not one of {', '.join(DEVICES)} (or cuda:N)")
    mps = getattr(torch.backends, "mps", None)
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"device {device!r} requested but torch {torch.__version__} sees no CUDA device; use --clipshift-device "
            "cpu or auto"
        )
    if device == "mps" and not (mps is not None and mps.is_available()):
        raise ConfigError("device 'mps' requested but this torch build has no working MPS backend; use cpu or auto")
    return torch.device(device)


def resolve_dtype(precision: str, device):
    """torch dtype for ``precision``; a precision the device cannot run is an error, never an upcast."""
    import torch

    dtypes = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    if precision not in dtypes:
        raise ConfigError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    dtype = dtypes[precision]
    if dtype is torch.float32:
        return dtype
    if device.type == "cuda" and dtype is torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise ConfigError(f"precision bf16 is not supported by {torch.cuda.get_device_name(device)}; use fp16 or fp32")
    try:  # the ops a ViT forward needs, in that dtype, on that device
        x = torch.randn(2, 4, 8, device=device).to(dtype)
        w = torch.randn(8, 8, device=device).to(dtype)
        y = torch.nn.functional.layer_norm(x @ w, (8,)).softmax(-1)
        torch.nn.functional.gelu(y).sum().item()
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(
            f"precision {precision} cannot run on device {device} with torch {torch.__version__} ({exc}); use fp32"
        ) from None
    return dtype


def weights_fingerprint(model) -> str:
    """A hash of every parameter and buffer (names, shapes, dtypes, bytes): identifies the model."""
    import torch

    h = hashlib.blake2b(digest_size=16)
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous().reshape(-1)
        h.update(f"{name}|{tuple(t.shape)}|{t.dtype}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


class TransformersEncoder:
    """Any transformers CLIP-family model with ``get_image_features`` (CLIP, SigLIP, fine-tunes)."""

    def __init__(
        self,
        model,
        preprocess: PreprocessSettings,
        *,
        name: str,
        device,
        dtype,
        precision: str,
        canvas_size: int | None = None,
        tokenizer=None,
        source: str = "",
    ):
        import transformers

        self.model = model.eval()
        self.preprocess = preprocess
        self.name = name
        self.device = device
        self.dtype = dtype
        self.precision = precision
        self.tokenizer = tokenizer
        ih, iw = preprocess.input_size
        side = max(canvas_size or DEFAULT_CANVAS, ih)
        self.canvas_size = (side, round(side * iw / ih))
        self.fingerprint = weights_fingerprint(model)
        vision_cfg = getattr(model.config, "vision_config", model.config)
        # SigLIP 2 (NaFlex) takes flattened patches with their grid shape instead of an image tensor
        self.naflex = getattr(model.config, "model_type", "") == "siglip2"
        try:
            self.layers = _vision_layers(model)
            self.attention_note = "captured per layer (CLS row, or mean over queries without a CLS token)"
        except ModelLoadError as exc:  # a convolutional tower (ALIGN's EfficientNet): embeddings only
            self.layers = []
            self.attention_note = f"not available: {exc}"
        self.patch_size = int(getattr(vision_cfg, "patch_size", 0) or 0) or ih
        self.grid = (ih // self.patch_size, iw // self.patch_size)
        self.info = {
            "name": name,
            "source": source,
            "class": type(model).__name__,
            "fingerprint": self.fingerprint,
            "device": str(device),
            "precision": precision,
            "layers": len(self.layers),
            "heads": int(getattr(vision_cfg, "num_attention_heads", 0) or 0) if self.layers else 0,
            "patch_grid": list(self.grid),
            "input_size": list(preprocess.input_size),
            "canvas_size": list(self.canvas_size),
            "preprocessing": preprocess.to_dict(),
            "transformers": transformers.__version__,
            "parameters": int(sum(p.numel() for p in model.parameters())),
            # CLIP projects to projection_dim; SigLIP's pooled output keeps the vision width
            "embedding_dim": int(
                getattr(model.config, "projection_dim", None) or getattr(vision_cfg, "hidden_size", 0)
            ),
            "model_type": getattr(model.config, "model_type", ""),
            "attention": self.attention_note,
            # what the forward can read from inside the tower (tower.py); direct contributions need a CLS
            # pooled through a final norm and projection
            "tower": (["heads", "lens"] + ([] if direct_available(model) else ["direct"])) if self.layers else [],
            "tokenizer": tokenizer is not None,
        }
        if name == "demo":  # the notice the demo model's card carries (written when it was trained)
            card = json.loads((DEMO_MODEL_DIR / "demo_card.json").read_text(encoding="utf-8"))
            self.info["notice"] = card["notice"]

    # -- geometry -------------------------------------------------------------------------------
    def to_canvas(self, image: np.ndarray) -> np.ndarray:
        return to_canvas(image, self.preprocess, self.canvas_size)

    def pixel_values(self, canvases: np.ndarray):
        return normalize_batch(canvases, self.preprocess, self.device, self.dtype)

    def model_inputs(self, canvases: np.ndarray) -> dict:
        """The keyword arguments of ``get_image_features`` for a batch of canvases."""
        import torch

        x = self.pixel_values(canvases)
        if not self.naflex:
            return {"pixel_values": x}
        # SigLIP 2's processor layout: each patch flattened as (row, column, channel), row-major patches
        b, c, h, w = x.shape
        p = self.patch_size
        patches = (
            x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1).reshape(b, (h // p) * (w // p), p * p * c)
        )
        shapes = torch.tensor([[h // p, w // p]] * b, device=x.device)
        mask = torch.ones(b, patches.shape[1], dtype=torch.long, device=x.device)
        return {"pixel_values": patches, "pixel_attention_mask": mask, "spatial_shapes": shapes}

    # -- forward ----------------------------------------------------------------------------------
    def _set_attention_path(self, eager: bool) -> None:
        wanted = "eager" if eager else "sdpa"
        current = getattr(self.model.config, "_attn_implementation", None)
        if current != wanted:
            try:
                self.model.set_attn_implementation(wanted)
            except (ValueError, AttributeError, ImportError):
                if eager:
                    raise
                # a model without SDPA support simply stays eager: slower, same numbers

    def encode(
        self, canvases: np.ndarray, *, attention: bool = False, hidden_states: bool = False, tower=frozenset()
    ) -> Encoded:
        """uint8 (or unquantised float) (N, H, W, 3) canvases -> embeddings, with attention maps, hidden
        states and what ``tower`` asks from inside the vision tower in the same forward: "heads" (per-head
        maps), "direct" (the heads' direct contributions), "lens" (each layer's embedding)."""
        import torch

        from .tower import TowerRead

        tower = frozenset(tower)
        attention = attention or "heads" in tower
        need_hidden = hidden_states or bool(tower & {"direct", "lens"})
        if (attention or need_hidden) and not self.layers:
            raise ModelLoadError(
                f"{self.name}: attention maps and layer tokens are {self.attention_note}; measure "
                "embedding and pixel metrics only (--clipshift-metrics, or budgets naming no attention or layer metric)"
            )
        self._set_attention_path(attention)
        read = TowerRead(self.model, self.layers, self.grid, attention, tower, self.name)
        with torch.inference_mode(), read:
            out = self.model.get_image_features(**self.model_inputs(canvases), output_hidden_states=need_hidden)
            read.after_forward(out)
        emb = out if torch.is_tensor(out) else getattr(out, "pooler_output", None)
        if emb is None or not torch.is_tensor(emb) or emb.ndim != 2:
            raise ModelLoadError(
                f"{self.name}: get_image_features returned {type(out).__name__} without a 2-D pooler_output; "
                "this model class is not supported as is: wrap it in your own Encoder"
            )
        return read.result(Encoded(emb.float().cpu().numpy()), hidden_states)

    def embed_differentiable(self, canvases):
        """(N, H, W, 3) float canvases on the model's device, 0-255, unquantised -> (N, D) embeddings
        with gradients to the pixels (an adversarial attack's forward). Only at fp32: an attack in
        half precision would measure rounding, not the model."""
        import torch

        if self.dtype is not torch.float32:
            raise ConfigError(
                f"{self.name}: adversarial cases attack in fp32, this model runs in {self.precision}: "
                "measure them with --clipshift-precision fp32"
            )
        with torch.enable_grad():  # on whichever attention path the model is: the embedding is the same
            out = self.model.get_image_features(**self.model_inputs(canvases))
        return out if torch.is_tensor(out) else out.pooler_output

    def encode_text(self, prompts: list[str]) -> np.ndarray:
        import torch

        if self.tokenizer is None:
            raise ConfigError(
                f"{self.name}: no tokenizer was found beside the model, so text prompts cannot be encoded"
            )
        self._set_attention_path(False)
        padding = "max_length" if "siglip" in type(self.model).__name__.lower() else True
        tokens = self.tokenizer(prompts, padding=padding, truncation=True, return_tensors="pt").to(self.device)
        with torch.inference_mode():
            out = self.model.get_text_features(
                **{k: v for k, v in tokens.items() if k in ("input_ids", "attention_mask")}
            )
        emb = out if torch.is_tensor(out) else out.pooler_output
        return emb.float().cpu().numpy()


def _default_preprocess(model, vision_cfg, processor: dict | None) -> PreprocessSettings:
    """Preprocessing when the checkpoint has no usable processor config. SigLIP 2 (NaFlex) resizes to
    a budget of patches; here it gets a square of sqrt(max_num_patches) patches a side, the same
    number of patches, on the squashed square canvas every model here sees."""
    import math

    if getattr(model.config, "model_type", "") == "siglip2":
        budget = int((processor or {}).get("max_num_patches") or getattr(vision_cfg, "num_patches", 256))
        side = int(math.isqrt(budget)) * int(vision_cfg.patch_size)
        mean = tuple((processor or {}).get("image_mean", (0.5, 0.5, 0.5)))
        std = tuple((processor or {}).get("image_std", (0.5, 0.5, 0.5)))
        return PreprocessSettings(
            (side, side),
            "exact",
            (side, side),
            None,
            int((processor or {}).get("resample", 2)),
            1 / 255,
            mean,
            std,
            True,
            source=f"SigLIP 2: {side // int(vision_cfg.patch_size)}^2 patches, square",
        )
    size = getattr(vision_cfg, "image_size", None)
    if size is None:
        raise ModelLoadError(f"{type(model).__name__}: no image_size in its config and no preprocessor_config.json")
    return PreprocessSettings.fallback(int(size))


def _vision_layers(model) -> list:
    vision = getattr(model, "vision_model", None)
    encoder = getattr(vision, "encoder", None)
    layers = getattr(encoder, "layers", None)
    if layers is None:
        raise ModelLoadError(
            f"{type(model).__name__} has no vision_model.encoder.layers; clipshift supports transformers "
            "CLIP-family models (CLIP, SigLIP); wrap other models in your own Encoder"
        )
    attn = [getattr(layer, "self_attn", None) for layer in layers]
    if any(a is None for a in attn):
        raise ModelLoadError(f"{type(model).__name__}: a vision layer has no self_attn module")
    return attn


def _hub_reachable(timeout: float = 2.0) -> bool:
    """Whether the hub's host accepts a connection within ``timeout`` s: an offline machine then fails
    in about a second instead of spending ~26 s in transformers' download retries."""
    import socket
    from urllib.parse import urlparse

    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        socket.create_connection((endpoint.hostname, endpoint.port or 443), timeout=timeout).close()
        return True
    except (OSError, ValueError):
        return False


def _cached_hub_ids() -> list[str]:
    """The model ids in the local hub cache (``models--org--name`` folders)."""
    try:
        return sorted(
            d.name[len("models--") :].replace("--", "/")
            for d in Path(_hub_cache_dir()).iterdir()
            if d.name.startswith("models--")
        )
    except OSError:
        return []


def _close_ids(spec: str) -> str:
    import difflib

    close = difflib.get_close_matches(spec, _cached_hub_ids(), n=3, cutoff=0.6)
    return f" Did you mean {', '.join(close)} (in the local cache)?" if close else ""


def _hub_cache_dir() -> str:
    try:
        from huggingface_hub import constants

        return str(constants.HF_HUB_CACHE)
    except Exception:  # pragma: no cover - very old huggingface_hub
        return os.path.expanduser("~/.cache/huggingface/hub")


def _looks_like_path(spec: str) -> bool:
    return (
        spec.startswith((".", "/", "~"))
        or os.sep in spec.rstrip(os.sep)
        and spec.count("/") != 1
        or Path(spec).exists()
    )


def _custom_code(location: Path) -> str | None:
    """The ``auto_map`` of a local checkpoint's config.json: code the checkpoint ships to be run."""
    try:
        config = json.loads((location / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    auto_map = config.get("auto_map") if isinstance(config, dict) else None
    return json.dumps(auto_map) if auto_map else None


def _weight_files(location: Path) -> str:
    names = sorted(p.name for p in location.iterdir() if p.suffix in (".safetensors", ".bin", ".pt", ".pth", ".ckpt"))
    return ", ".join(names) or "no weights file"


def load_encoder(
    spec: str | os.PathLike = "demo",
    device: str = "auto",
    precision: str = "fp32",
    *,
    attention: bool = True,
    canvas_size: int | None = None,
    trust_remote_code: bool = False,
) -> TransformersEncoder:
    """Load a CLIP-family checkpoint as an ``Encoder``.

    ``spec`` is ``"demo"`` (the bundled demo model), a local directory in Hugging Face format, or a
    hub id resolved through the local Hugging Face cache (``HF_HUB_OFFLINE=1`` is honoured; without
    it a download is tried when the cache misses). ``device``: auto (cuda, then mps, then cpu), cpu,
    cuda, cuda:N or mps. ``precision``: fp32, fp16 or bf16. ``attention``: start on the eager
    attention path (needed for attention maps); the encoder switches paths per call as needed.
    ``trust_remote_code``: a checkpoint that ships its own Python code (``auto_map``) is refused
    unless this is True; clipshift never runs such code on its own, nor asks.
    """
    spec = str(spec)
    torch_device = resolve_device(device)
    dtype = resolve_dtype(precision, torch_device)
    options = dict(device=torch_device, dtype=dtype, precision=precision, canvas_size=canvas_size)
    if spec.startswith("open_clip:"):
        from .open_clip_weights import build_open_clip

        model, settings, tokenizer, path, extra = build_open_clip(spec, torch_device, dtype, attention=attention)
        encoder = TransformersEncoder(model, settings, name=spec, tokenizer=tokenizer, source=str(path), **options)
        encoder.info.update(extra)
        return encoder
    location, name = locate_checkpoint(spec, trust_remote_code)
    kwargs = dict(
        attn_implementation="eager" if attention else "sdpa", dtype=dtype, trust_remote_code=trust_remote_code
    )
    model = _from_pretrained(spec, location, kwargs)
    if not hasattr(model, "get_image_features"):
        raise ModelLoadError(
            f"model {spec!r} loaded as {type(model).__name__}, which has no get_image_features: "
            "not a CLIP-family model (CLIP, SigLIP)"
        )
    model.to(torch_device)
    tokenizer = _tokenizer(location, trust_remote_code)
    settings = _preprocessing(spec, model, location)
    return TransformersEncoder(model, settings, name=name, tokenizer=tokenizer, source=str(location), **options)


def locate_checkpoint(spec: str, trust_remote_code: bool = False) -> tuple[Path | str, str]:
    """(where the checkpoint is: a directory, or a hub id for the cache; its name), after the checks
    that need no weights loaded: the directory exists, holds config.json, ships no code unless
    trusted. A ``ModelLoadError`` says what is wrong and what a checkpoint directory holds."""
    if spec == "demo":
        if not (DEMO_MODEL_DIR / "config.json").is_file():
            raise ModelLoadError(
                f"the demo model is missing from {DEMO_MODEL_DIR}; run python scripts/train_demo_model.py"
            )
        return DEMO_MODEL_DIR, "demo"
    path = Path(spec).expanduser()
    if path.is_symlink():
        try:
            path.resolve(strict=True)
        except (OSError, RuntimeError) as exc:  # a loop or a dangling link: is_dir() would just say False
            raise ModelLoadError(
                f"model {spec!r}: the symbolic link {path} cannot be followed "
                f"({getattr(exc, 'strerror', None) or exc}); point it at a checkpoint directory"
            ) from None
    if not path.is_dir():
        if _looks_like_path(spec):
            raise ModelLoadError(
                f"model {spec!r}: no such directory ({path.resolve()}). Give a directory holding config.json and "
                "model weights (as written by save_pretrained), a hub id such as openai/clip-vit-base-patch32, or "
                "'demo'"
            )
        return spec, spec
    if not (path / "config.json").is_file():
        held = sorted(p.name for p in path.iterdir())[:8]
        raise ModelLoadError(
            f"model {spec!r}: the directory {path} has no config.json, so it is not a checkpoint directory "
            f"({'it is empty' if not held else 'it holds ' + ', '.join(held)}). A checkpoint directory holds "
            "config.json and the weights as written by save_pretrained: is this the right folder, or did a copy "
            "or download not finish?"
        )
    custom = _custom_code(path) if not trust_remote_code else None
    if custom:
        raise ModelLoadError(
            f"model {spec!r}: the checkpoint in {path} ships its own Python code (auto_map {custom[:200]}), "
            "which clipshift does not run unless you trust it: pass --clipshift-trust-remote-code "
            "(ini clipshift_trust_remote_code = true, or trust_remote_code=True in Python)"
        )
    return path, spec


def checkpoint_problem(spec: str, trust_remote_code: bool = False) -> str | None:
    """Why ``spec`` cannot be loaded on this machine, found without loading it (None: it can be tried):
    the start-up checks, and for a hub id whether the local cache holds its config. A suite that needs a
    real checkpoint can skip with this reason instead of failing at start-up."""
    if str(spec).startswith("open_clip:"):
        from .open_clip_weights import parse_spec, resolve_weights

        try:
            arch, weights = parse_spec(str(spec))
            if weights is not None:
                resolve_weights(weights, arch)
        except ModelLoadError as exc:
            return str(exc)
        return None
    try:
        location, _ = locate_checkpoint(str(spec), trust_remote_code)
    except ModelLoadError as exc:
        return str(exc)
    if isinstance(location, Path) or os.environ.get("HF_HUB_OFFLINE", "").lower() not in ("1", "true", "yes", "on"):
        return None  # a directory, or a hub id that may still be downloaded
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(location, "config.json"), str):
        return None
    return f"model {spec!r} is not in the local Hugging Face cache ({_hub_cache_dir()}) and HF_HUB_OFFLINE is set"


def _from_pretrained(spec: str, location, kwargs: dict):
    """transformers' AutoModel from the directory, or the hub id from the local cache, then (online
    only) from the hub; every attempt that failed is named in the error."""
    import transformers
    from transformers import AutoModel

    tried: list[str] = []
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    for local_only in [True] if isinstance(location, Path) or offline else [True, False]:
        if not local_only and not _hub_reachable():  # the cache missed and there is no network: say so now
            tried.append(
                f"download of {location!r}: the hub ({os.environ.get('HF_ENDPOINT', 'huggingface.co')}) "
                "cannot be reached from this machine (offline)"
            )
            break
        try:
            return AutoModel.from_pretrained(location, local_files_only=local_only, **kwargs)
        except Exception as exc:
            # (a pickle or truncated safetensors file raises from deep inside torch or safetensors)
            if isinstance(location, Path):
                where = f"directory {location} ({_weight_files(location)})"
            elif local_only:
                where = f"hub id {location!r} in the local cache {_hub_cache_dir()}"
            else:
                where = f"download of {location!r} from the hub"
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            tried.append(f"{where}: {type(exc).__name__}: {first}")
    hint = (
        "download it on a machine with network (hf download ID, or save_pretrained to a "
        "directory) and copy the cache (HF_HOME) or the directory here"
    )
    suggestion = _close_ids(spec) if not isinstance(location, Path) else ""
    raise ModelLoadError(
        f"could not load model {spec!r} (transformers {transformers.__version__}). Tried:\n  - "
        + "\n  - ".join(tried)
        + f"\nTo fix: {hint}.{suggestion}"
    )


def _preprocessing(spec: str, model, location) -> PreprocessSettings:
    """The checkpoint's own resize and crop (its preprocessor_config.json), or the family's defaults."""
    cfg = _processor_config(location)
    vision_cfg = getattr(model.config, "vision_config", model.config)
    if cfg is None or getattr(model.config, "model_type", "") == "siglip2":
        return _default_preprocess(model, vision_cfg, cfg)
    try:
        return PreprocessSettings.from_processor_dict(cfg)
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"model {spec!r}: preprocessor_config.json is not usable: {exc}") from None


def _processor_config(location) -> dict | None:
    if isinstance(location, Path):
        return read_processor_config(location)
    try:
        from transformers.utils import cached_file

        path = cached_file(
            location, "preprocessor_config.json", local_files_only=True, _raise_exceptions_for_missing_entries=False
        )
    except (OSError, ValueError):
        return None
    return read_processor_config(Path(path).parent) if path else None


def _tokenizer(location, trust_remote_code: bool = False):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(location, local_files_only=True, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, TypeError, KeyError, ImportError):
        return None  # text features are optional: encode_text says so when asked
