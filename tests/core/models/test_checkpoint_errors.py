"""Checkpoints that cannot be used name the real problem: an empty directory, a mistyped hub id offline."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_an_empty_model_directory_names_the_real_problem(tmp_path):
    from pytest_clipshift.core.errors import ModelLoadError
    from pytest_clipshift.core.models.encoders import load_encoder

    (tmp_path / "model").mkdir()
    with pytest.raises(ModelLoadError) as info:
        load_encoder(str(tmp_path / "model"), "cpu")
    message = str(info.value)
    assert "has no config.json" in message and "it is empty" in message and "download it" not in message
    (tmp_path / "model" / "weights.bin").write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="it holds weights.bin"):
        load_encoder(str(tmp_path / "model"), "cpu")


def test_a_mistyped_hub_id_offline_fails_fast_and_suggests_the_cached_one(tmp_path, monkeypatch):
    """No network: the download is not attempted (transformers would retry for ~26 s); the error says
    the hub cannot be reached and names the cached id the user probably meant."""
    import transformers

    from pytest_clipshift.core.errors import ModelLoadError
    from pytest_clipshift.core.models import encoders

    cache = tmp_path / "hub"
    (cache / "models--openai--clip-vit-base-patch32").mkdir(parents=True)
    monkeypatch.setattr(encoders, "_hub_cache_dir", lambda: str(cache))
    monkeypatch.setattr(encoders, "_hub_reachable", lambda timeout=2.0: False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    attempts = []
    real = transformers.AutoModel.from_pretrained

    def recording(location, *args, local_files_only=False, **kwargs):
        attempts.append(local_files_only)
        return real(location, *args, local_files_only=local_files_only, **kwargs)

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", recording)
    with pytest.raises(ModelLoadError) as info:
        encoders.load_encoder("openai/clip-vit-base-patch23", "cpu")
    message = str(info.value)
    assert "cannot be reached from this machine (offline)" in message
    assert "Did you mean openai/clip-vit-base-patch32" in message
    assert attempts == [True]  # the local cache was tried; no download (transformers retries for ~26 s)
