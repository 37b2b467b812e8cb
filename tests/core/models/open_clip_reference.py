"""open_clip itself, importable in the tests on a machine whose torchvision cannot load.

The index's torchvision wheels do not load beside this machine's CPU torch, and open_clip imports a
few torchvision names at import time (transforms for its training/eval pipelines, FrozenBatchNorm2d
for ResNets). The ViT models compared here use none of them, so stand-ins suffice: this shim lives
in the tests only, never in the package. ``open_clip`` must be installed (``pip install --no-deps
open-clip-torch``); without it the tests that need it skip.
"""

from __future__ import annotations

import sys
import types


def _stand_in(name: str):
    def refuse(*args, **kwargs):
        raise RuntimeError(f"torchvision.{name} is a test stand-in (torchvision cannot load on this machine)")

    return type(name, (), {"__init__": refuse})


def import_open_clip():
    """``open_clip``, with stand-ins for the torchvision names it imports when torchvision is unusable."""
    import importlib.util

    import pytest

    if importlib.util.find_spec("open_clip") is None:  # found without importing it (that needs torchvision)
        pytest.skip("open_clip is not installed: pip install --no-deps open-clip-torch")
    import importlib.machinery

    from transformers.utils import import_utils

    import_utils.is_torchvision_available()  # decided (and cached) before any stand-in exists
    if "open_clip" in sys.modules:
        return sys.modules["open_clip"]
    try:
        import torchvision  # noqa: F401  (a working torchvision: nothing to stand in for)

        shimmed = []
    except Exception:
        for key in [k for k in sys.modules if k == "torchvision" or k.startswith("torchvision.")]:
            del sys.modules[key]
        tv = types.ModuleType("torchvision")
        transforms = types.ModuleType("torchvision.transforms")
        functional = types.ModuleType("torchvision.transforms.functional")
        ops = types.ModuleType("torchvision.ops")
        misc = types.ModuleType("torchvision.ops.misc")
        for name in (
            "Normalize",
            "Compose",
            "RandomResizedCrop",
            "ToTensor",
            "Resize",
            "CenterCrop",
            "ColorJitter",
            "Grayscale",
        ):
            setattr(transforms, name, _stand_in(name))
        transforms.InterpolationMode = types.SimpleNamespace(BICUBIC="bicubic", BILINEAR="bilinear", NEAREST="nearest")
        transforms.functional = functional
        misc.FrozenBatchNorm2d = _stand_in("FrozenBatchNorm2d")
        ops.misc = misc
        tv.transforms, tv.ops = transforms, ops
        shimmed = {
            "torchvision": tv,
            "torchvision.transforms": transforms,
            "torchvision.transforms.functional": functional,
            "torchvision.ops": ops,
            "torchvision.ops.misc": misc,
        }
        for name, module in shimmed.items():
            module.__spec__ = importlib.machinery.ModuleSpec(name, None)
        sys.modules.update(shimmed)
    try:
        import open_clip
    finally:  # open_clip keeps the names it bound; nothing else in the process sees the stand-ins
        for name in shimmed:
            sys.modules.pop(name, None)
    return open_clip
