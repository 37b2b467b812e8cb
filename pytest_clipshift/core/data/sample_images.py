"""The ``samples`` image set: real photographs that ship inside scikit-image (no download).

Grey photographs (camera, moon, coins, ...) are converted to RGB like any user image.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .decode import to_rgb8

# (set name, scikit-image loader); every one of these files is inside the scikit-image wheel
SAMPLES: tuple[tuple[str, str], ...] = (
    ("astronaut", "astronaut"),
    ("chelsea", "chelsea"),
    ("coffee", "coffee"),
    ("rocket", "rocket"),
    ("camera", "camera"),
    ("moon", "moon"),
    ("coins", "coins"),
    ("hubble_deep_field", "hubble_deep_field"),
    ("immunohistochemistry", "immunohistochemistry"),
    ("retina", "retina"),
    ("motorcycle_left", "stereo_motorcycle"),
    ("page", "page"),
    ("text", "text"),
    ("brick", "brick"),
    ("grass", "grass"),
    ("gravel", "gravel"),
    ("cell", "cell"),
    ("clock", "clock"),
)


def load_samples() -> tuple[list[str], list[np.ndarray]]:
    try:
        import skimage.data as data
    except ImportError:
        raise ConfigError(
            "the 'samples' image set needs scikit-image: pip install scikit-image "
            "(a dependency of pytest-clipshift: reinstall it)"
        ) from None
    names, arrays = [], []
    for name, loader in SAMPLES:
        image = getattr(data, loader)()
        if loader == "stereo_motorcycle":
            image = image[0]
        names.append(name)
        arrays.append(to_rgb8(np.asarray(image), name))
    return names, arrays
