"""Hostile and broken files: results files, budgets, cache entries, checkpoints.

Every case was reproduced by hand first; each test fails on the code before the fix."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from pytest_clipshift.cli import main as cli
from pytest_clipshift.core.errors import ConfigError, ModelLoadError


@pytest.fixture(scope="module")
def results_dict(tiny_encoder, small_images):
    from pytest_clipshift.core.measure.engine import measure

    run = measure(
        tiny_encoder,
        small_images.subset(max_images=3),
        ["identity", "horizontal_flip"],
        severities=[1],
        metrics=["cosine", "attention_correlation"],
        seed=0,
    )
    return run.to_dict()


def write(tmp_path, name, data) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, (str, bytes)) else data) if not isinstance(
        data, bytes
    ) else path.write_bytes(data)
    return str(path)


# ------------------------------------------------------------------ 9: script injection
def test_report_escapes_every_field_of_a_hostile_results_file(tmp_path, results_dict, capsys):
    evil = "<script>alert(1)</script>"
    data = json.loads(json.dumps(results_dict))
    data["results"][1]["severity"] = evil
    data["results"][1]["augmentation"] = evil
    data["model"]["name"] = evil
    data["warnings"] = [evil]
    data["images"]["source"] = evil
    out = tmp_path / "report.html"
    assert cli(["report", write(tmp_path, "evil.json", data), "-o", str(out)]) == 0
    page = out.read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize(
    "field,value,message",
    [
        (
            ("extra", "comparison"),
            {"baseline": "b", "rules": [], "deltas": [], "missing": [], "failed": "<script>x</script>"},
            "extra.comparison.failed",
        ),
        (("results", 0, "overlay"), {"format": "svg+xml", "b64": "PHN2Zz4="}, "results[0].overlay.format"),
        (("results", 0, "overlay"), {"format": "jpeg", "b64": '" onerror="alert(1)'}, "results[0].overlay.b64"),
    ],
)
def test_hostile_fields_are_refused_with_exit_2(tmp_path, results_dict, capsys, field, value, message):
    data = json.loads(json.dumps(results_dict))
    target = data
    for key in field[:-1]:
        target = target.setdefault(key, {}) if isinstance(key, str) else target[key]
    target[field[-1]] = value
    assert cli(["report", write(tmp_path, "evil.json", data), "-o", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert f"field {message}" in err and "Traceback" not in err
    assert not (tmp_path / "r.html").exists()


def test_html_pieces_omit_images_that_are_not_allowed(results_dict):
    from pytest_clipshift.report.markup import figure_html as _img

    assert "data:image/png;base64,iVBORw0KGgo=" in _img("iVBORw0KGgo=", "ok", "png")
    for fmt, b64 in (("svg+xml", "PHN2Zz4="), ("jpeg", '" onerror="alert(1)'), ("jpeg", 42)):
        html = _img(b64, "worst <images>", fmt)
        assert "<img" not in html and "image omitted" in html and "&lt;images&gt;" in html


# ------------------------------------------------------------------ 16: malformed results files at the CLI
@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda d: d.update(model="clip"), "field model: 'clip' is not of type 'object'"),
        (
            lambda d: d["budgets"].append(
                {
                    "test": "t",
                    "augmentation": "a",
                    "severity": 1,
                    "metric": "cosine",
                    "stat": "mean",
                    "op": ">=",
                    "threshold": "0.9",
                    "value": 1.0,
                    "passed": True,
                }
            ),
            "field budgets[0].threshold: '0.9' is not of type 'number'",
        ),
        (
            lambda d: d["results"][0]["metrics"]["cosine"]["per_image"].extend([1.0] * 10**4),
            "results[0].metrics.cosine.per_image has 10003 values for 3 images",
        ),
        (
            lambda d: d["results"][0]["embeddings"].update(shape=[3, 10**9]),
            "results[0].embeddings: shape [3, 1000000000]",
        ),
    ],
)
def test_malformed_results_exit_2_naming_the_field(tmp_path, results_dict, capsys, mutate, message):
    data = json.loads(json.dumps(results_dict))
    mutate(data)
    for command in (
        ["report", write(tmp_path, "bad.json", data), "-o", str(tmp_path / "r.html")],
        ["merge", str(tmp_path / "bad.json"), "-o", str(tmp_path / "m.json")],
    ):
        assert cli(command) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err


def test_non_utf8_and_nan_results_files_exit_2(tmp_path, results_dict, capsys):
    assert cli(["report", write(tmp_path, "binary.json", b"\xff\xfe{}"), "-o", str(tmp_path / "r.html")]) == 2
    assert "not UTF-8 text" in capsys.readouterr().err
    text = json.dumps(results_dict).replace('"mean": 1.0', '"mean": NaN', 1)
    assert "NaN" in text
    assert cli(["merge", write(tmp_path, "nan.json", text), "-o", str(tmp_path / "m.json")]) == 2
    assert "NaN is not valid JSON" in capsys.readouterr().err


# ------------------------------------------------------------------ 17: budgets that are not UTF-8
def test_non_utf8_budgets_file_is_a_config_error(tmp_path):
    from pytest_clipshift.gate.budgets import load_budgets

    path = tmp_path / "budgets.toml"
    path.write_bytes(b'[defaults]\n"cosine.mean" = ">= 0.9" # caf\xe9\n')
    with pytest.raises(ConfigError, match=r"budgets.toml: not UTF-8 text \(byte 41\); save it as UTF-8"):
        load_budgets(path)


# ------------------------------------------------------------------ 15: structurally bad cache entries
def test_structurally_bad_cache_entries_are_misses(tmp_path):
    import struct
    import zlib

    from pytest_clipshift.core.measure.cache import MAGIC, EmbeddingCache

    cache = EmbeddingCache(tmp_path)
    good = np.ones(4, np.float32)
    cache.put("fp", "good", good, {"cosine": 0.5, "l2": float("nan")})
    emb, values = cache.get("fp", "good", ["cosine", "l2"], dim=4)
    assert np.array_equal(emb, good) and values["cosine"] == 0.5 and np.isnan(values["l2"])

    cache.flush()

    def raw(embedding, values, crc=None, offset=None):
        return embedding.astype(np.float32), values, crc, offset

    crafted = {  # entries a pack's index can hold that are not what an entry must be
        "types": raw(good, {"cosine": "high", "l2": 1.0}),
        "bool": raw(good, {"cosine": True, "l2": 1.0}),
        "missing": raw(good, {"cosine": 0.5}),
        "dim": raw(np.ones(7), {"cosine": 0.5, "l2": 1.0}),
        "list": raw(good, [0.5, 1.0]),
        "nan": raw(np.array([1, np.nan, 1, 1]), {"cosine": 0.5, "l2": 1.0}),
        "crc": raw(good, {"cosine": 0.5, "l2": 1.0}, crc=12345),
        "past": raw(good, {"cosine": 0.5, "l2": 1.0}, offset=1 << 20),
        "before": raw(good, {"cosine": 0.5, "l2": 1.0}, offset=-16),
        "later": raw(good, {"cosine": 0.25, "l2": 1.0}),  # a good entry after bad ones is still read
    }
    index, blobs, offset = {}, [], 0
    for key, (embedding, values, crc, at) in crafted.items():
        data = embedding.tobytes()
        index[key] = {"o": offset if at is None else at, "n": embedding.size, "v": values, "c": crc or zlib.crc32(data)}
        blobs.append(data)
        offset += len(data)
    header = json.dumps(index).encode()
    folder = next(p for p in tmp_path.iterdir() if p.is_dir())  # the model's folder the first put made
    (folder / "pack-crafted.bin").write_bytes(MAGIC + struct.pack("<Q", len(header)) + header + b"".join(blobs))
    cache = EmbeddingCache(tmp_path)  # reads the packs afresh
    assert cache.get("fp", "good", ["cosine", "l2"], dim=4) is not None
    assert cache.get("fp", "later", ["cosine", "l2"], dim=4)[1]["cosine"] == 0.25
    for key in (*[k for k in crafted if k != "later"], "absent"):
        assert cache.get("fp", key, ["cosine", "l2"], dim=4) is None, key
    assert cache.misses == 10 and cache.problem is None
    # an index that is not a table, and one longer than the file: the pack holds nothing
    for name, body in (("list", json.dumps([["good", 0]]).encode()), ("torn", b'{"good": {"o": 0, ')):
        length = len(body) if name == "list" else 1 << 12
        (folder / f"pack-{name}.bin").write_bytes(MAGIC + struct.pack("<Q", length) + body)
    assert EmbeddingCache(tmp_path).get("fp", "later", ["cosine", "l2"], dim=4) is not None


# ------------------------------------------------------------------ 14: a cache that cannot be written
def test_unwritable_cache_is_switched_off_with_one_warning(tmp_path, tiny_encoder, small_images):
    from pytest_clipshift.core.measure.cache import EmbeddingCache
    from pytest_clipshift.core.measure.engine import measure

    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    cache = EmbeddingCache(blocker)
    run = measure(
        tiny_encoder,
        small_images.subset(max_images=2),
        ["identity", "gaussian_noise"],
        severities=[1],
        metrics=["cosine"],
        seed=0,
        cache=cache,
    )
    assert len(run.results) == 2 and cache.writes == 0
    problems = [w for w in run.warnings if "cannot be written" in w]
    assert len(problems) == 1 and str(blocker) in problems[0] and "without the cache" in problems[0]


# ------------------------------------------------------------------ 18: concurrent saves
def test_concurrent_saves_under_one_name_each_get_a_number(tmp_path, results_dict):
    from pytest_clipshift.gate.storage import Storage

    storage, paths, errors = Storage(tmp_path / "runs"), [], []

    def save(i):
        try:
            paths.append(storage.save({**results_dict, "seed": i}, "release"))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(paths)) == 12
    assert sorted(json.loads(p.read_text())["seed"] for p in paths) == list(range(12))  # no run lost
    assert [p.name for p in (tmp_path / "runs").iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_write_errors_name_the_path_and_leave_nothing_behind(tmp_path):
    from pytest_clipshift.core.runs.jsonfile import OutputError, write_json_atomic
    from pytest_clipshift.gate.storage import Storage

    (tmp_path / "out").mkdir()
    with pytest.raises(OutputError, match=r"results file .*out: it is a directory"):
        write_json_atomic(tmp_path / "out", {"a": 1})
    (tmp_path / "runs").write_text("not a folder")
    with pytest.raises(OutputError, match=r"storage folder .*runs is a file"):
        Storage(tmp_path / "runs").save({"a": 1}, "x")
    with pytest.raises(OutputError, match=r"cannot write the results file .*x.json: "):
        write_json_atomic(tmp_path / "runs" / "x.json", {"a": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "runs"] and not list((tmp_path / "out").iterdir())


# ------------------------------------------------------------------ 20, 21: checkpoints
def test_remote_code_is_never_run_without_the_flag(tmp_path, tiny_clip_dir):
    import shutil

    from pytest_clipshift.core.models.encoders import load_encoder

    model = tmp_path / "custom"
    shutil.copytree(tiny_clip_dir, model)
    config = json.loads((model / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "evil.EvilModel"}
    (model / "config.json").write_text(json.dumps(config))
    (model / "evil.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w').write('ran')\n")
    with pytest.raises(ModelLoadError, match="ships its own Python code .* --clipshift-trust-remote-code"):
        load_encoder(model, device="cpu")
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize("weights", ["pickle", "truncated"])
def test_unreadable_weights_are_one_clear_error_naming_the_file(tmp_path, tiny_clip_dir, weights):
    import pickle
    import shutil

    from pytest_clipshift.core.models.encoders import load_encoder

    model = tmp_path / "broken"
    shutil.copytree(tiny_clip_dir, model)
    data = (model / "model.safetensors").read_bytes()
    if weights == "pickle":
        (model / "model.safetensors").unlink()
        (model / "pytorch_model.bin").write_bytes(pickle.dumps({"not": "weights"}))
    else:
        (model / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError) as info:
        load_encoder(model, device="cpu")
    message = str(info.value)
    assert str(model) in message and ("model.safetensors" in message or "pytorch_model.bin" in message)
    assert len(message.splitlines()) < 8
