"""Decoding as a camera wrote it, and each file once: EXIF orientation, a glob through a symlink loop."""

from __future__ import annotations

import numpy as np


def test_exif_orientation_is_honoured(tmp_path):
    from PIL import Image

    from pytest_clipshift.core.data.images import load_image

    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:, :20] = (255, 0, 0)  # red left half
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(wide).save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=95)
    loaded = load_image(tmp_path / "phone.jpg")
    assert loaded.shape == (40, 20, 3)  # shown upright: portrait
    assert loaded[:15, :, 0].mean() > 200 and loaded[-15:, :, 0].mean() < 60  # red on top after the turn


def test_glob_through_a_symlink_loop_measures_each_file_once(tmp_path):
    from PIL import Image

    from pytest_clipshift.core.data.images import resolve_image_paths

    (tmp_path / "imgs").mkdir()
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(tmp_path / "imgs" / "a.png")
    (tmp_path / "imgs" / "loop").symlink_to(tmp_path / "imgs", target_is_directory=True)
    paths = resolve_image_paths("imgs/**/*.png", tmp_path)
    assert [p.name for p in paths] == ["a.png"]
