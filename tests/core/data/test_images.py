"""Images: every mode to 8-bit RGB, and every bad input named clearly."""

import numpy as np
import pytest
from PIL import Image

from pytest_clipshift.core.data.images import load_image, load_image_set, to_rgb8
from pytest_clipshift.core.errors import ConfigError, ImageError, ImageSetError


def test_grey_rgba_palette_cmyk(tmp_path):
    grey = Image.fromarray(np.full((20, 30), 100, np.uint8), "L")
    assert to_rgb8(grey).tolist()[0][0] == [100, 100, 100]
    rgba = Image.fromarray(np.dstack([np.full((20, 20, 3), 200, np.uint8), np.full((20, 20), 0, np.uint8)]), "RGBA")
    assert to_rgb8(rgba)[0, 0].tolist() == [255, 255, 255]  # fully transparent: composited over white
    half = Image.fromarray(np.dstack([np.zeros((20, 20, 3), np.uint8), np.full((20, 20), 128, np.uint8)]), "RGBA")
    assert to_rgb8(half)[0, 0].tolist() == [127, 127, 127]
    pal = Image.fromarray(np.full((20, 20, 3), (10, 200, 30), np.uint8)).convert("P", palette=Image.Palette.ADAPTIVE)
    assert to_rgb8(pal)[0, 0].tolist() == [10, 200, 30]
    cmyk = Image.new("CMYK", (20, 20), (0, 255, 255, 0))  # pure red in CMYK
    assert to_rgb8(cmyk)[0, 0].tolist() == [255, 0, 0]


def test_sixteen_bit_is_scaled_not_clipped(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.full((16, 16), 32768, np.uint16)).save(path)
    rgb = load_image(path)
    assert rgb.dtype == np.uint8 and rgb.shape == (16, 16, 3)
    assert rgb[0, 0, 0] == 128  # half of full scale, not 255 (clipped)
    assert to_rgb8(np.full((10, 10), 65535, np.uint16))[0, 0].tolist() == [255, 255, 255]


def test_float_arrays(tmp_path):
    assert to_rgb8(np.full((10, 10, 3), 0.5))[0, 0].tolist() == [128, 128, 128]
    with pytest.raises(ImageError, match="expected \\[0, 1\\]"):
        to_rgb8(np.full((10, 10, 3), 3.0))


@pytest.mark.parametrize("content,match", [(b"", "empty"), (b"not an image at all", "not an image file")])
def test_empty_and_corrupt_files(tmp_path, content, match):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=match) as info:
        load_image(path)
    assert str(path) in str(info.value)


def test_truncated_file(tmp_path):
    path = tmp_path / "cut.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ImageError, match="cut.png"):
        load_image(path)


def test_tiny_and_huge(tmp_path):
    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((5, 40, 3), np.uint8)).save(small)
    with pytest.raises(ImageError, match="40x5 px; each side must be at least 8"):
        load_image(small)
    with pytest.raises(ImageError, match="limit is 50 MP"):
        to_rgb8(Image.new("L", (10_000, 6_000)), "huge.png")


def test_directory_glob_and_errors(image_dir, tmp_path):
    s = load_image_set(str(image_dir))
    assert len(s) == 6 and s.names[0] == "img0.png"
    g = load_image_set(str(image_dir / "img[0-2].png"))
    assert g.names == ["img0.png", "img1.png", "img2.png"]
    assert load_image_set(str(image_dir), max_images=2).names == ["img0.png", "img1.png"]
    assert s.digest == load_image_set(str(image_dir)).digest
    (image_dir / "zz_broken.jpg").write_bytes(b"garbage")
    (image_dir / "aa_empty.png").write_bytes(b"")
    with pytest.raises(ImageSetError, match="2 of 8 image") as info:
        load_image_set(str(image_dir))  # never silently skipped: each named, in one error
    assert [p.image.rsplit("/", 1)[-1] for p in info.value.problems] == ["aa_empty.png", "zz_broken.jpg"]
    with pytest.raises(ConfigError, match="matched no files"):
        load_image_set(str(tmp_path / "*.webp"))
    with pytest.raises(ConfigError, match="not a directory, a glob or a file"):
        load_image_set("no-such-folder")


def test_builtin_sets():
    samples = load_image_set("samples")
    assert {"astronaut", "chelsea", "coffee", "rocket", "camera"} <= set(samples.names)
    assert all(a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3 for a in samples.arrays)
    scenes = load_image_set("demo-scenes", max_images=5, seed=1)
    assert len(scenes) == 5 and scenes.labels and scenes.arrays[0].shape == (224, 224, 3)
    again = load_image_set("demo-scenes", max_images=5, seed=1)
    assert scenes.digest == again.digest
    assert load_image_set("demo-scenes", max_images=5, seed=2).digest != scenes.digest


def _png_header_claiming(path, width: int, height: int) -> None:
    """A PNG whose header claims width x height (what a decompression bomb looks like before decoding)."""
    import io
    import struct
    import zlib

    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", width, height)
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr : ihdr + 17])))
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("width, height", [(10_000, 6_000), (10_000, 10_000), (20_000, 10_000)])
def test_huge_files_get_our_message_and_pil_settings_stay_the_users(tmp_path, width, height, recwarn):
    """60 MP: our limit; 100 MP: PIL would warn; 200 MP: PIL raises its bomb error. All three give
    one clear ImageError naming the file, and PIL's process-wide limit is left as it was."""
    before = Image.MAX_IMAGE_PIXELS
    path = tmp_path / "bomb.png"
    _png_header_claiming(path, width, height)
    with pytest.raises(ImageError, match=r"bomb\.png.*limit.* 50 MP: downscale it first"):
        load_image(path)
    assert before == Image.MAX_IMAGE_PIXELS
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]
