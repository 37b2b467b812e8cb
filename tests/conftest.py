"""Shared test fixtures: tiny, seeded, randomly initialised CLIP-family models built in the test
session (no files shipped, no downloads), and small image sets."""

from __future__ import annotations

import os
from pathlib import Path

# pytester's in-process runs unload every module first imported inside them; re-importing
# transformers' modeling modules later in the same worker then fails ("Could not import module
# 'CLIPModel'"), depending on test order. Import them once, up front.
import albumentations  # noqa: F401
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot
import scipy.cluster.hierarchy  # noqa: F401
from transformers import (
    CLIPImageProcessor,
    CLIPModel,
    SiglipModel,
)

import pytest_clipshift.integration.plugin  # noqa: F401

CLIPImageProcessor()  # loads the PIL-backed processor class too (no torchvision here)

TINY_TEXT = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=2,
    vocab_size=100,
    max_position_embeddings=16,
    eos_token_id=2,
    bos_token_id=1,
    pad_token_id=2,
)
TINY_VISION = dict(
    hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=32, patch_size=8
)


def build_tiny_clip(seed: int = 0):
    import torch
    from transformers import CLIPConfig

    torch.manual_seed(seed)
    return CLIPModel(CLIPConfig(text_config=TINY_TEXT, vision_config=TINY_VISION, projection_dim=16))


def build_tiny_siglip(seed: int = 0):
    import torch
    from transformers import SiglipConfig

    torch.manual_seed(seed)
    text = {k: v for k, v in TINY_TEXT.items() if k not in ("eos_token_id", "bos_token_id", "pad_token_id")}
    return SiglipModel(SiglipConfig(text_config=text, vision_config=TINY_VISION))


def save_with_processor(model, directory: Path, size: int = 32) -> Path:
    from transformers import CLIPImageProcessor

    model.save_pretrained(directory)
    CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size}).save_pretrained(
        directory
    )
    return directory


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory) -> Path:
    """A tiny seeded CLIP saved as a Hugging Face checkpoint directory (with a processor config)."""
    return save_with_processor(build_tiny_clip(0), tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="session")
def tiny_siglip_dir(tmp_path_factory) -> Path:
    """A tiny seeded SigLIP (no CLS token, no processor config: the fallback preprocessing)."""
    directory = tmp_path_factory.mktemp("tiny-siglip")
    build_tiny_siglip(0).save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_encoder(tiny_clip_dir):
    from pytest_clipshift.core.models.encoders import load_encoder

    return load_encoder(tiny_clip_dir, device="cpu")


@pytest.fixture(scope="session")
def small_images():
    """Six varied synthetic photographs-like images of different sizes (seeded)."""
    from pytest_clipshift.core.data.images import ImageSet

    rng = np.random.default_rng(0)
    arrays = []
    for i, (h, w) in enumerate([(64, 80), (96, 64), (72, 72), (120, 90), (64, 64), (80, 100)]):
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([(xx * (i + 1) * 3) % 256, (yy * 5 + i * 40) % 256, ((xx + yy) * 2) % 256], -1)
        noise = rng.integers(0, 40, size=(h, w, 3))
        arrays.append(np.clip(base + noise, 0, 255).astype(np.uint8))
    return ImageSet([f"img{i}.png" for i in range(len(arrays))], arrays, "synthetic")


@pytest.fixture
def image_dir(tmp_path, small_images) -> Path:
    from PIL import Image

    d = tmp_path / "images"
    d.mkdir()
    for name, arr in zip(small_images.names, small_images.arrays):
        Image.fromarray(arr).save(d / name)
    return d


def make_user_project(pytester, model_dir: Path, images, budgets: str, count: int, ini: str = ""):
    """A user's project in ``pytester``: ``count`` images, a budgets file, an ini naming the model."""
    from PIL import Image

    folder = pytester.path / "images"
    folder.mkdir()
    for name, arr in zip(images.names[:count], images.arrays[:count]):
        Image.fromarray(arr).save(folder / name)
    pytester.makefile(".toml", budgets=budgets)
    pytester.makeini(
        f"[pytest]\nclipshift_model = {model_dir}\nclipshift_images = images\nclipshift_device = cpu\n{ini}"
    )
    return pytester


@pytest.fixture(autouse=True)
def _builtin_augmentations_rebuilt_under_mutation_testing():
    """mutmut's fork server collects the tests once and every mutant's process inherits what that
    filled, the built-in augmentation table included: rebuilt before each test, the table a test
    reads is the one the mutant under test builds (and mutmut sees which tests build it)."""
    if os.environ.get("MUTANT_UNDER_TEST"):
        from pytest_clipshift.core.augment import augmentations

        augmentations._REGISTRY.clear()  # tests register their own inside the test, never before
    yield


def pytest_collection_modifyitems(items):
    """A test that runs pytest inside pytest (``pytester``) is a whole run: minutes under mutation
    testing, which deselects them (``-m "not whole_run"``) and keeps the known-answer tests."""
    for item in items:
        if "pytester" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.whole_run)
