"""The engine: one call, per-image values, reuse, determinism, cache, bad input."""

import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from pytest_clipshift.core.errors import ConfigError, NonFiniteEmbeddingError
from pytest_clipshift.core.measure.cache import EmbeddingCache
from pytest_clipshift.core.measure.engine import expand_pairs, measure
from pytest_clipshift.core.measure.plan import CacheKeys, make_plan
from pytest_clipshift.core.measure.settings import MeasureSettings
from pytest_clipshift.core.runs.results import RunResult

AUGS = ("identity", "gaussian_noise", "horizontal_flip", "gaussian_blur")


def measured_into_cache(encoder, images, folder, **fields):
    """Two images under gaussian_noise at severity 3, measured into the cache at ``folder``: the run,
    and a fresh cache object with the keys that run wrote, to plant entries under them."""
    two = images.subset(max_images=2)
    settings = MeasureSettings(metrics=("cosine",), seed=0, **fields)
    cases = expand_pairs([("gaussian_noise", 3)])
    first = measure(encoder, two, cases, settings=settings, cache=EmbeddingCache(folder))
    return SimpleNamespace(
        images=two,
        settings=settings,
        cases=cases,
        first=first,
        dim=first.clean_embeddings.shape[1],
        cache=EmbeddingCache(folder),
        keys=CacheKeys(encoder, two.hashes, settings, make_plan(encoder, cases, settings), None),  # CPU: no device
    )


def test_measure_returns_per_image_values_and_summaries(tiny_encoder, small_images):
    calls = []
    run = measure(
        tiny_encoder,
        small_images,
        AUGS,
        severities=[1, 5],
        seed=3,
        batch_size=4,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert [r.key for r in run.results][:3] == ["identity[s1]", "identity[s5]", "gaussian_noise[s1]"]
    noise5 = run.get("gaussian_noise", 5)
    assert noise5.values["cosine"].shape == (6,)
    assert set(noise5.values) >= {"cosine", "l2", "attention_correlation", "patch_similarity"}
    s = noise5.summary("cosine")
    assert s["ci95_low"] <= s["mean"] <= s["ci95_high"]
    ident = run.get("identity", 1)
    np.testing.assert_allclose(ident.values["cosine"], 1.0, atol=1e-6)  # the noise floor
    assert ident.values["patch_similarity"].min() == 1.0
    # stronger noise moves pixels more
    assert noise5.stat("patch_similarity", "mean") < run.get("gaussian_noise", 1).stat("patch_similarity", "mean")
    assert calls[-1] == (6 * 9, 6 * 9) and all(a <= b for (a, _), (b, _) in zip(calls, calls[1:]))


class BrightnessEncoder:
    """A hand-written Encoder whose "attention" is each patch's brightness: exactly equivariant to
    any warp, so aligned attention must survive geometric augmentations that the raw metric punishes."""

    name = "brightness"
    fingerprint = "brightness-v1"
    canvas_size = (112, 112)
    info = {"name": "brightness", "layers": 1}

    def to_canvas(self, image):
        from PIL import Image

        return np.asarray(Image.fromarray(image).resize(self.canvas_size))

    def encode(self, canvases, *, attention=False, hidden_states=False):
        from pytest_clipshift.core.models.encoders import Encoded

        x = canvases.astype(np.float32)
        emb = x.reshape(len(x), -1, 3).mean(1)
        out = Encoded(emb)
        if attention:
            grid = x.mean(-1).reshape(len(x), 7, 16, 7, 16).mean(axis=(2, 4))
            out.attention = grid[:, None]
        return out


def test_aligned_attention_undoes_the_warp_for_an_equivariant_model(small_images):
    from pytest_clipshift.core.models.encoders import Encoder

    enc = BrightnessEncoder()
    assert isinstance(enc, Encoder)
    metrics = ["cosine", "attention_correlation", "attention_correlation_raw"]
    run = measure(enc, small_images, ["horizontal_flip", "shift_scale_rotate"], severities=[1], metrics=metrics, seed=0)
    flip = run.get("horizontal_flip", 1)
    np.testing.assert_allclose(flip.values["attention_correlation"], 1.0, atol=1e-6)
    assert flip.stat("attention_correlation_raw", "mean") < 0.9  # the study's unaligned metric penalises it
    ssr = run.get("shift_scale_rotate", 1)
    assert ssr.stat("attention_correlation", "mean") > ssr.stat("attention_correlation_raw", "mean")
    assert ssr.stat("attention_correlation", "mean") > 0.9


def test_same_seed_same_numbers_different_seed_different(tiny_encoder, small_images):
    a = measure(tiny_encoder, small_images, ["gaussian_noise"], seed=1).to_dict()
    b = measure(tiny_encoder, small_images, ["gaussian_noise"], seed=1).to_dict()
    c = measure(tiny_encoder, small_images, ["gaussian_noise"], seed=2).to_dict()
    assert a["results"] == b["results"]
    assert a["results"][0]["metrics"]["cosine"]["per_image"] != c["results"][0]["metrics"]["cosine"]["per_image"]
    assert a["seed"] == 1


def test_an_items_numbers_do_not_depend_on_what_else_is_measured(tiny_encoder, small_images):
    alone = measure(tiny_encoder, small_images, ["gaussian_blur"], seed=0).get("gaussian_blur", 3)
    together = measure(tiny_encoder, small_images, AUGS, seed=0).get("gaussian_blur", 3)
    for m in alone.values:
        np.testing.assert_array_equal(alone.values[m], together.values[m])


@pytest.mark.whole_run  # fresh interpreters: minutes under mutation testing
def test_determinism_across_processes(tiny_clip_dir, image_dir):
    code = (
        "import json, sys\n"
        "from pytest_clipshift import load_encoder, load_image_set, measure\n"
        f"enc = load_encoder({str(tiny_clip_dir)!r}, device='cpu')\n"
        f"run = measure(enc, load_image_set({str(image_dir)!r}), ['gaussian_noise', 'elastic'], seed=5)\n"
        "print(json.dumps(run.to_dict()['results']))\n"
    )
    outs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    ]
    assert outs[0] == outs[1] and json.loads(outs[0])[0]["augmentation"] == "gaussian_noise"


def test_cache_skips_the_model_on_rerun(tiny_encoder, small_images, tmp_path, monkeypatch):
    cache = EmbeddingCache(tmp_path / "cache")
    cold = measure(tiny_encoder, small_images, AUGS, seed=0, cache=cache)
    assert cache.hits == 0 and cache.writes == 6 * (len(AUGS) + 1)

    def no_model(*args, **kwargs):
        raise AssertionError("the model ran on a warm cache")

    monkeypatch.setattr(tiny_encoder, "encode", no_model)
    warm = measure(tiny_encoder, small_images, AUGS, seed=0, cache=cache)
    assert cache.hits == 6 * (len(AUGS) + 1)
    for a, b in zip(cold.results, warm.results):
        for m in a.values:
            np.testing.assert_allclose(a.values[m], b.values[m], equal_nan=True)
    monkeypatch.undo()
    other_seed = measure(tiny_encoder, small_images, ["gaussian_noise"], seed=9, cache=cache)
    assert other_seed.results[0].values["cosine"].shape == (6,)


def test_torn_cache_entry_is_a_miss(tiny_encoder, small_images, tmp_path):
    cache = EmbeddingCache(tmp_path / "cache")
    measure(tiny_encoder, small_images, ["gaussian_noise"], seed=0, cache=cache)
    packs = list((tmp_path / "cache").rglob("pack-*.bin"))
    assert len(packs) == 1  # one file for the whole run
    for f in packs:
        f.write_bytes(f.read_bytes()[:20])
    again = EmbeddingCache(tmp_path / "cache")
    run = measure(tiny_encoder, small_images, ["gaussian_noise"], seed=0, cache=again)
    assert again.hits == 0 and np.isfinite(run.results[0].values["cosine"]).all()


def test_layer_metrics(tiny_encoder, small_images):
    run = measure(
        tiny_encoder,
        small_images,
        ["identity", "gaussian_noise"],
        severities=[5],
        metrics=["cosine", "layer_cosine", "layer_cka"],
        seed=0,
    )
    ident = run.get("identity", 5)
    assert set(ident.values) == {
        "cosine",
        "layer_cosine",
        "layer_cosine@1",
        "layer_cosine@2",
        "layer_cka",
        "layer_cka@1",
        "layer_cka@2",
        "layer_cka_raw",
        "layer_cka_raw@1",
        "layer_cka_raw@2",
    }
    np.testing.assert_allclose(ident.values["layer_cka@1"], 1.0, atol=1e-6)
    noise = run.get("gaussian_noise", 5)
    assert noise.stat("layer_cka@1", "mean") < 0.999
    for metric in ("layer_cosine", "layer_cka", "layer_cka_raw"):  # each layer its own numbers; bare: the last
        assert not np.allclose(noise.values[f"{metric}@1"], noise.values[f"{metric}@2"])
        np.testing.assert_array_equal(noise.values[metric], noise.values[f"{metric}@2"])


def test_unchanged_augmentation_is_flagged(tiny_encoder, small_images):
    from pytest_clipshift.core.augment.augmentations import register_augmentation, unregister_augmentation

    try:
        register_augmentation("test_nothing", lambda image, rng: image)
        run = measure(tiny_encoder, small_images, ["test_nothing"], severities=[1], seed=0)
    finally:
        unregister_augmentation("test_nothing")
    assert run.results[0].unchanged_images == 6
    assert any("left every image unchanged" in w for w in run.warnings)


def test_only_a_real_augmentation_that_changed_nothing_or_some_images_is_warned_about():
    from pytest_clipshift.core.measure.engine import unchanged_warnings
    from pytest_clipshift.core.runs.results import ShiftResult

    def result(augmentation, unchanged):
        names = [f"img{i}.png" for i in range(6)]
        return ShiftResult(
            augmentation=augmentation, severity=3, image_names=names, values={}, seed=0, unchanged_images=unchanged
        )

    # identity changes no image by design: never a warning, whatever its count says
    assert unchanged_warnings([result("identity", 6), result("identity", 2)]) == []
    every, some = unchanged_warnings([result("test_nothing", 6), result("test_half", 2), result("test_all", 0)])
    assert every == (
        "augmentation test_nothing[s3] left every image unchanged: it measures nothing; check its parameters"
    )
    assert some == "augmentation test_half[s3] left 2 of 6 images unchanged"


def test_each_result_records_its_own_cases_parameters_and_strength(tiny_encoder, small_images):
    from pytest_clipshift.core.augment.adversarial import AttackSettings
    from pytest_clipshift.core.cases import Case

    settings = MeasureSettings(metrics=("cosine",), attack=AttackSettings(steps=2, loss="l2"))
    cases = [("gaussian_blur", 2), Case("gaussian_noise", strength=0.5), ("adversarial.embedding", 1)]
    blur, probe, attacked = measure(tiny_encoder, small_images.subset(max_images=2), cases, settings=settings).results
    assert (blur.parameters, blur.strength) == ({"sigma": (1.0, 1.4)}, None)  # the docs' severity-2 row
    assert (probe.parameters, probe.strength) == ({"std": (0.45, 0.45)}, 0.5)
    assert attacked.unchanged_images == 0  # every attacked image moved (its float perturbation counts)
    # an attack records the run's attack settings, not the defaults
    assert attacked.parameters == {
        "loss": "l2",
        "steps": 2,
        "method": "pgd",
        "restarts": 1,
        "eps": 0.5 / 255,
        "step_size": 2.5 * (0.5 / 255) / 2,
        "step_rule": "2.5 * eps / steps",
    }


def test_text_metrics_are_scored_against_the_given_labels_and_need_them(tiny_encoder, small_images):
    from pytest_clipshift.core.augment.adversarial import AttackSettings
    from pytest_clipshift.core.models.textalign import TextSpec

    two = small_images.subset(max_images=2)
    asked = dict(metrics=["cosine", "text_similarity_drop"], seed=0)
    # short prompts: the tiny model's text tower takes 16 tokens
    prompts = dict(augmentation_prompts={"gaussian_noise": "n"}, controls=("d",), neutral="c")
    spec = TextSpec(["a", "b"], template="{}", **prompts)
    run = measure(tiny_encoder, two, [("identity", 3), ("gaussian_noise", 5)], text=spec, **asked)
    identity, noise = (r.values["text_similarity_drop"] for r in run.results)
    np.testing.assert_array_equal(identity, 0.0)  # the clean image against itself
    assert np.isfinite(noise).all() and (noise != 0).all()
    # the zero-shot attack pushes each image away from its own label: the labels reach the attack
    labelled = TextSpec(["a", "b"], template="{}", image_labels=["a", "b"], **prompts)
    attack = AttackSettings(steps=2)
    attacked = measure(tiny_encoder, two, [("adversarial.zero_shot", 5)], text=labelled, attack=attack, **asked)
    assert np.isfinite(attacked.results[0].values["text_similarity_drop"]).all()
    with pytest.raises(ConfigError, match=r"text metrics .* need text=TextSpec"):
        measure(tiny_encoder, two, [("identity", 3)], **asked)
    assert "text_similarity_drop" not in measure(tiny_encoder, two, [("identity", 3)], seed=0).results[0].values


def test_auto_augments_on_the_encoders_cuda_device_and_keys_the_cache_by_it(
    tiny_encoder, small_images, monkeypatch, tmp_path
):
    # nothing runs: the device a measurement would augment on, and the cache keys it would write
    import torch

    from pytest_clipshift.core.measure.engine import _Measurement

    cases = expand_pairs([("gaussian_noise", 3)])
    settings = MeasureSettings(metrics=("cosine",), augment_device="auto")
    plan = make_plan(tiny_encoder, cases, settings)

    def prepared(cache):
        return _Measurement(tiny_encoder, small_images, plan, settings, cache, None)

    on_cpu = prepared(EmbeddingCache(tmp_path))
    assert on_cpu.augment.device is None and "@torch" not in on_cpu.keys.case(0, cases[0])
    monkeypatch.setattr(tiny_encoder, "device", torch.device("cuda"), raising=False)
    on_cuda = prepared(EmbeddingCache(tmp_path))
    assert on_cuda.augment.device == torch.device("cuda")
    assert on_cuda.keys.case(0, cases[0]) != on_cpu.keys.case(0, cases[0])
    assert prepared(None).keys is None  # no cache: no keys computed


def test_the_entry_written_last_is_the_one_read_back(tmp_path):
    for _ in range(5):  # five pairs of packs: with names in random order the first would win half the time
        for value in (1.0, 2.0):
            cache = EmbeddingCache(tmp_path)
            cache.put("f" * 16, "key", np.full(4, value), {})
            cache.flush()
        assert EmbeddingCache(tmp_path).get("f" * 16, "key")[0].tolist() == [2.0] * 4


def test_a_cached_embedding_of_another_length_is_a_miss(tiny_encoder, small_images, tmp_path):
    # the model's embedding length checks every entry read back, the clean ones too: a pack written
    # by another build of the model (or a torn one) is measured again, never mixed in
    run = measured_into_cache(tiny_encoder, small_images, tmp_path)
    two, cases, first, cache, keys, dim = run.images, run.cases, run.first, run.cache, run.keys, run.dim
    for i in range(len(two)):
        cache.put(tiny_encoder.fingerprint, keys.clean(i), np.ones(dim + 1), {})
        cache.put(tiny_encoder.fingerprint, keys.case(i, cases[0]), np.ones(dim - 1), {"cosine": 0.5, "_unchanged": 1})
    cache.flush()
    again = measure(tiny_encoder, two, cases, settings=run.settings, cache=EmbeddingCache(tmp_path))
    assert again.settings["cache"] == {"dir": str(tmp_path), "hits": 0, "misses": 2 * len(two)}
    np.testing.assert_array_equal(again.clean_embeddings, first.clean_embeddings)
    np.testing.assert_array_equal(again.results[0].values["cosine"], first.results[0].values["cosine"])
    assert again.results[0].unchanged_images == 0
    # an entry of the right length without the unchanged flag (not one clipshift writes) counts as changed
    for i in range(len(two)):
        cache.put(tiny_encoder.fingerprint, keys.case(i, cases[0]), np.ones(dim), {"cosine": 0.5})
    cache.flush()
    crafted = measure(tiny_encoder, two, cases, settings=run.settings, cache=EmbeddingCache(tmp_path))
    assert crafted.results[0].values["cosine"].tolist() == [0.5, 0.5] and crafted.results[0].unchanged_images == 0


def test_a_run_answered_from_the_cache_reports_its_progress_to_the_end(tiny_encoder, small_images, tmp_path):
    two, cases = small_images.subset(max_images=2), [("identity", 3), ("gaussian_noise", 3)]
    measure(tiny_encoder, two, cases, metrics=["cosine"], cache=EmbeddingCache(tmp_path))
    ticks = []
    cached = measure(
        tiny_encoder,
        two,
        cases,
        metrics=["cosine"],
        cache=EmbeddingCache(tmp_path),
        progress=lambda d, t: ticks.append((d, t)),
    )
    assert cached.settings["cache"]["misses"] == 0
    assert ticks == [(6, 6)]  # two images, each clean and under two cases, all in one chunk


def test_nan_clean_embedding_names_the_image_and_says_clean(tiny_encoder, small_images, monkeypatch):
    real = tiny_encoder.encode

    def poisoned(canvases, **kw):
        out = real(canvases, **kw)
        out.embeddings[1] = np.nan  # the second image of the first batch: the clean one
        return out

    monkeypatch.setattr(tiny_encoder, "encode", poisoned)
    with pytest.raises(NonFiniteEmbeddingError, match=r"image 'img1.png' under the clean image"):
        measure(tiny_encoder, small_images, ["gaussian_noise"], seed=0)


def test_without_a_stated_length_the_first_chunk_decides_it_for_cache_reads(
    tiny_encoder, small_images, tmp_path, monkeypatch
):
    # an encoder that does not state its embedding length: the length of the first chunk, measured or
    # read from the cache, checks the cache entries of the next chunks
    monkeypatch.delitem(tiny_encoder.info, "embedding_dim")
    for first_chunk in ("measured", "read from the cache"):
        folder = tmp_path / first_chunk
        run = measured_into_cache(tiny_encoder, small_images, folder, chunk_size=1)
        cases, first, cache, keys, dim = run.cases, run.first, run.cache, run.keys, run.dim
        if first_chunk == "measured":  # entries that are misses (NaN, no metric): the first image is measured
            cache.put(tiny_encoder.fingerprint, keys.clean(0), np.full(dim, np.nan), {})
            cache.put(tiny_encoder.fingerprint, keys.case(0, cases[0]), np.ones(dim), {"_unchanged": 0})
        cache.put(tiny_encoder.fingerprint, keys.clean(1), np.ones(dim + 1), {})  # the second image's entries
        cache.put(tiny_encoder.fingerprint, keys.case(1, cases[0]), np.ones(dim + 1), {"cosine": 0.5, "_unchanged": 0})
        cache.flush()
        again = measure(tiny_encoder, run.images, cases, settings=run.settings, cache=EmbeddingCache(folder))
        np.testing.assert_array_equal(again.clean_embeddings, first.clean_embeddings, err_msg=first_chunk)
        assert again.results[0].values["cosine"].tolist() == first.results[0].values["cosine"].tolist()


def test_one_image_is_measured_and_none_is_a_usage_error(tiny_encoder, small_images):
    from pytest_clipshift.core.data.images import ImageSet

    one = measure(tiny_encoder, small_images.subset(max_images=1), [("gaussian_noise", 3)], metrics=["cosine"])
    assert one.results[0].values["cosine"].shape == (1,)
    with pytest.raises(ConfigError, match="image set 'nothing' is empty"):
        measure(tiny_encoder, ImageSet([], [], "nothing"), [("gaussian_noise", 3)])


def test_a_chunk_whose_cases_all_hit_but_clean_misses_is_measured(tiny_encoder, small_images, tmp_path):
    run = measured_into_cache(tiny_encoder, small_images, tmp_path)
    run.cache.put(tiny_encoder.fingerprint, run.keys.clean(0), np.full(run.dim, np.nan), {})
    run.cache.flush()
    again = measure(tiny_encoder, run.images, run.cases, settings=run.settings, cache=EmbeddingCache(tmp_path))
    assert again.settings["cache"]["misses"] == 1  # the clean image only: nothing left to augment
    np.testing.assert_array_equal(again.clean_embeddings, run.first.clean_embeddings)


def test_a_run_records_its_settings_and_each_warning_once(tiny_encoder, small_images, tmp_path, monkeypatch):
    import types

    from pytest_clipshift.core.measure import engine

    clock = iter([100.0, 102.34567])  # the start and the end of the measurement
    monkeypatch.setattr(engine, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    two = small_images.subset(max_images=2)
    run = measure(
        tiny_encoder, two, [("identity", 3), ("gaussian_noise", 2)], metrics=["cosine"], batch_size=3, chunk_size=5
    )
    monkeypatch.undo()
    assert (run.model, run.seed, run.image_names) == (tiny_encoder.info, 0, ["img0.png", "img1.png"])
    assert (run.image_hash, run.image_source) == (two.digest, "synthetic")
    assert run.clean_embeddings.shape == (2, tiny_encoder.info["embedding_dim"])
    assert [r.key for r in run.results] == ["identity[s3]", "gaussian_noise[s2]"]
    assert run.settings == {
        "seconds": 2.346,
        "metrics": ["cosine"],
        "batch_size": 3,
        "chunk_size": 5,
        "pairs": [["identity", "s3"], ["gaussian_noise", "s2"]],
        "draws": 1,
        "canvas_size": list(tiny_encoder.canvas_size),
        "cache": None,
    }
    assert run.warnings == []
    # a metric the model cannot give, an augmentation that changes nothing and an unwritable cache:
    # each said once, in that order
    from pytest_clipshift.core.augment.augmentations import register_augmentation, unregister_augmentation

    monkeypatch.setitem(tiny_encoder.info, "attention", "not available (a convolutional tower)")
    (tmp_path / "cache").write_text("a file where the cache folder should be")
    register_augmentation("test_nothing", lambda image, rng: image)
    try:
        asked = ["cosine", "attention_correlation"]
        noisy = measure(tiny_encoder, two, ["test_nothing"], metrics=asked, cache=EmbeddingCache(tmp_path / "cache"))
    finally:
        unregister_augmentation("test_nothing")
    skipped, unchanged, unwritable = noisy.warnings
    assert skipped.endswith("not measured: attention_correlation")
    assert unchanged.startswith("augmentation test_nothing[s3] left every image unchanged")
    assert "cannot be written" in unwritable
    assert noisy.settings["cache"] == {"dir": str(tmp_path / "cache"), "hits": 0, "misses": 4}


def test_nan_embedding_names_image_and_augmentation(tiny_encoder, small_images, monkeypatch):
    real = tiny_encoder.encode

    def poisoned(canvases, **kw):
        out = real(canvases, **kw)
        if canvases.shape[0] == 2:  # the second batch of the noise augmentation
            out.embeddings[1] = np.nan
        return out

    monkeypatch.setattr(tiny_encoder, "encode", poisoned)
    with pytest.raises(NonFiniteEmbeddingError, match=r"image 'img5.png' under augmentation gaussian_noise\[s3\]"):
        measure(tiny_encoder, small_images, ["gaussian_noise"], seed=0, batch_size=4)


def test_bad_names(tiny_encoder, small_images):
    with pytest.raises(ConfigError, match="unknown metric 'cosin'; valid: cosine"):
        measure(tiny_encoder, small_images, ["identity"], metrics=["cosin"])
    with pytest.raises(ConfigError, match="unknown augmentation"):
        expand_pairs(["fog"])
    with pytest.raises(ConfigError, match="severity 9"):
        expand_pairs([("gaussian_noise", 9)])


def test_json_roundtrip(tiny_encoder, small_images, tmp_path):
    run = measure(tiny_encoder, small_images, AUGS, seed=0)
    path = run.write_json(tmp_path / "r.json")
    back = RunResult.read_json(path)
    assert back.to_dict() == json.loads(path.read_text())
    assert back.clustering(3).order and set(back.clustering(3).labels) == {
        "original",
        "gaussian_noise",
        "horizontal_flip",
        "gaussian_blur",
    }
    assert back.ranking("cosine")[0][0] in AUGS


@pytest.mark.parametrize(
    "content,match",
    [
        ("[]", r"field \(top level\): \[\] is not of type 'object'"),
        ('{"schema": "other/9"}', "incompatible version"),
        ('{"schema": "clipshift-results/1", "seed": 0}', "'model' is a required property"),
        ("{", "not valid JSON"),
    ],
)
def test_malformed_results_files(tmp_path, content, match):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=match):
        RunResult.read_json(path)


def test_per_layer_attention_metrics(tiny_encoder, small_images):
    run = measure(
        tiny_encoder,
        small_images,
        ["identity", "horizontal_flip"],
        severities=[1],
        metrics=["cosine", "attention_correlation", "attention_correlation@1", "attention_correlation@2"],
        seed=0,
    )
    flip = run.get("horizontal_flip", 1)
    # the last layer named by number is the default last-layer metric
    np.testing.assert_allclose(flip.values["attention_correlation@2"], flip.values["attention_correlation"], atol=1e-5)
    assert "attention_inverse_mse@1" in flip.values
    np.testing.assert_allclose(run.get("identity", 1).values["attention_correlation@1"], 1.0, atol=1e-6)
    with pytest.raises(ConfigError, match="layers 1 to 2"):
        measure(tiny_encoder, small_images, ["identity"], metrics=["attention_correlation@5"])


def test_a_pack_is_memory_mapped_and_a_corrupted_entry_is_a_miss(tiny_encoder, small_images, tmp_path):
    """One pack per run; an entry whose bytes changed fails its CRC and is measured again, the
    others are hits; a pack cut short keeps the entries it still holds whole."""
    cache = EmbeddingCache(tmp_path / "cache")
    measure(tiny_encoder, small_images, ["gaussian_noise"], seed=0, cache=cache)
    (pack,) = (tmp_path / "cache").rglob("pack-*.bin")
    data = bytearray(pack.read_bytes())
    data[-3] ^= 0xFF  # the last embedding's last bytes
    pack.write_bytes(bytes(data))
    again = EmbeddingCache(tmp_path / "cache")
    run = measure(tiny_encoder, small_images, ["gaussian_noise"], seed=0, cache=again)
    assert again.misses == 1 and again.hits == 2 * 6 - 1 and np.isfinite(run.results[0].values["cosine"]).all()
    pack.write_bytes(bytes(data[: len(data) - 200]))  # torn: the entries past the cut are misses
    torn = EmbeddingCache(tmp_path / "cache")
    measure(tiny_encoder, small_images, ["gaussian_noise"], seed=0, cache=torn)
    assert torn.hits > 0 and torn.misses > 1


def test_the_images_that_moved_most_are_the_measured_ones_on_either_augmenting_path(tiny_encoder, small_images):
    """The worst images a cell keeps for the report are the canvases the run measured: on the torch
    (device) path they are that path's pixels, not the CPU reference's; their values are the cell's
    per-image values, ranked worst first, one set per ranking metric."""
    import torch

    from pytest_clipshift.core.augment.augmentations import apply_case, draw_seed
    from pytest_clipshift.core.augment.device_apply import apply_batch
    from pytest_clipshift.core.cases import Case

    case = Case("gaussian_noise", 3)
    for device in (None, torch.device("cpu")):
        run = measure(
            tiny_encoder,
            small_images,
            [case],
            augment_device=device,
            overlay_metrics=("cosine", "attention_correlation"),
        )
        cell = run.results[0]
        assert [v.metric for v in cell.views] == ["cosine", "attention_correlation"]
        for views in cell.views:
            order = np.argsort(cell.values[views.metric], kind="stable")[:2]  # both: higher is better
            assert views.names == [small_images.names[i] for i in order]
            assert views.values == [cell.values[views.metric][i] for i in order]
            assert all(m is not None and m.ndim == 2 for m in views.clean_maps + views.augmented_maps)
        worst = cell.views[0]
        i = small_images.names.index(worst.names[0])
        canvas = tiny_encoder.to_canvas(small_images.arrays[i])
        np.testing.assert_array_equal(worst.clean[0], canvas)
        seed = draw_seed(0, small_images.hashes[i], "gaussian_noise", 3, 0)
        on_device = apply_batch(case, canvas[None], [seed], torch.device("cpu"))[0][0]
        reference = apply_case(case, canvas, 0, small_images.hashes[i]).image
        expected, other = (reference, on_device) if device is None else (on_device, reference)
        np.testing.assert_array_equal(worst.augmented[0], expected)
        assert not np.array_equal(worst.augmented[0], other)
        # the maps drawn over them are the model's own last-layer attention for those two images
        own = tiny_encoder.encode(np.stack([canvas, worst.augmented[0]]), attention=True).attention[:, -1]
        np.testing.assert_allclose(worst.clean_maps[0], own[0], atol=1e-5)
        np.testing.assert_allclose(worst.augmented_maps[0], own[1], atol=1e-5)


@pytest.mark.parametrize(("metric", "sign"), [("cosine", 1.0), ("l2_normalized", -1.0)])
def test_the_worst_images_are_the_least_similar_or_most_distant_ties_in_image_order(metric, sign):
    """Worst first in the metric's direction, ties by image order (a sort that is not stable breaks
    them otherwise at this size), undefined values never chosen."""
    from pytest_clipshift.core.measure.views import worst_indices

    values = np.array([0.9, 0.5, np.nan, 0.5, 0.7]) * sign
    assert worst_indices(values, metric, 3) == [1, 3, 4]
    ties = np.tile([0.5, 0.9], 50) * sign  # 100 images, 50 equal worst ones
    assert worst_indices(ties, metric, 50) == list(range(0, 100, 2))


def test_no_views_are_kept_unless_asked(tiny_encoder, small_images):
    run = measure(tiny_encoder, small_images, ["identity", "gaussian_blur"])
    assert all(r.views == [] for r in run.results)
    run = measure(tiny_encoder, small_images, ["identity", "gaussian_blur"], overlay_metrics=["cosine"])
    assert run.get("identity", 3).views == []  # the noise floor moves nothing worth showing
    assert len(run.get("gaussian_blur", 3).views) == 1


def test_the_maps_drawn_are_the_last_layers_and_none_without_attention(tmp_path, small_images):
    """With three layers the last is not the second: the worst images' maps are the model's own
    last-layer attention. A run that measures nothing from attention keeps the images without maps."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    from pytest_clipshift.core.models.encoders import load_encoder
    from tests.conftest import TINY_TEXT, TINY_VISION, save_with_processor

    torch.manual_seed(3)
    config = CLIPConfig(text_config=TINY_TEXT, vision_config={**TINY_VISION, "num_hidden_layers": 3}, projection_dim=16)
    encoder = load_encoder(str(save_with_processor(CLIPModel(config), tmp_path / "three")), "cpu")
    images = small_images.subset(max_images=3)
    run = measure(
        encoder, images, ["gaussian_blur"], metrics=["cosine", "attention_correlation"], overlay_metrics=["cosine"]
    )
    worst = run.results[0].views[0]
    i = images.names.index(worst.names[0])
    own = encoder.encode(np.stack([worst.clean[0], worst.augmented[0]]), attention=True).attention
    assert own.shape[1] == 3 and not np.allclose(own[:, 1], own[:, 2], atol=1e-5)
    np.testing.assert_allclose(worst.clean_maps[0], own[0, -1], atol=1e-5)
    np.testing.assert_allclose(worst.augmented_maps[0], own[1, -1], atol=1e-5)
    assert worst.names[0] == images.names[i]
    plain = measure(encoder, images, ["gaussian_blur"], metrics=["cosine"], overlay_metrics=["cosine"]).results[0]
    assert plain.views[0].clean_maps == [None, None] and plain.views[0].augmented_maps == [None, None]
    np.testing.assert_array_equal(plain.views[0].augmented[0], worst.augmented[0])  # the same images, no maps


def test_an_attack_runs_the_model_in_the_measuring_thread_and_other_cases_augment_beside_it(
    tiny_encoder, small_images, monkeypatch
):
    # an attack runs the model: never beside the scorer's forward pass (the encoder switches its
    # attention path per call); any other case augments in the pool while the model scores
    import threading

    from pytest_clipshift.core.augment.adversarial import AttackSettings
    from pytest_clipshift.core.measure import augmenting

    threads = {"attack": set(), "augment": set()}
    embed, apply = tiny_encoder.embed_differentiable, augmenting.apply_case

    def embed_recorded(*args, **kwargs):
        threads["attack"].add(threading.get_ident())
        return embed(*args, **kwargs)

    def apply_recorded(*args, **kwargs):
        threads["augment"].add(threading.get_ident())
        return apply(*args, **kwargs)

    monkeypatch.setattr(tiny_encoder, "embed_differentiable", embed_recorded)
    monkeypatch.setattr(augmenting, "apply_case", apply_recorded)
    cases = [("gaussian_noise", 2), ("adversarial.embedding", 1)]
    measure(tiny_encoder, small_images.subset(max_images=2), cases, attack=AttackSettings(steps=1), seed=0)
    assert threads["attack"] == {threading.get_ident()}
    assert threads["augment"] and threading.get_ident() not in threads["augment"]


def test_aligned_layer_cka_moves_the_tokens_of_a_geometric_case_only(tiny_encoder, small_images):
    # the encoder's patch grid reaches the metrics: without it the aligned CKA is the raw one
    run = measure(
        tiny_encoder,
        small_images.subset(max_images=3),
        [("horizontal_flip", 3), ("gaussian_noise", 3)],
        metrics=["layer_cka", "layer_cka_raw"],
        seed=0,
    )
    flip, noise = run.results
    assert not np.allclose(flip.values["layer_cka"], flip.values["layer_cka_raw"])
    np.testing.assert_array_equal(noise.values["layer_cka"], noise.values["layer_cka_raw"])


def test_text_metrics_read_each_images_own_label_in_every_batch(tiny_encoder, small_images):
    # batches of 2 out of 6 images: each row is scored against its own image's label, as in one batch
    from pytest_clipshift.core.models.textalign import TextSpec

    labels = ["a", "b", "b", "a", "b", "a"]
    prompts = dict(augmentation_prompts={"gaussian_noise": "n"}, controls=("d",), neutral="c")
    spec = TextSpec(["a", "b"], template="{}", image_labels=labels, **prompts)
    asked = dict(metrics=["zero_shot_accuracy", "text_similarity_drop"], seed=0, text=spec)
    small, whole = (
        measure(tiny_encoder, small_images, [("gaussian_noise", 5)], batch_size=size, **asked).results[0]
        for size in (2, 6)
    )
    for metric in asked["metrics"]:
        np.testing.assert_allclose(small.values[metric], whole.values[metric], atol=1e-5)
    assert len(set(np.round(whole.values["text_similarity_drop"], 6))) > 1


def test_the_vision_towers_heads_and_direct_effects_reach_their_metrics(tiny_encoder, small_images):
    run = measure(
        tiny_encoder,
        small_images.subset(max_images=3),
        [("gaussian_noise", 5)],
        metrics=["head_attention_correlation", "direct_effect_shift"],
        seed=0,
    )
    values = run.results[0].values
    per_head = {
        f"{m}@{k}h{h}" for m in ("attention_correlation", "direct_effect_shift") for k in (1, 2) for h in (1, 2)
    }
    assert per_head <= set(values)  # every layer and head of the tiny tower
    assert all(np.isfinite(values[m]).all() for m in per_head)
    assert not np.allclose(values["attention_correlation@1h1"], values["attention_correlation@1h2"])  # its own head
    assert (values["head_attention_correlation"] < 0.9999).all() and (values["direct_effect_shift"] > 0).all()


def test_the_logit_lens_reaches_the_answer_layer_metric(tiny_encoder, small_images):
    from pytest_clipshift.core.augment.augmentations import apply_case
    from pytest_clipshift.core.cases import Case
    from pytest_clipshift.core.metrics.tower import answer_layers
    from pytest_clipshift.core.models.textalign import TextScorer, TextSpec

    three = small_images.subset(max_images=3)
    spec = TextSpec(["a", "b", "c"], template="{}", augmentation_prompts={"gaussian_noise": "n"}, controls=("d",))
    cases = [("identity", 3), ("gaussian_noise", 5)]
    run = measure(tiny_encoder, three, cases, metrics=["answer_layer_shift"], text=spec, seed=0)
    identity, noise = (r.values["answer_layer_shift"] for r in run.results)
    np.testing.assert_array_equal(identity, 0.0)
    # against the lens read straight off the model, with the label prompts the run used and the run's seed
    label_text = TextScorer(tiny_encoder, spec, list(three.names)).label_text
    canvases = np.stack([tiny_encoder.to_canvas(a) for a in three.arrays])
    noisy = np.stack([apply_case(Case("gaussian_noise", 5), c, 0, h).image for c, h in zip(canvases, three.hashes)])
    clean_lens, noisy_lens = (tiny_encoder.encode(x, tower={"lens"}).lens for x in (canvases, noisy))
    expected = answer_layers(noisy_lens, label_text) - answer_layers(clean_lens, label_text)
    np.testing.assert_array_equal(noise, expected)
