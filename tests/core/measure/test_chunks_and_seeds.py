"""Known answers for what decides a number outside the gate: the engine over several chunks, the
seed of every draw, and each built-in augmentation's five severities (distinct parameter rows,
strength rising strictly). Each test fails on a planted one-line bug named in its docstring."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_clipshift.core.augment.augmentations import apply_augmentation, draw_seed, registry
from pytest_clipshift.core.augment.imagenet_c import NAMES, PREFIX

BUILT_IN = [name for name in registry() if name not in ("identity", "horizontal_flip")]  # a flip has no strength


def test_an_engine_run_over_several_chunks_equals_one_chunk(tiny_encoder, small_images):
    """Chunks of 2 over 6 images against one chunk of 64: every per-image value equal. Fails when a
    chunk's clean-embedding row is indexed globally instead of within the chunk."""
    from pytest_clipshift.core.measure.engine import measure

    kwargs = dict(severities=[2], metrics=["cosine", "l2_normalized", "attention_correlation"], seed=3)
    one = measure(
        tiny_encoder, small_images, ["identity", "gaussian_noise", "horizontal_flip"], chunk_size=64, **kwargs
    )
    many = measure(
        tiny_encoder, small_images, ["identity", "gaussian_noise", "horizontal_flip"], chunk_size=2, **kwargs
    )
    for a, b in zip(one.results, many.results):
        for metric in a.values:
            np.testing.assert_allclose(a.values[metric], b.values[metric], rtol=0, atol=1e-6, err_msg=(a.key, metric))
    np.testing.assert_allclose(one.clean_embeddings, many.clean_embeddings, atol=1e-6)


def test_every_field_of_a_draws_seed_changes_it():
    """seed, image hash, augmentation, severity and draw each change the draw: fails when one is
    left out of the hashed text (every image getting the same noise, say)."""
    base = draw_seed(0, "hash-a", "gaussian_noise", 3)
    others = [
        draw_seed(1, "hash-a", "gaussian_noise", 3),
        draw_seed(0, "hash-b", "gaussian_noise", 3),
        draw_seed(0, "hash-a", "gaussian_blur", 3),
        draw_seed(0, "hash-a", "gaussian_noise", 4),
        draw_seed(0, "hash-a", "gaussian_noise", 3, draw=1),
    ]
    assert len({base, *others}) == 6
    assert draw_seed(0, "hash-a", "gaussian_noise", 3, draw=0) == base  # draw 0 is the case's own


def test_two_images_get_their_own_noise_and_one_image_the_same_noise():
    flat = np.full((48, 48, 3), 128, np.uint8)
    other = flat.copy()
    other[0, 0] = 127  # another image (another hash) of the same look
    a = apply_augmentation("gaussian_noise", flat, 3, seed=0).image.astype(int) - flat
    b = apply_augmentation("gaussian_noise", other, 3, seed=0).image.astype(int) - other
    again = apply_augmentation("gaussian_noise", flat, 3, seed=0).image.astype(int) - flat
    assert np.array_equal(a, again) and np.abs(a - b)[1:, 1:].mean() > 1


@pytest.mark.parametrize("name", BUILT_IN)
def test_each_severity_row_is_its_own(name):
    """Five distinct parameter rows: fails when a row is copied from its neighbour (s3 = s2)."""
    aug = registry()[name]
    rows = [repr(sorted(aug.parameters(s).items())) for s in range(1, 6)]
    assert len(set(rows)) == 5, rows


def _photos():
    from PIL import Image

    from pytest_clipshift.core.data.images import load_image_set

    return [
        np.asarray(Image.fromarray(a).resize((224, 224), Image.BICUBIC))
        for a in load_image_set("samples", max_images=2).arrays
    ]


# measured strength rises with severity for the study's augmentations whose severity scales one
# amount; flips only flip, and ImageNet-C's pixelate/JPEG/fog/frost/snow rows trade several knobs
MONOTONE = [
    "gaussian_noise",
    "gaussian_blur",
    "color_jitter",
    "shift_scale_rotate",
    "coarse_dropout",
    "elastic",
    "perspective",
] + [
    PREFIX + n
    for n in NAMES
    if n
    in (
        "gaussian_noise",
        "shot_noise",
        "impulse_noise",
        "speckle_noise",
        "defocus_blur",
        "motion_blur",
        "zoom_blur",
        "gaussian_blur",
        "contrast",
        "brightness",
    )
]


@pytest.mark.parametrize("name", [n for n in MONOTONE if n in registry()])
def test_strength_rises_strictly_with_severity(name):
    """Mean absolute pixel change over two photographs and eight seeds, s1 < s2 < ... < s5: fails when
    a row is weakened (shift_scale_rotate s3 turning 1.5 degrees instead of 15) or copied."""
    photos = _photos()
    strength = []
    for severity in range(1, 6):
        changes = [
            np.abs(apply_augmentation(name, image, severity, seed, f"p{i}").image.astype(float) - image).mean()
            for i, image in enumerate(photos)
            for seed in range(8)
        ]
        strength.append(float(np.mean(changes)))
    assert all(a < b for a, b in zip(strength, strength[1:])), (name, strength)


@pytest.mark.parametrize("change", ["seed", "severity", "augmentation parameters", "draws", "metrics"])
def test_a_rerun_with_any_keyed_field_changed_misses_the_cache(tmp_path, tiny_encoder, small_images, change):
    """The same run twice hits; changing one field the cache key holds makes every entry a miss and
    gives that run's own numbers. Fails when the field is dropped from the key (a rerun with
    another seed returning the old seed's numbers)."""
    from pytest_clipshift.core.augment.augmentations import register_augmentation, unregister_augmentation
    from pytest_clipshift.core.measure.cache import EmbeddingCache
    from pytest_clipshift.core.measure.engine import measure

    images = small_images.subset(max_images=3)

    def shift(image, rng, amount):
        return np.clip(image.astype(int) + amount, 0, 255).astype(np.uint8)

    def run(seed=0, severity=2, amount=40, draws=1, metrics=("cosine",), cache_dir=tmp_path / "cache"):
        register_augmentation(
            "shift_up", shift, severities={s: {"amount": amount * s} for s in range(1, 6)}, replace=True
        )
        try:
            cache = EmbeddingCache(cache_dir)
            result = measure(
                tiny_encoder,
                images,
                ["gaussian_noise", "shift_up"],
                severities=[severity],
                metrics=list(metrics),
                seed=seed,
                cache=cache,
                draws=draws,
            )
            cache.flush()
            return result, cache
        finally:
            unregister_augmentation("shift_up")

    first, _ = run()
    again, cache = run()
    assert cache.misses == 0 and cache.hits > 0
    changed = {
        "seed": dict(seed=1),
        "severity": dict(severity=3),
        "augmentation parameters": dict(amount=41),
        "draws": dict(draws=2),
        "metrics": dict(metrics=("cosine", "attention_correlation")),
    }[change]
    other, cache = run(**changed)
    fresh, _ = run(**changed, cache_dir=tmp_path / "fresh")
    assert cache.misses > 0
    for a, b in zip(other.results, fresh.results):  # the cached run's numbers are that run's own
        np.testing.assert_allclose(a.values["cosine"], b.values["cosine"], atol=1e-6)


def test_an_attack_starts_each_image_from_its_own_draw_seed(monkeypatch):
    # the seed of an attack's random start: the run's seed, the image's hash, the attack, its
    # severity and the draw, as every other augmentation's (checked against draw_seed itself)
    import numpy as np

    from pytest_clipshift.core.augment import adversarial
    from pytest_clipshift.core.augment.adversarial import AttackSettings
    from pytest_clipshift.core.augment.augmentations import draw_seed
    from pytest_clipshift.core.cases import Case
    from pytest_clipshift.core.measure.augmenting import Augmenter, Job

    asked = []

    def record(encoder, clean, seeds, eps, objective, settings, labels=None, label_text=None):
        asked.append((list(seeds), eps, objective, settings))
        return clean + 1.0, None  # every image moved

    monkeypatch.setattr(adversarial, "attack", record)
    cases = (Case("adversarial.embedding", 2), Case("adversarial.embedding", 2).with_draw(1))
    settings = AttackSettings(steps=3)
    augmenter = Augmenter(cases, 11, ["ha", "hb"], encoder=object(), attack=settings)
    canvases = {0: np.zeros((4, 4, 3), np.float32), 1: np.ones((4, 4, 3), np.float32)}
    for p in (0, 1):
        out = augmenter([Job(p, 0), Job(p, 1)], canvases)
        assert [o.changed for o in out] == [True, True]
    expected = [[draw_seed(11, h, "adversarial.embedding", 2, draw) for h in ("ha", "hb")] for draw in (0, 1)]
    assert [a[0] for a in asked] == expected
    assert {(a[1], a[2], a[3]) for a in asked} == {(1 / 255, "embedding", settings)}
