"""The augmenter's device choice and its threads: ``cpu`` (or nothing) is the CPU reference path,
``auto`` follows a CUDA encoder only, a CUDA device on a machine without one is a usage error; a
batch augmented by several threads is the batch augmented by one. Also the chunk size lowered for
large canvases, and the engine's sink threshold reaching the sink metrics."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from pytest_clipshift.core.cases import Case
from pytest_clipshift.core.errors import ConfigError
from pytest_clipshift.core.measure import augmenting
from pytest_clipshift.core.measure import thread_budget as budget
from pytest_clipshift.core.measure.augmenting import Augmenter, Job, augment_device
from pytest_clipshift.core.measure.engine import CHUNK_MEMORY, chunk_for_canvas, measure


def test_cpu_or_nothing_is_the_reference_path_and_auto_follows_a_cuda_encoder_only():
    on_cuda = SimpleNamespace(device=SimpleNamespace(type="cuda"))
    assert augment_device(None, on_cuda) is None and augment_device("cpu", on_cuda) is None
    assert augment_device("auto", on_cuda) is on_cuda.device
    assert augment_device("auto", SimpleNamespace(device=torch.device("cpu"))) is None
    assert augment_device("auto", SimpleNamespace()) is None  # an encoder that states no device: the CPU
    assert augment_device(torch.device("cpu"), None) == torch.device("cpu")  # a torch device as given
    assert augment_device("cpu:0", None) == torch.device("cpu", 0)  # a string names a torch device


@pytest.mark.skipif(torch.cuda.is_available(), reason="the machine has CUDA")
@pytest.mark.parametrize("choice", ["cuda", "cuda:1", torch.device("cuda")])
def test_a_cuda_augment_device_without_cuda_is_a_usage_error(choice):
    with pytest.raises(ConfigError, match=r"augment device .*cuda.* sees no CUDA device; use auto or cpu"):
        augment_device(choice, None)


def augmenter_with_budget(monkeypatch, cores, cases):
    monkeypatch.setattr(budget, "thread_budget", lambda: cores)
    return Augmenter(tuple(cases), 0, [f"hash{i}" for i in range(6)])


@pytest.mark.parametrize(("cores", "workers"), [(1, 1), (2, 1), (3, 1), (7, 3), (16, 8), (17, 8), (18, 8), (40, 8)])
def test_the_threads_are_half_the_cores_rounded_down_at_least_one_at_most_eight(monkeypatch, cores, workers):
    got = augmenter_with_budget(monkeypatch, cores, [Case("gaussian_noise", 3)]).workers
    assert got == workers and type(got) is int  # a thread pool takes a whole number


def test_a_batch_augmented_by_several_threads_is_the_one_augmented_by_one(monkeypatch, small_images):
    cases = [Case("gaussian_noise", 3)]
    one, many = (augmenter_with_budget(monkeypatch, cores, cases) for cores in (2, 8))
    assert (one.workers, many.workers) == (1, 4)  # half the cores this process may use, at most 8
    canvases = {i: np.asarray(a[:32, :32], np.uint8) for i, a in enumerate(small_images.arrays)}
    threads: list[int] = []
    apply = augmenting.apply_case

    def recorded(*args, **kwargs):
        threads.append(threading.get_ident())
        return apply(*args, **kwargs)

    monkeypatch.setattr(augmenting, "apply_case", recorded)
    here = threading.get_ident()
    for size in (4, 6):  # from four images on, a batch is shared out among the threads
        batch = [Job(0, i) for i in range(size)]
        threads.clear()
        alone = one(batch, canvases)
        assert set(threads) == {here}
        threads.clear()
        shared = many(batch, canvases)
        assert here not in threads and len(threads) == size
        assert [a.image.tobytes() for a in alone] == [a.image.tobytes() for a in shared]
    threads.clear()
    many([Job(0, i) for i in range(3)], canvases)  # fewer than four: not worth the threads
    assert set(threads) == {here}


def test_the_chunk_is_lowered_for_large_canvases_to_stay_within_its_memory():
    assert chunk_for_canvas(64, (224, 224)) == 64 and chunk_for_canvas(64, 224) == 64  # the default: unchanged
    # 16 float32 copies of each canvas: 2 GiB // (2048 * 1024 * 3 * 16) = 21 images
    for size in ((2048, 1024), (2048, 1024, 3)):
        assert chunk_for_canvas(64, size) == CHUNK_MEMORY // (2048 * 1024 * 3 * 16) == 21
    assert isinstance(chunk_for_canvas(64, (2048, 1024)), int)
    assert chunk_for_canvas(64, 4096) == 2 and chunk_for_canvas(64, 20000) == 1  # never below one image


def test_the_sink_threshold_reaches_the_sink_metrics(tiny_encoder, small_images):
    asked = dict(metrics=["sink_count_change"], seed=0)
    counts = [
        measure(tiny_encoder, small_images, [("gaussian_noise", 5)], sink_factor=f, **asked).results[0].values
        for f in (1.2, 100.0)
    ]
    assert (counts[1]["sink_count_change"] == 0).all()  # no token is 100 times the typical norm
    assert (counts[0]["sink_count_change"] != 0).any()  # a low threshold finds some, and they move
