"""ImageNet-C's 19 corruptions (Hendrycks & Dietterich, ICLR 2019) x 5 severities, seeded and fast.

Each corruption is ``f(image uint8 HxWx3, rng, **params) -> uint8 image`` with Hendrycks' five
parameter sets (as in the maintained ``imagecorruptions`` package), registered as the augmentation
``imagenet_c.<name>``. Differences from the reference code, all deliberate:

* **Seeded.** Every random draw comes from ``rng`` (one per image, corruption, severity and seed),
  never from numpy's global state: the same bytes in any process and batch order.
* **Any size from 32 to 1024 px.** The reference's constants are for 224-px images. Lengths (blur
  sigmas and radii, glass-blur displacement, motion-blur length, spatter blob size) are multiplied
  by ``s = min(height, width) / 224``; amplitudes (noise, colour, brightness, JPEG quality) and
  relative quantities (zoom factors, pixelate factor, elastic field, fog and frost, which the
  reference already sizes to the image) are not. At 224 px every parameter is the reference's.
* **Fast.** Blurs and warps run in OpenCV (motion blur as one line kernel, zoom blur with
  ``cv2.resize``, elastic with ``cv2.remap``); glass blur keeps the reference's sequential pixel
  loop (byte-identical to it for the same offsets), run over packed pixels in a plain list.
* **Frost without image files.** The six reference textures are replaced by procedural ones
  (fractal noise plus crystal streaks) whose brightness and contrast follow the six textures'
  per-channel statistics; nothing is bundled.
* **Aligned.** ``elastic_transform`` returns its coordinate grid, so attention and tokens are
  compared aligned, as for the study's geometric augmentations.

Brightness, contrast, saturate, pixelate and JPEG compression are deterministic and byte-identical
to the reference at 224 px; the rest match its strength (tests/test_imagenet_c.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from io import BytesIO
from typing import Any

import numpy as np

FAMILIES = {
    "noise": ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise"),
    "blur": ("defocus_blur", "glass_blur", "motion_blur", "zoom_blur", "gaussian_blur"),
    "weather": ("snow", "frost", "fog", "brightness", "spatter"),
    "digital": ("contrast", "elastic_transform", "pixelate", "jpeg_compression", "saturate"),
}
"""Hendrycks' four families; the four extra corruptions (speckle noise, gaussian blur, spatter,
saturate) join the family they belong to, as in his paper's appendix."""

COMMON = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "defocus_blur",
    "glass_blur",
    "motion_blur",
    "zoom_blur",
    "snow",
    "frost",
    "fog",
    "brightness",
    "contrast",
    "elastic_transform",
    "pixelate",
    "jpeg_compression",
)
EXTRA = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
NAMES = COMMON + EXTRA
PREFIX = "imagenet_c."


def family_of(name: str) -> str:
    base = name[len(PREFIX) :] if name.startswith(PREFIX) else name
    return next(f for f, members in FAMILIES.items() if base in members)


def length_scale(height: int, width: int) -> float:
    """The factor the reference's lengths (at 224 px) are multiplied by for an image this size."""
    return min(height, width) / 224.0


def _scale(x: np.ndarray) -> float:
    return length_scale(*x.shape[:2])


def _cv2():
    import cv2

    return cv2


def _out(x: np.ndarray) -> np.ndarray:
    """float -> uint8: clipped to [0, 255], then truncated, as the reference's
    ``np.uint8(np.clip(x, 0, 1) * 255)`` does (so the corruptions below do not clip again)."""
    return np.uint8(np.clip(x, 0, 255))


def _gaussian(x: np.ndarray, sigma: float) -> np.ndarray:
    """skimage.filters.gaussian's result (truncate 4, 'nearest' border) through OpenCV."""
    cv2 = _cv2()
    if sigma <= 0:
        return x
    k = 2 * int(4.0 * sigma + 0.5) + 1
    return cv2.GaussianBlur(x, (k, k), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE)


# ------------------------------------------------------------------ noise
def gaussian_noise(x, rng, c):
    x = x / 255.0
    return _out((x + rng.normal(size=x.shape, scale=c)) * 255)


def shot_noise(x, rng, c):
    x = x / 255.0
    return _out((rng.poisson(x * c) / float(c)) * 255)


def impulse_noise(x, rng, c):
    x = x / 255.0
    # skimage's s&p: a fraction c of the values set to 0 or 1, half each
    flip = rng.random(x.shape) < c
    salt = rng.random(x.shape) < 0.5
    x = np.where(flip, np.where(salt, 1.0, 0.0), x)
    return _out(x * 255)


def speckle_noise(x, rng, c):
    x = x / 255.0
    return _out((x + x * rng.normal(size=x.shape, scale=c)) * 255)


# ------------------------------------------------------------------ blur
def gaussian_blur(x, rng, c):
    return _out(_gaussian(x / 255.0, c * _scale(x)) * 255)


def glass_blur(x, rng, sigma, delta, iterations):
    s = _scale(x)
    sigma, delta = sigma * s, max(1, int(round(delta * s)))
    y = np.uint8(_gaussian(x / 255.0, sigma) * 255)
    h, w = y.shape[:2]
    steps = iterations * max(0, h - 2 * delta) * max(0, w - 2 * delta)
    offsets = rng.integers(-delta, delta, size=(steps, 2))  # (dx, dy) per visit, in the reference's order
    y = local_shuffle(y, offsets, delta, iterations)
    return _out(_gaussian(y / 255.0, sigma) * 255)


def local_shuffle(y: np.ndarray, offsets: np.ndarray, delta: int, iterations: int) -> np.ndarray:
    """The reference's sequential pixel loop, exactly: for each iteration, rows from ``h - delta`` down
    to ``delta + 1`` and, within each, columns likewise, pixel (r, c) takes the value of (r + dy,
    c + dx) as it is at that moment. (Its tuple "swap" of two array views copies, it does not swap;
    and since a source may already have been overwritten, pixels travel further than ``delta``.)
    Pixels are packed into one integer each so the loop runs over a plain list: 14-23 ms per 224-px
    image on one core (``benchmarks/RESULTS.md``)."""
    h, w, channels = y.shape
    rows, cols = np.arange(h - delta, delta, -1), np.arange(w - delta, delta, -1)
    targets = np.tile((rows[:, None] * w + cols[None, :]).ravel(), iterations)
    sources = targets + offsets[:, 1] * w + offsets[:, 0]
    flat = y.reshape(-1, channels).astype(np.uint32)
    packed = np.zeros(h * w, np.uint32)
    for k in range(channels):
        packed |= flat[:, k] << np.uint32(8 * k)
    pixels = packed.tolist()
    for target, source in zip(targets.tolist(), sources.tolist()):
        pixels[target] = pixels[source]
    out = np.array(pixels, dtype=np.uint32)
    return (
        np.stack([(out >> np.uint32(8 * k)) & 255 for k in range(channels)], axis=1).astype(np.uint8).reshape(y.shape)
    )


def disk_kernel(radius: float, alias_blur: float) -> np.ndarray:
    cv2 = _cv2()
    if radius <= 8:
        grid, ksize = np.arange(-8, 8 + 1), (3, 3)
    else:
        r = int(math.ceil(radius))
        grid, ksize = np.arange(-r, r + 1), (5, 5)
    xx, yy = np.meshgrid(grid, grid)
    disk = np.array((xx**2 + yy**2) <= radius**2, dtype=np.float32)
    disk /= np.sum(disk)
    return cv2.GaussianBlur(disk, ksize=ksize, sigmaX=alias_blur)


def defocus_blur(x, rng, radius, alias_blur):
    cv2 = _cv2()
    kernel = disk_kernel(radius * _scale(x), alias_blur)
    out = cv2.filter2D((x / 255.0).astype(np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT_101)
    return _out(out * 255)


def motion_kernel(radius: int, sigma: float, angle: float) -> np.ndarray:
    """The reference's motion blur (a sum of shifted copies weighted by a half Gaussian) as one
    correlation kernel: copy i shifted by (dx_i, dy_i) puts weight k_i at (-dy_i, -dx_i)."""
    width = 2 * radius + 1
    k = np.exp(-(np.arange(width) ** 2) / (2 * sigma**2))
    k /= k.sum()
    py, px = width * np.sin(np.deg2rad(angle)), width * np.cos(np.deg2rad(angle))
    hyp = math.hypot(py, px)
    kernel = np.zeros((2 * width + 1, 2 * width + 1), np.float32)
    for i in range(width):
        dy = -math.ceil((i * py / hyp) - 0.5)
        dx = -math.ceil((i * px / hyp) - 0.5)
        kernel[width - dy, width - dx] += k[i]
    return kernel


def _motion_blur(x: np.ndarray, radius: int, sigma: float, angle: float) -> np.ndarray:
    cv2 = _cv2()
    kernel = motion_kernel(radius, sigma, angle)
    return cv2.filter2D(x.astype(np.float32), -1, kernel, borderType=cv2.BORDER_REPLICATE)


def motion_blur(x, rng, radius, sigma):
    s = _scale(x)
    angle = rng.uniform(-45, 45)
    return _out(_motion_blur(x, max(1, int(round(radius * s))), sigma * s, angle))


def _clipped_zoom(x: np.ndarray, factor: float) -> np.ndarray:
    """The centre 1/factor of ``x`` enlarged back to the image size (bilinear)."""
    cv2 = _cv2()
    h, w = x.shape[:2]
    ch, cw = int(np.ceil(h / factor)), int(np.ceil(w / factor))
    top, left = (h - ch) // 2, (w - cw) // 2
    crop = x[top : top + ch, left : left + cw]
    big = cv2.resize(crop, (int(round(cw * factor)), int(round(ch * factor))), interpolation=cv2.INTER_LINEAR)
    # ceil(h / factor) * factor >= h, so the enlarged crop is never short of the image: cut its centre
    th, tw = (big.shape[0] - h) // 2, (big.shape[1] - w) // 2
    return big[th : th + h, tw : tw + w].reshape(x.shape)


def zoom_blur(x, rng, start, stop, step):
    x = (x / 255.0).astype(np.float32)
    factors = np.arange(start, stop, step)
    out = np.zeros_like(x)
    for f in factors:
        out += _clipped_zoom(x, float(f))
    return _out(((x + out) / (len(factors) + 1)) * 255)


# ------------------------------------------------------------------ weather
def _plasma(mapsize: int, wibbledecay: float, rng) -> np.ndarray:
    """The reference's diamond-square height map in [0, 1], drawn from ``rng``."""
    arr = np.zeros((mapsize, mapsize), dtype=np.float64)
    step, wibble = mapsize, 100.0

    def wibbled(a):
        return a / 4 + wibble * rng.uniform(-wibble, wibble, a.shape)

    while step >= 2:
        corner = arr[0:mapsize:step, 0:mapsize:step]
        square = corner + np.roll(corner, -1, axis=0)
        square += np.roll(square, -1, axis=1)
        arr[step // 2 : mapsize : step, step // 2 : mapsize : step] = wibbled(square)
        dr = arr[step // 2 : mapsize : step, step // 2 : mapsize : step]
        ul = arr[0:mapsize:step, 0:mapsize:step]
        lt = dr + np.roll(dr, 1, axis=0) + ul + np.roll(ul, -1, axis=1)
        arr[0:mapsize:step, step // 2 : mapsize : step] = wibbled(lt)
        tt = dr + np.roll(dr, 1, axis=1) + ul + np.roll(ul, -1, axis=0)
        arr[step // 2 : mapsize : step, 0:mapsize:step] = wibbled(tt)
        step //= 2
        wibble /= wibbledecay
    arr -= arr.min()
    return arr / arr.max()


def fog(x, rng, amount, decay):
    h, w = x.shape[:2]
    size = 1 << (max(h, w) - 1).bit_length()
    x = x / 255.0
    top = x.max()
    x = x + amount * _plasma(size, decay, rng)[:h, :w][..., None]
    return _out((x * top / (top + amount)) * 255)


FROST_TEXTURES = (  # per-channel mean and std (RGB) of the reference's six frost photographs
    ((77.7, 149.1, 165.7), (26.9, 16.5, 15.3)),
    ((200.8, 205.4, 214.5), (21.4, 22.1, 22.6)),
    ((200.8, 205.4, 214.5), (21.4, 22.1, 22.6)),
    ((137.6, 152.8, 165.2), (28.5, 28.5, 29.9)),
    ((112.4, 123.4, 134.8), (44.4, 43.3, 41.7)),
    ((71.4, 95.4, 104.5), (35.2, 42.7, 47.4)),
)


def frost_texture(h: int, w: int, rng) -> np.ndarray:
    """A procedural frost texture (float RGB, 0-255): fractal noise for the hazy ice, thin bright
    streaks for the crystals, scaled to one of the reference textures' per-channel statistics."""
    cv2 = _cv2()
    size = 1 << (max(h, w) - 1).bit_length()
    haze = _plasma(size, 1.6, rng)[:h, :w]
    streaks = np.zeros((h, w), np.float32)
    for _ in range(int(40 * (h * w) / 224**2) + 8):
        y0, x0 = rng.uniform(0, h), rng.uniform(0, w)
        angle, length = rng.uniform(0, np.pi), rng.uniform(0.05, 0.25) * min(h, w)
        y1, x1 = y0 + length * np.sin(angle), x0 + length * np.cos(angle)
        cv2.line(streaks, (int(x0), int(y0)), (int(x1), int(y1)), float(rng.uniform(0.5, 1.0)), 1, cv2.LINE_AA)
    streaks = cv2.GaussianBlur(streaks, (3, 3), 0.8)
    pattern = 0.6 * haze + 0.8 * streaks
    pattern = (pattern - pattern.mean()) / max(float(pattern.std()), 1e-6)
    mean, std = FROST_TEXTURES[int(rng.integers(len(FROST_TEXTURES)))]
    return np.clip(np.asarray(mean)[None, None] + pattern[..., None] * np.asarray(std)[None, None], 0, 255)


def frost(x, rng, keep, add):
    h, w = x.shape[:2]
    return _out(keep * x.astype(np.float64) + add * frost_texture(h, w, rng))


def snow(x, rng, loc, scale, zoom, threshold, radius, sigma, keep):
    cv2 = _cv2()
    s = _scale(x)
    x = x.astype(np.float32) / 255.0
    layer = rng.normal(size=x.shape[:2], loc=loc, scale=scale).astype(np.float32)
    layer = _clipped_zoom(layer[..., None], zoom)[..., 0]
    layer[layer < threshold] = 0  # every threshold is positive: nothing negative is left
    layer = np.minimum(layer, 1)
    layer = _motion_blur(layer, max(1, int(round(radius * s))), sigma * s, rng.uniform(-135, -45))
    layer = (np.round(layer * 255).astype(np.uint8) / 255.0)[..., None]
    grey = cv2.cvtColor(x, cv2.COLOR_RGB2GRAY)[..., None]
    x = keep * x + (1 - keep) * np.maximum(x, grey * 1.5 + 0.5)
    return _out((x + layer + np.rot90(layer, k=2)) * 255)


def spatter(x, rng, loc, scale, sigma, threshold, intensity, mud):
    cv2 = _cv2()
    s = _scale(x)
    x = x.astype(np.float32) / 255.0
    liquid = rng.normal(size=x.shape[:2], loc=loc, scale=scale)
    liquid = _gaussian(liquid, sigma * s)
    liquid[liquid < threshold] = 0
    if not mud:  # water: pale turquoise drops with bright rims
        liquid8 = (liquid * 255).astype(np.uint8)
        dist = 255 - cv2.Canny(liquid8, 50, 150)
        dist = cv2.distanceTransform(dist, cv2.DIST_L2, 5)
        _, dist = cv2.threshold(dist, 20, 20, cv2.THRESH_TRUNC)
        dist = cv2.blur(dist, (3, 3)).astype(np.uint8)
        dist = cv2.equalizeHist(dist)
        dist = cv2.filter2D(dist, cv2.CV_8U, np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]))
        dist = cv2.blur(dist, (3, 3)).astype(np.float32)
        m = liquid8 * dist
        m = m / max(float(m.max()), 1e-12) * intensity
        # the reference names it BGR but adds it to an RGB image unswapped: (175, 238, 238) in RGB
        colour = np.array([175, 238, 238], np.float32) / 255.0
        return _out((x + m[..., None] * colour) * 255)
    m = np.where(liquid > threshold, 1.0, 0.0).astype(np.float32)
    m = _gaussian(m, intensity * s)
    m[m < 0.8] = 0
    colour = np.array([63, 42, 20], np.float32) / 255.0  # mud brown
    x = x * (1 - m[..., None]) + colour * m[..., None]
    return _out(x * 255)


# ------------------------------------------------------------------ digital (byte-identical where deterministic)
def _hsv_round_trip(x: np.ndarray, edit: Callable[[np.ndarray], None]) -> np.ndarray:
    from skimage import color

    hsv = color.rgb2hsv(x)
    edit(hsv)
    return color.hsv2rgb(hsv)


def brightness(x, rng, c):
    x = np.array(x) / 255.0

    def edit(hsv):
        hsv[:, :, 2] = np.clip(hsv[:, :, 2] + c, 0, 1)

    return _out(_hsv_round_trip(x, edit) * 255)


def saturate(x, rng, factor, offset):
    x = np.array(x) / 255.0

    def edit(hsv):
        hsv[:, :, 1] = np.clip(hsv[:, :, 1] * factor + offset, 0, 1)

    return _out(_hsv_round_trip(x, edit) * 255)


def contrast(x, rng, c):
    x = np.array(x) / 255.0
    means = np.mean(x, axis=(0, 1))  # (3,): broadcasts over H x W
    return _out(((x - means) * c + means) * 255)


def jpeg_compression(x, rng, quality):
    from PIL import Image

    buffer = BytesIO()
    Image.fromarray(x).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"), dtype=np.uint8)


def pixelate(x, rng, c):
    from PIL import Image

    h, w = x.shape[:2]
    img = Image.fromarray(x).resize((int(w * c), int(h * c)), Image.BOX)
    return np.asarray(img.resize((w, h), Image.NEAREST), dtype=np.uint8)


def elastic_transform(x, rng, alpha):
    """The reference's elastic warp (smoothed random displacement, relative to the image size), with
    the coordinate grid of where each output pixel came from, for aligned attention."""
    cv2 = _cv2()
    h, w = x.shape[:2]
    sigma_y, sigma_x = h * 0.01, w * 0.01
    reach = h * 0.005

    def field():
        raw = rng.uniform(-reach, reach, size=(h, w)).astype(np.float32)
        ky, kx = (2 * int(3 * sg + 0.5) + 1 for sg in (sigma_y, sigma_x))  # truncate=3, as the reference
        return cv2.GaussianBlur(raw, (kx, ky), sigmaX=sigma_x, sigmaY=sigma_y, borderType=cv2.BORDER_REFLECT) * alpha

    dx, dy = field(), field()
    xx, yy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    map_x, map_y = xx + dx, yy + dy
    out = cv2.remap(
        x.astype(np.float32) / 255.0, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    inside = ((map_x >= -0.5) & (map_x <= w - 0.5) & (map_y >= -0.5) & (map_y <= h - 0.5)).astype(np.float32)
    coords = np.stack([np.clip(map_x, 0, w - 1), np.clip(map_y, 0, h - 1), inside], axis=-1)
    return _out(out * 255), coords


# ------------------------------------------------------------------ the five levels of each
def _levels(key: str, values) -> dict[int, dict[str, Any]]:
    return {i + 1: (dict(zip(key.split(","), v)) if isinstance(v, tuple) else {key: v}) for i, v in enumerate(values)}


LEVELS: dict[str, tuple[Callable, dict[int, dict[str, Any]], bool]] = {
    # name: (function, severity -> parameters, geometric)
    "gaussian_noise": (gaussian_noise, _levels("c", [0.08, 0.12, 0.18, 0.26, 0.38]), False),
    "shot_noise": (shot_noise, _levels("c", [60, 25, 12, 5, 3]), False),
    "impulse_noise": (impulse_noise, _levels("c", [0.03, 0.06, 0.09, 0.17, 0.27]), False),
    "speckle_noise": (speckle_noise, _levels("c", [0.15, 0.2, 0.35, 0.45, 0.6]), False),
    "gaussian_blur": (gaussian_blur, _levels("c", [1, 2, 3, 4, 6]), False),
    "glass_blur": (
        glass_blur,
        _levels("sigma,delta,iterations", [(0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)]),
        False,
    ),
    "defocus_blur": (
        defocus_blur,
        _levels("radius,alias_blur", [(3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)]),
        False,
    ),
    "motion_blur": (motion_blur, _levels("radius,sigma", [(10, 3), (15, 5), (15, 8), (15, 12), (20, 15)]), False),
    "zoom_blur": (
        zoom_blur,
        _levels(
            "start,stop,step", [(1, 1.11, 0.01), (1, 1.16, 0.01), (1, 1.21, 0.02), (1, 1.26, 0.02), (1, 1.31, 0.03)]
        ),
        False,
    ),
    "snow": (
        snow,
        _levels(
            "loc,scale,zoom,threshold,radius,sigma,keep",
            [
                (0.1, 0.3, 3, 0.5, 10, 4, 0.8),
                (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
                (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
                (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
                (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55),
            ],
        ),
        False,
    ),
    "frost": (frost, _levels("keep,add", [(1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)]), False),
    "fog": (fog, _levels("amount,decay", [(1.5, 2), (2.0, 2), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4)]), False),
    "brightness": (brightness, _levels("c", [0.1, 0.2, 0.3, 0.4, 0.5]), False),
    "spatter": (
        spatter,
        _levels(
            "loc,scale,sigma,threshold,intensity,mud",
            [
                (0.65, 0.3, 4, 0.69, 0.6, 0),
                (0.65, 0.3, 3, 0.68, 0.6, 0),
                (0.65, 0.3, 2, 0.68, 0.5, 0),
                (0.65, 0.3, 1, 0.65, 1.5, 1),
                (0.67, 0.4, 1, 0.65, 1.5, 1),
            ],
        ),
        False,
    ),
    "contrast": (contrast, _levels("c", [0.4, 0.3, 0.2, 0.1, 0.05]), False),
    "elastic_transform": (
        elastic_transform,
        _levels("alpha", [250 * 0.05, 250 * 0.065, 250 * 0.085, 250 * 0.1, 250 * 0.12]),
        True,
    ),
    "pixelate": (pixelate, _levels("c", [0.6, 0.5, 0.4, 0.3, 0.25]), False),
    "jpeg_compression": (jpeg_compression, _levels("quality", [25, 18, 15, 10, 7]), False),
    "saturate": (saturate, _levels("factor,offset", [(0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2)]), False),
}
