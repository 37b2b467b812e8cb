"""Start-up checks: what would otherwise fail every test item one by one is a usage error before
any test runs (a CUDA device on a machine without one, an empty image folder, a layer the model
does not have). Cheap: no image is decoded and no model weights are loaded."""

from __future__ import annotations

import json
from pathlib import Path

from ..core.errors import ConfigError


def preflight(cfg, metrics: list[str]) -> None:
    _check_model(cfg)
    if cfg.device not in ("auto", "cpu"):
        from ..core.models.encoders import resolve_device

        try:
            resolve_device(cfg.device)
        except ConfigError as exc:
            raise ConfigError(f"--clipshift-device: {exc}") from None
    name = cfg.images.partition(":")[0]
    from ..core.data.images import is_labelled_spec

    if name not in ("samples", "demo-scenes") and not is_labelled_spec(cfg.images, cfg.root):
        from ..core.data.images import resolve_image_paths

        try:
            resolve_image_paths(cfg.images, cfg.root)
        except ConfigError as exc:
            raise ConfigError(f"--clipshift-images: {exc}") from None
    from ..core.metrics import METRICS, split_layer

    across = [m for m in metrics if m in METRICS and METRICS[m].needs == "draws"]
    if across and cfg.draws < 2:
        raise ConfigError(
            f"{', '.join(across)} (named by --clipshift-metrics or a budget) needs at least 2 draws of each "
            "case: add --clipshift-draws K with K >= 2 (ini clipshift_draws)"
        )

    layered = [m for m in metrics if split_layer(m)[1] is not None]
    if layered:
        count = model_layer_count(cfg.model)
        for m in layered:
            layer = split_layer(m)[1]
            if count is not None and not 1 <= layer <= count:
                raise ConfigError(f"metric {m!r}: model {cfg.model!r} has vision layers 1 to {count}")


def _check_model(cfg) -> None:
    """What can be said of the model without loading its weights: the directory, its config.json,
    shipped code; an open_clip weights file that is not there."""
    from ..core.errors import ModelLoadError

    spec = str(cfg.model)
    try:
        if spec.startswith("open_clip:"):
            from ..core.models.open_clip_weights import architecture, parse_spec, resolve_weights

            arch, weights = parse_spec(spec)
            architecture(arch)
            if weights is not None:  # none: the loader says how to name them
                resolve_weights(weights, arch)
            return
        from ..core.models.encoders import locate_checkpoint

        locate_checkpoint(spec, cfg.trust_remote_code)
    except ModelLoadError as exc:
        raise ConfigError(f"--clipshift-model: {exc}") from None


def model_layer_count(spec: str) -> int | None:
    """The vision tower's depth from the checkpoint's config.json (None when it cannot be read here:
    the engine checks again once the model is loaded)."""
    from ..core.models.encoders import DEMO_MODEL_DIR

    location = DEMO_MODEL_DIR if spec == "demo" else Path(spec).expanduser()
    if location.is_dir():
        config_path = location / "config.json"
    else:
        try:
            from transformers.utils import cached_file

            found = cached_file(spec, "config.json", local_files_only=True, _raise_exceptions_for_missing_entries=False)
        except (OSError, ValueError):
            return None
        if not found:
            return None
        config_path = Path(found)
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    vision = config.get("vision_config", config) if isinstance(config, dict) else {}
    layers = vision.get("num_hidden_layers") if isinstance(vision, dict) else None
    return layers if isinstance(layers, int) else None
