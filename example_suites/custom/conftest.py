"""A user-defined augmentation, registered once for the whole suite."""

import numpy as np

from pytest_clipshift import register_augmentation


def jpeg_artifacts(image, rng, quality=40):
    """Re-encode as JPEG at a quality drawn around ``quality`` (seeded by clipshift)."""
    import io

    from PIL import Image

    q = int(np.clip(quality + rng.integers(-5, 6), 5, 95))
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=q)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


register_augmentation(
    "jpeg", jpeg_artifacts, replace=True, description="JPEG re-encoding",
    severities={1: {"quality": 80}, 2: {"quality": 60}, 3: {"quality": 40}, 4: {"quality": 20}, 5: {"quality": 8}},
)
