"""Image sets that would give silently wrong data: they are refused naming the file, folder, row
or member, or read the way their format says."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest
from PIL import Image

from pytest_clipshift.core.data.labelled import class_folders, manifest, tar_shards
from pytest_clipshift.core.errors import ConfigError


def png_bytes(value: int = 120) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_class_folders_that_differ_only_by_case_are_refused(tmp_path):
    for folder in ("GREEN_SQUARE", "green_square"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a.png").write_bytes(png_bytes())
    with pytest.raises(ConfigError, match="'GREEN_SQUARE' and 'green_square' give the same label prompt"):
        class_folders(tmp_path)


def test_a_manifest_naming_one_image_twice_is_refused(tmp_path):
    (tmp_path / "a.png").write_bytes(png_bytes())
    (tmp_path / "m.csv").write_text("path,label\na.png,cat\na.png,cat\n")
    with pytest.raises(ConfigError, match="rows 1 and 2 both name 'a.png'"):
        manifest(tmp_path / "m.csv")


@pytest.mark.parametrize(
    "rows,message",
    [
        ([{"path": "a.png", "label": "cat"}, {"label": "dog"}], "row 2 has no 'path'"),
        ([{"path": "a.png", "label": "cat"}, ["a.png", "dog"]], "row 2 is a JSON list"),
    ],
)
def test_jsonl_rows_without_a_path_or_not_objects_name_the_row(tmp_path, rows, message):
    (tmp_path / "a.png").write_bytes(png_bytes())
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ConfigError, match=message):
        manifest(tmp_path / "m.jsonl")


def write_tar(path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_webdataset_members_under_a_dotted_folder_are_read(tmp_path):
    write_tar(
        tmp_path / "s.tar",
        {
            "release.v2/000001.png": png_bytes(),
            "release.v2/000001.cls": b"cat",
            "release.v2/000002.png": png_bytes(50),
            "release.v2/000002.cls": b"dog",
        },
    )
    names, loaders, labels, _ = tar_shards("s.tar", tmp_path)
    assert names == ["s.tar/release.v2/000001.png", "s.tar/release.v2/000002.png"]
    assert labels == ["cat", "dog"] and loaders[1]().mean() == pytest.approx(50, abs=1)


def test_a_label_that_is_not_utf8_names_the_shard_and_member(tmp_path):
    write_tar(tmp_path / "s.tar", {"k.png": png_bytes(), "k.cls": b"\xff\xfe"})
    with pytest.raises(ConfigError, match="s.tar: member k.cls is not UTF-8"):
        tar_shards("s.tar", tmp_path)


def test_a_float_tiff_with_a_nan_pixel_is_refused_naming_the_file(tmp_path):
    from pytest_clipshift.core.data.decode import load_image
    from pytest_clipshift.core.errors import ImageError

    pixels = np.full((16, 16), 0.5, np.float32)
    pixels[3, 4] = np.nan
    Image.fromarray(pixels, mode="F").save(tmp_path / "nan.tif")
    with pytest.raises(ImageError, match="nan.tif.*1 NaN or infinite pixel"):
        load_image(tmp_path / "nan.tif")


def _png(width, height, rows: bytes, colour: int = 2, interlace: int = 0) -> bytes:
    import struct
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, interlace)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_a_png_whose_image_data_ends_early_is_refused(tmp_path):
    from pytest_clipshift.core.data.decode import load_image
    from pytest_clipshift.core.errors import ImageError

    pixels = np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)
    half = b"".join(b"\x00" + pixels[r].tobytes() for r in range(20))  # 20 of 40 rows
    (tmp_path / "short.png").write_bytes(_png(40, 40, half))
    with Image.open(tmp_path / "short.png") as img:  # PIL itself decodes it, black below row 20
        assert np.asarray(img)[20:].max() == 0
    with pytest.raises(ImageError, match="short.png.*ends early: 2420 of 4840 bytes"):
        load_image(tmp_path / "short.png")


def test_whole_pngs_of_every_kind_pass_the_check(tmp_path):
    """Saved by PIL (grey, palette, RGBA, 16-bit) and an Adam7-interlaced one built here pass by pass."""
    from pytest_clipshift.core.data.decode import load_image

    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 255, (37, 29, 3), dtype=np.uint8)
    for name, img in (
        ("grey", Image.fromarray(rgb[..., 0])),
        ("palette", Image.fromarray(rgb).convert("P")),
        ("rgba", Image.fromarray(np.dstack([rgb, rgb[..., :1]]))),
        ("deep", Image.fromarray(rgb[..., 0].astype(np.uint16) * 257)),
    ):
        img.save(tmp_path / f"{name}.png")
        assert load_image(tmp_path / f"{name}.png").shape == (37, 29, 3)
    passes = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
    data = b""
    for x0, y0, dx, dy in passes:
        sub = rgb[y0::dy, x0::dx]
        if sub.size:
            data += b"".join(b"\x00" + row.tobytes() for row in sub)
    (tmp_path / "interlaced.png").write_bytes(_png(29, 37, data, interlace=1))
    assert np.array_equal(load_image(tmp_path / "interlaced.png"), rgb)


def test_a_folder_of_large_images_is_not_held_decoded(tmp_path):
    """Six 2000x2000 PNGs (12 MB each decoded, a few KB on disk): the loaded set holds none of them
    decoded; before, the folder's every image stayed in memory (20 such files: 3.8 GB peak RSS)."""
    import tracemalloc

    from pytest_clipshift.core.data.images import load_image_set

    for k in range(6):
        Image.fromarray(np.full((2000, 2000, 3), 40 * k, np.uint8)).save(tmp_path / f"{k}.png")
    tracemalloc.start()
    try:
        images = load_image_set(str(tmp_path))
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    decoded = 2000 * 2000 * 3
    assert len(images) == 6 and held < decoded and peak < 4 * decoded, (held, peak)  # one image at a time
    assert images.arrays[5].mean() == 200  # still readable, decoded on demand


def test_large_canvases_are_measured_in_smaller_chunks():
    from pytest_clipshift.core.measure.engine import CHUNK_MEMORY, chunk_for_canvas

    assert chunk_for_canvas(64, (224, 224)) == 64  # the default canvas: unchanged
    assert chunk_for_canvas(64, 4096) == 2 and chunk_for_canvas(64, (4096, 4096)) * 4096 * 4096 * 48 <= CHUNK_MEMORY
    assert chunk_for_canvas(1, 8192) == 1
