"""Image sets that would give silently wrong data: they are refused naming the file, folder, row
or member, or read the way their format says."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest
from PIL import Image

from pytest_clipshift.core.errors import ConfigError
from pytest_clipshift.core.labelled import class_folders, manifest, tar_shards


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


@pytest.mark.parametrize("rows,message", [
    ([{"path": "a.png", "label": "cat"}, {"label": "dog"}], "row 2 has no 'path'"),
    ([{"path": "a.png", "label": "cat"}, ["a.png", "dog"]], "row 2 is a JSON list"),
])
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
    write_tar(tmp_path / "s.tar", {"release.v2/000001.png": png_bytes(), "release.v2/000001.cls": b"cat",
                                   "release.v2/000002.png": png_bytes(50), "release.v2/000002.cls": b"dog"})
    names, loaders, labels, _ = tar_shards("s.tar", tmp_path)
    assert names == ["s.tar/release.v2/000001.png", "s.tar/release.v2/000002.png"]
    assert labels == ["cat", "dog"] and loaders[1]().mean() == pytest.approx(50, abs=1)


def test_a_label_that_is_not_utf8_names_the_shard_and_member(tmp_path):
    write_tar(tmp_path / "s.tar", {"k.png": png_bytes(), "k.cls": b"\xff\xfe"})
    with pytest.raises(ConfigError, match="s.tar: member k.cls is not UTF-8"):
        tar_shards("s.tar", tmp_path)


def test_a_float_tiff_with_a_nan_pixel_is_refused_naming_the_file(tmp_path):
    from pytest_clipshift.core.decode import load_image
    from pytest_clipshift.core.errors import ImageError

    pixels = np.full((16, 16), 0.5, np.float32)
    pixels[3, 4] = np.nan
    Image.fromarray(pixels, mode="F").save(tmp_path / "nan.tif")
    with pytest.raises(ImageError, match="nan.tif.*1 NaN or infinite pixel"):
        load_image(tmp_path / "nan.tif")
