"""Labelled and captioned image sets: every layout gives the same images, labels and
captions, decoded one at a time; a seeded stratified sample; accuracy and recall under shift."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest
from PIL import Image

from pytest_clipshift.core.data.images import load_image_set
from pytest_clipshift.core.data.labelled import LazyImages
from pytest_clipshift.core.data.sampling import stratified_sample
from pytest_clipshift.core.errors import ConfigError

CLASSES = ("blue square", "red circle", "green triangle")


@pytest.fixture(scope="module")
def scenes():
    """Nine demo scenes of three labels, three each, with a caption each."""
    from pytest_clipshift.demo.scenes import generate_scenes

    picked = {c: [] for c in CLASSES}
    for _name, array, scene in generate_scenes(400, seed=5):
        if scene.label in picked and len(picked[scene.label]) < 3:
            picked[scene.label].append(array)
    return [
        (label, k, array, f"a drawing of a {label}, number {k}")
        for label, arrays in picked.items()
        for k, array in enumerate(arrays)
    ]


def png(array) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def write_layouts(root, scenes):
    folders = root / "folders"
    for label, k, array, _ in scenes:
        (folders / label.replace(" ", "_")).mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(folders / label.replace(" ", "_") / f"{k}.png")
    rows = [
        {"path": f"folders/{label.replace(' ', '_')}/{k}.png", "label": label, "caption": caption}
        for label, k, _, caption in scenes
    ]
    with open(root / "manifest.csv", "w") as fh:
        fh.write(
            "path,label,caption\n"
            + "".join(f"{r['path']},{r['label']},{r['caption'].replace(',', ';')}\n" for r in rows)
        )
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with tarfile.open(root / "shard-000.tar", "w") as tar:
        for i, (label, _k, array, caption) in enumerate(scenes):
            for ext, data in (("png", png(array)), ("cls", label.encode()), ("txt", caption.encode())):
                info = tarfile.TarInfo(f"{i:04d}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return rows


@pytest.mark.parametrize("spec", ["folders", "manifest.csv", "manifest.jsonl", "shard-000.tar"])
def test_every_layout_gives_the_same_images_and_labels(spec, scenes, tmp_path):
    write_layouts(tmp_path, scenes)
    images = load_image_set(spec, root=tmp_path)
    assert isinstance(images.arrays, LazyImages)
    assert sorted(images.labels) == sorted(label for label, *_ in scenes)
    expected = {(label, png(array)) for label, _, array, _ in scenes}
    assert {(lab, png(images.arrays[i])) for i, lab in enumerate(images.labels)} == expected
    if spec != "folders":
        assert sorted(c.replace(";", ",") for c in images.captions) == sorted(c for *_, c in scenes)


def test_hugging_face_datasets_parquet_and_save_to_disk(scenes, tmp_path):
    datasets = pytest.importorskip("datasets")
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "label": datasets.ClassLabel(names=list(CLASSES)),
            "caption": datasets.Value("string"),
        }
    )
    data = datasets.Dataset.from_dict(
        {
            "image": [Image.fromarray(a) for _, _, a, _ in scenes],
            "label": [CLASSES.index(lab) for lab, *_ in scenes],
            "caption": [c for *_, c in scenes],
        },
        features=features,
    )
    data.to_parquet(str(tmp_path / "data.parquet"))
    data.save_to_disk(str(tmp_path / "saved"))
    for spec in ("data.parquet", "saved"):
        images = load_image_set(spec, root=tmp_path)
        assert images.labels == [lab for lab, *_ in scenes], spec  # ClassLabel ids read as their names
        assert np.array_equal(images.arrays[4], scenes[4][2]) and images.captions[4] == scenes[4][3]
    with pytest.raises(ConfigError, match="has no image column 'img'; its columns: image, label, caption"):
        load_image_set("saved", root=tmp_path, columns={"image": "img"})


def test_stratified_sample_keeps_each_labels_share_and_is_seeded():
    labels = ["a"] * 60 + ["b"] * 30 + ["c"] * 10
    chosen = stratified_sample(labels, 20, seed=3)
    counts = {lab: sum(labels[i] == lab for i in chosen) for lab in "abc"}
    assert counts == {"a": 12, "b": 6, "c": 2} and chosen == sorted(chosen)
    assert chosen == stratified_sample(labels, 20, seed=3) and chosen != stratified_sample(labels, 20, seed=4)
    assert stratified_sample(labels, 500, seed=0) == list(range(100))


def test_images_are_decoded_one_at_a_time_and_not_kept(scenes, tmp_path, monkeypatch):
    from pytest_clipshift.core.data import labelled

    write_layouts(tmp_path, scenes)
    decoded = []
    real = labelled.load_image
    monkeypatch.setattr(labelled, "load_image", lambda p: decoded.append(p) or real(p))
    images = load_image_set("folders", root=tmp_path, max_images=6, seed=1)
    assert len(decoded) == 6 and sorted(images.labels).count("red circle") == 2  # hashed once each, stratified
    images.arrays[0]
    assert len(decoded) == 7  # read again when asked for: nothing held


def test_accuracy_under_shift_is_the_models_own_zero_shot_accuracy(scenes, tmp_path):
    """Identity's zero_shot_accuracy is the clean accuracy, computed here from the model's own
    embeddings; the drop is clean minus augmented, image by image."""
    from pytest_clipshift.core.measure.engine import measure
    from pytest_clipshift.core.models.encoders import load_encoder
    from pytest_clipshift.core.models.textalign import TextSpec

    write_layouts(tmp_path, scenes)
    images = load_image_set("manifest.jsonl", root=tmp_path)
    encoder = load_encoder("demo", "cpu")
    labels = list(CLASSES) + ["yellow star", "purple cross"]
    spec = TextSpec(labels, "a photo of a {}", images.labels, captions=images.captions)
    run = measure(
        encoder,
        images,
        ["identity", "gaussian_noise"],
        severities=[5],
        text=spec,
        metrics=[
            "cosine",
            "zero_shot_accuracy",
            "zero_shot_accuracy_drop",
            "zero_shot_top5_accuracy",
            "recall_at_1",
            "recall_at_5",
        ],
    )
    text = encoder.encode_text([f"a photo of a {lab}" for lab in labels])
    clean = np.stack(
        [encoder.encode(encoder.to_canvas(images.arrays[i])[None]).embeddings[0] for i in range(len(images))]
    )
    predicted = np.argmax(
        (clean / np.linalg.norm(clean, axis=1, keepdims=True)) @ (text / np.linalg.norm(text, axis=1, keepdims=True)).T,
        axis=1,
    )
    truth = np.array([labels.index(lab) for lab in images.labels])
    identity, noise = run.get("identity", 5), run.get("gaussian_noise", 5)
    assert np.array_equal(identity.values["zero_shot_accuracy"], (predicted == truth).astype(float))
    assert np.array_equal(
        noise.values["zero_shot_accuracy_drop"],
        identity.values["zero_shot_accuracy"] - noise.values["zero_shot_accuracy"],
    )
    assert identity.stat("zero_shot_top5_accuracy", "mean") == 1.0  # 5 labels: the own one is always in the top 5
    assert noise.stat("recall_at_5", "mean") >= noise.stat("recall_at_1", "mean")


def test_text_metrics_say_what_they_need(pytester, scenes, tmp_path, tiny_clip_dir):
    write_layouts(pytester.path, scenes)
    pytester.makeini("[pytest]\nclipshift_model = demo\nclipshift_images = folders\nclipshift_device = cpu\n")
    pytester.makepyfile(
        test_acc="""
        def test_top5(clipshift):
            clipshift.measure("gaussian_blur", 1, metrics=["zero_shot_top5_accuracy"])

        def test_recall(clipshift):
            clipshift.measure("gaussian_blur", 1, metrics=["recall_at_1"])

        def test_accuracy(clipshift):
            result = clipshift.measure("gaussian_blur", 1, metrics=["zero_shot_accuracy"])
            assert 0 <= result.stat("zero_shot_accuracy", "mean") <= 1
    """
    )
    result = pytester.runpytest("--clipshift", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*zero_shot_top5_accuracy needs at least 5 labels; this run has 3*",
            "*recall_at_1 / recall_at_5 need captions*",
        ]
    )
