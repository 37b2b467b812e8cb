"""The worst case inside a budget, checked against what is known without our code: the closed-form
optimum of a linear encoder, the l-inf ball, random-sign noise of the same size, torchattacks' PGD on
the same zero-shot logits, and the seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pytest_clipshift.core.augment.adversarial import AttackSettings, attack, random_sign, step_size
from pytest_clipshift.core.errors import ConfigError
from pytest_clipshift.core.measure.engine import measure
from pytest_clipshift.core.models.encoders import Encoded


class LinearEncoder:
    """One output, e(x) = w . x (x the canvas in [0, 1]): the squared distance (w . delta)^2 is largest
    on the l-inf ball at delta = +-eps * sign(w), whatever the image (away from 0 and 1)."""

    name, fingerprint, canvas_size, grid = "linear", "linear-v1", (8, 8), None
    info = {"name": "linear", "fingerprint": "linear-v1", "layers": 0, "precision": "fp32"}
    device = torch.device("cpu")

    def __init__(self):
        self.w = np.random.default_rng(0).normal(size=8 * 8 * 3)

    def to_canvas(self, image):
        return image

    def encode(self, canvases, *, attention=False, hidden_states=False):
        x = np.asarray(canvases, np.float64).reshape(len(canvases), -1) / 255
        return Encoded((x @ self.w)[:, None].astype(np.float32))

    def embed_differentiable(self, canvases):
        x = canvases.reshape(len(canvases), -1) / 255
        return x @ torch.as_tensor(self.w, dtype=torch.float32)[:, None]


def interior_images(n=3):
    rng = np.random.default_rng(1)
    return rng.integers(80, 175, size=(n, 8, 8, 3)).astype(np.uint8)  # 0.3..0.7: the ball stays inside [0, 1]


@pytest.mark.parametrize("method", ["pgd", "apgd"])
def test_a_linear_encoders_known_optimum_is_reached(method):
    encoder, clean, eps = LinearEncoder(), interior_images(), 4 / 255
    settings = AttackSettings(loss="l2", steps=10, method=method)
    attacked, history = attack(encoder, clean, [1, 2, 3], eps, "embedding", settings)
    delta = (attacked - clean.astype(np.float32)) / 255
    optimum = eps * np.sign(encoder.w)
    for d in delta.reshape(len(delta), -1):
        side = np.sign(d @ encoder.w)
        np.testing.assert_allclose(d, side * optimum, atol=1e-6)
    best = -((eps * np.abs(encoder.w).sum()) ** 2)  # the loss at the optimum (minimised: the negative distance)
    np.testing.assert_allclose(history[-1], best, rtol=1e-4)
    assert (np.diff(history, axis=0) <= 1e-6).all()  # the best loss never gets worse over the steps


@pytest.fixture(scope="module")
def attacked_tiny(tiny_encoder, small_images):
    """Every severity of the attack and of random-sign noise on a tiny random-init CLIP."""
    return measure(
        tiny_encoder,
        small_images,
        ["identity", "adversarial.random_sign", "adversarial.embedding"],
        severities=[1, 3, 5],
        metrics=["cosine", "patch_similarity"],
        keep_embeddings=True,
    )


def test_every_attacked_image_stays_in_its_ball_and_in_range(tiny_encoder, small_images):
    canvases = np.stack([tiny_encoder.to_canvas(a) for a in small_images.arrays])
    for method in ("pgd", "apgd"):
        for eps in (0.5 / 255, 8 / 255):
            attacked, _ = attack(tiny_encoder, canvases, range(6), eps, "embedding", AttackSettings(method=method))
            assert attacked.dtype == np.float32 and attacked.min() >= 0 and attacked.max() <= 255
            assert np.abs(attacked - canvases).max() <= eps * 255 + 1e-4
            assert (attacked != np.rint(attacked)).any()  # kept unquantised: 0.5/255 would round away


def test_the_attack_beats_random_sign_noise_of_its_size_on_every_image(attacked_tiny):
    for severity in (1, 3, 5):
        attacked = attacked_tiny.get("adversarial.embedding", severity).values["cosine"]
        typical = attacked_tiny.get("adversarial.random_sign", severity).values["cosine"]
        assert (attacked <= typical + 1e-6).all(), (severity, attacked, typical)
    weakest = attacked_tiny.get("adversarial.embedding", 1).stat("cosine", "mean")
    assert attacked_tiny.get("adversarial.embedding", 5).stat("cosine", "mean") < weakest  # a larger ball: worse


def test_the_losses_never_get_worse_over_the_steps(tiny_encoder, small_images):
    canvases = np.stack([tiny_encoder.to_canvas(a) for a in small_images.arrays])
    clean = tiny_encoder.encode(canvases).embeddings
    # 3 steps of 2.5 eps / 3 overshoot the ball: the last point is often not the best one
    for settings in (
        AttackSettings(),
        AttackSettings(steps=3),
        AttackSettings(method="apgd", steps=12),
        AttackSettings(restarts=2),
    ):
        attacked, history = attack(tiny_encoder, canvases, range(6), 2 / 255, "embedding", settings)
        assert history.shape == (settings.steps + 1, 6) and (np.diff(history, axis=0) <= 1e-6).all()
        assert (history[-1] < history[0]).all()  # every image moved further than its random start
        moved = tiny_encoder.encode(attacked).embeddings  # what is returned is the best point, not the last
        cosine = (moved * clean).sum(1) / np.linalg.norm(moved, axis=1) / np.linalg.norm(clean, axis=1)
        np.testing.assert_allclose(cosine, history[-1], atol=2e-5)


def test_the_same_seed_gives_byte_identical_perturbations(tiny_encoder, small_images):
    canvases = np.stack([tiny_encoder.to_canvas(a) for a in small_images.arrays[:3]])
    first, _ = attack(tiny_encoder, canvases, [7, 8, 9], 2 / 255, "embedding", AttackSettings())
    again, _ = attack(tiny_encoder, canvases, [7, 8, 9], 2 / 255, "embedding", AttackSettings())
    other, _ = attack(tiny_encoder, canvases, [7, 8, 10], 2 / 255, "embedding", AttackSettings())
    assert first.tobytes() == again.tobytes()
    assert first[:2].tobytes() == other[:2].tobytes() and first[2].tobytes() != other[2].tobytes()
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    assert random_sign(canvases[0], rng_a, 0.01).tobytes() == random_sign(canvases[0], rng_b, 0.01).tobytes()


def test_robust_zero_shot_accuracy_is_at_most_torchattacks_pgd_on_the_same_logits():
    """torchattacks' PGD (3.5.1, installed with --no-deps: it imports without torchvision) with the same
    eps, steps and step size on the same zero-shot logits of the demo model: our robust accuracy is
    equal or lower (we keep each image's best step; it keeps the last)."""
    torchattacks = pytest.importorskip("torchattacks")
    import torch.nn.functional as F

    from pytest_clipshift import load_encoder, load_image_set
    from pytest_clipshift.core.models.textalign import TextScorer, text_spec_for

    encoder = load_encoder("demo", device="cpu")
    images = load_image_set("demo-scenes", max_images=24)
    spec = text_spec_for(["zero_shot_accuracy"], images)
    scorer = TextScorer(encoder, spec, list(images.names))
    text = torch.tensor(scorer.label_text, dtype=torch.float32)

    class ZeroShot(torch.nn.Module):
        def forward(self, x01):
            embedding = encoder.embed_differentiable(x01.permute(0, 2, 3, 1) * 255).float()
            return 100 * F.normalize(embedding, dim=1) @ text.T

    canvases = np.stack([encoder.to_canvas(a) for a in images.arrays])
    x, y = torch.tensor(canvases / 255, dtype=torch.float32).permute(0, 3, 1, 2), torch.tensor(scorer.own)
    for severity, eps in ((1, 0.5 / 255), (3, 2 / 255)):
        run = measure(
            encoder, images, ["adversarial.zero_shot"], severities=[severity], metrics=["zero_shot_accuracy"], text=spec
        )
        ours = run.results[0].stat("zero_shot_accuracy", "mean")
        torch.manual_seed(0)
        pgd = torchattacks.PGD(ZeroShot(), eps=eps, alpha=step_size(eps, 10), steps=10, random_start=True)
        adversarial = pgd(x, y)
        with torch.no_grad():
            theirs = (ZeroShot()(adversarial).argmax(1) == y).float().mean().item()
        assert ours <= theirs + 1e-6, (severity, ours, theirs)  # theirs is a float32 mean


def test_attack_settings_are_recorded_and_key_the_cache(tiny_encoder, small_images, tmp_path):
    from pytest_clipshift.core.measure.cache import EmbeddingCache

    cache = EmbeddingCache(tmp_path)
    first = measure(tiny_encoder, small_images, ["adversarial.embedding"], severities=[2], cache=cache)
    parameters = first.results[0].parameters
    assert parameters == {
        "loss": "cosine",
        "steps": 10,
        "method": "pgd",
        "restarts": 1,
        "eps": 1 / 255,
        "step_size": 2.5 * (1 / 255) / 10,
        "step_rule": "2.5 * eps / steps",
    }
    misses = cache.misses
    measure(tiny_encoder, small_images, ["adversarial.embedding"], severities=[2], cache=cache)
    assert cache.misses == misses  # the same settings: every entry a hit
    fewer = measure(
        tiny_encoder,
        small_images,
        ["adversarial.embedding"],
        severities=[2],
        cache=cache,
        attack=AttackSettings(steps=3),
    )
    assert cache.misses == misses + 2 * len(small_images) - len(small_images)  # the clean images still hit
    assert fewer.results[0].parameters["steps"] == 3


def test_an_encoder_without_gradients_or_at_half_precision_is_refused(small_images, tiny_clip_dir):
    from pytest_clipshift import load_encoder

    class NoGradients:  # the linear encoder as a user's wrapper without autograd would be
        name, fingerprint, canvas_size, info = "no-grad", "no-grad-v1", (8, 8), LinearEncoder.info
        to_canvas, encode = LinearEncoder.to_canvas, LinearEncoder.encode
        w = LinearEncoder().w

    from pytest_clipshift.core.data.images import ImageSet

    eights = ImageSet(["a", "b", "c"], list(interior_images()), "eights")
    with pytest.raises(ConfigError, match="gives no gradients"):
        measure(NoGradients(), eights, ["adversarial.embedding"], metrics=["cosine"])
    half = load_encoder(tiny_clip_dir, device="cpu", precision="bf16")
    with pytest.raises(ConfigError, match="--clipshift-precision fp32"):
        measure(half, small_images, ["adversarial.embedding"], metrics=["cosine"])
    measure(half, small_images, ["adversarial.random_sign"], metrics=["cosine"])  # no attack: any precision


@pytest.mark.parametrize("method", ["pgd", "apgd"])
def test_what_is_returned_is_the_best_point_seen_not_the_last(method):
    """A loss whose minimum lies inside the ball: fixed-size signed steps overshoot it and oscillate, so
    the last point is not the best; the best one seen is returned, and the history says its loss."""
    from pytest_clipshift.core.augment import adversarial

    eps, rng = 0.1, np.random.default_rng(0)
    clean = torch.full((4, 3, 5, 5), 0.5)
    centre = torch.as_tensor(rng.uniform(-0.5 * eps, 0.5 * eps, size=(4, 3, 5, 5)), dtype=torch.float32)
    seen = []

    def loss_of(delta):
        loss = ((delta - centre) ** 2).sum(dim=(1, 2, 3))
        seen.append(loss.detach().clone())
        return loss

    start = torch.as_tensor(rng.uniform(-eps, eps, size=(4, 3, 5, 5)), dtype=torch.float32)
    run = adversarial._apgd if method == "apgd" else adversarial._pgd
    overshot = False
    for steps in (10, 11):  # the oscillation ends on either parity: one of them ends away from the best
        seen.clear()
        best, history = run(clean, start, eps, steps, loss_of)
        lowest = torch.stack(seen).min(dim=0).values
        np.testing.assert_allclose(((best - centre) ** 2).sum(dim=(1, 2, 3)), lowest, rtol=1e-6)
        np.testing.assert_allclose(history[-1], lowest, rtol=1e-6)
        overshot |= bool((seen[-1] > lowest * (1 + 1e-6)).any())
    assert overshot or method == "apgd"  # PGD's oscillation did happen (APGD halves its step and settles)


def test_a_zero_shot_attack_on_images_without_their_own_labels_is_a_usage_error(small_images):
    # label prompts but no image labelled: no image's own label to attack, said as a usage error
    from pytest_clipshift import load_encoder
    from pytest_clipshift.core.models.textalign import text_spec_for

    encoder = load_encoder("demo", device="cpu")
    spec = text_spec_for(["cosine"], small_images, ["cat", "dog"], cases=["adversarial.zero_shot"])
    assert spec is not None and spec.image_labels is None
    with pytest.raises(ConfigError, match="adversarial.zero_shot needs the label prompts and each image's label"):
        measure(encoder, small_images, ["adversarial.zero_shot"], severities=[1], metrics=["cosine"], text=spec)
