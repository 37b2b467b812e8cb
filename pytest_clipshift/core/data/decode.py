"""One image, from a file or an array, to checked 8-bit RGB: every common mode (grey, grey+alpha,
palette, RGBA composited over white, 16- and 32-bit integer grey scaled not clipped, float, CMYK),
EXIF rotation honoured, and a clear ``ImageError`` naming the image for anything else."""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import numpy as np

from ..errors import ImageError

MIN_SIDE = 8
MAX_PIXELS = 50_000_000
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
"""What counts as an image file by its name (folders, globs, class folders)."""


def image_hash(array: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(str(array.shape).encode())
    h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()[:24]


def to_rgb8(image, name: str = "<array>") -> np.ndarray:
    """Convert a PIL image or an array of any common mode to uint8 HxWx3, validating its size."""
    array = _array_to_rgb8(image, name) if isinstance(image, np.ndarray) else _pil_to_rgb8(image, name)
    _check_size(array.shape[1], array.shape[0], name)
    return np.ascontiguousarray(array)


def _array_to_rgb8(a: np.ndarray, name: str) -> np.ndarray:
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise ImageError(name, f"array of shape {a.shape} is not HxW, HxWx1, HxWx3 or HxWx4")
    if a.size == 0:
        raise ImageError(name, "array is empty")
    if a.dtype == np.uint8:
        out = a
    elif a.dtype == np.uint16:
        out = (a.astype(np.uint32) * 255 + 32767) // 65535
    elif np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise ImageError(name, "float array holds NaN or inf")
        if a.min() < 0 or a.max() > 1:
            raise ImageError(name, f"float array values span [{a.min():.3g}, {a.max():.3g}]; expected [0, 1]")
        out = np.rint(a * 255)
    else:
        raise ImageError(name, f"array dtype {a.dtype} is not uint8, uint16 or float in [0, 1]")
    out = out.astype(np.uint8)
    if out.shape[2] == 4:
        out = _composite_over_white(out[..., :3], out[..., 3])
    elif out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)
    return out


def _composite_over_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha.astype(np.float32)[..., None] / 255.0
    return np.rint(rgb.astype(np.float32) * a + 255.0 * (1 - a)).astype(np.uint8)


def _pil_to_rgb8(img, name: str) -> np.ndarray:
    _check_size(img.width, img.height, name)
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(img)
        # 16-bit PNGs open as "I" or "I;16": scale by the type's range, never clip at 255
        top = 65535 if a.max() > 255 or mode.startswith("I;16") else 255
        grey = np.rint(np.clip(a.astype(np.float64), 0, top) * (255.0 / top)).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if mode == "F":
        a = np.asarray(img, dtype=np.float64)
        if not np.isfinite(a).all():  # NaN would turn into black pixels without a word
            raise ImageError(name, f"float image holds {int((~np.isfinite(a)).sum())} NaN or infinite pixel(s)")
        top = 1.0 if a.max() <= 1.0 else 255.0
        grey = np.rint(np.clip(a, 0, top) * (255.0 / top)).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = np.asarray(img.convert("RGBA"))
        return _composite_over_white(rgba[..., :3], rgba[..., 3])
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def _check_size(width: int, height: int, name: str) -> None:
    if width == 0 or height == 0:
        raise ImageError(name, "image has no pixels")
    if min(width, height) < MIN_SIDE:
        raise ImageError(name, f"image is {width}x{height} px; each side must be at least {MIN_SIDE} px")
    if width * height > MAX_PIXELS:
        raise ImageError(
            name,
            f"image is {width}x{height} px ({width * height / 1e6:.0f} MP); the limit is {MAX_PIXELS // 1_000_000} "
            "MP: downscale it first",
        )


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read one image file as uint8 RGB; a corrupt, empty, tiny or huge file raises ``ImageError``."""
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise ImageError(name, "no such file")
    if path.stat().st_size == 0:
        raise ImageError(name, "file is empty (0 bytes)")
    try:  # read once: PIL decodes these bytes, and a PNG's length check reads them again
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(name, f"cannot be read ({exc.strerror or exc})") from None
    return decode_bytes(data, name)


def decode_bytes(data: bytes, name: str) -> np.ndarray:
    """An encoded image held in memory (a tar member, a dataset cell) as uint8 RGB, checked as a file is."""
    import io

    return _decode(io.BytesIO(data), name)


PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel
ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def png_shortfall(data: bytes) -> str | None:
    """Why a PNG's image data holds fewer rows than its header promises, else None. PIL decodes such a
    file without a word and leaves the missing rows black; the file is checked against its IHDR."""
    import struct
    import zlib

    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    pos, header, idat = 8, None, []
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR" and len(body) == 13:
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None:
        return None
    width, height, depth, colour, _, _, interlace = header
    bits = depth * PNG_CHANNELS.get(colour, 1)
    if interlace:
        passes = [(-(-(width - x0) // dx), -(-(height - y0) // dy)) for x0, y0, dx, dy in ADAM7]
        expected = sum(rows * (1 + -(-cols * bits // 8)) for cols, rows in passes if cols > 0 and rows > 0)
    else:
        expected = height * (1 + -(-width * bits // 8))
    inflater = zlib.decompressobj()
    got = 0
    try:
        for chunk in idat:
            got += len(inflater.decompress(chunk, max(expected - got, 1)))
            if got >= expected:
                return None
    except zlib.error as exc:
        return f"its image data cannot be decompressed ({exc})"
    return f"its image data ends early: {got} of {expected} bytes, the rest would decode as black rows"


def _decode(source, name: str) -> np.ndarray:  # source: an io.BytesIO
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        # PIL's process-wide decompression-bomb limit stays as the user set it: its warning is
        # silenced here (our smaller limit below gives the clearer message) and its error translated
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(source)
        with img:
            _check_size(img.width, img.height, name)
            img.load()
            if img.format == "PNG":
                shortfall = png_shortfall(source.getvalue())
                if shortfall is not None:
                    raise ImageError(name, f"{shortfall}; the file is truncated or corrupt")
            # a phone photo stores its rotation in EXIF: honour it, as transformers' image loading does
            upright = ImageOps.exif_transpose(img)
            return to_rgb8(upright if upright is not None else img, name)
    except ImageError:
        raise
    except Image.DecompressionBombError:
        raise ImageError(
            name,
            f"image is larger than PIL's decompression-bomb limit; the limit here is "
            f"{MAX_PIXELS // 1_000_000} MP: downscale it first",
        ) from None
    except UnidentifiedImageError:
        raise ImageError(name, "not an image file PIL can read (is it corrupt or another format?)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(name, f"cannot be decoded ({exc}); the file may be truncated or corrupt") from None
