"""A user-defined augmentation, registered once for the whole suite."""

import numpy as np

from pytest_clipshift import register_augmentation, register_metric


def jpeg_artifacts(image, rng, quality=40):
    """Re-encode as JPEG at a quality drawn around ``quality`` (seeded by clipshift)."""
    import io

    from PIL import Image

    q = int(np.clip(quality + rng.integers(-5, 6), 5, 95))
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=q)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


register_augmentation(
    "jpeg",
    jpeg_artifacts,
    replace=True,
    description="JPEG re-encoding",
    severities={1: {"quality": 80}, 2: {"quality": 60}, 3: {"quality": 40}, 4: {"quality": 20}, 5: {"quality": 8}},
)


def border_change(batch):
    """A user metric: mean absolute change of the outer 8-pixel frame, in [0, 1] (a distance).

    ``batch`` carries the (B, H, W, 3) uint8 canvases the model saw, clean and augmented."""

    def frame(images):
        x = images.astype(np.float64) / 255.0
        return np.concatenate(
            [
                x[:, :8].reshape(len(x), -1),
                x[:, -8:].reshape(len(x), -1),
                x[:, :, :8].reshape(len(x), -1),
                x[:, :, -8:].reshape(len(x), -1),
            ],
            axis=1,
        )

    return np.abs(frame(batch.clean_images) - frame(batch.augmented_images)).mean(axis=1)


register_metric(
    "border_change",
    border_change,
    needs="pixels",
    higher_is_better=False,
    replace=True,
    description="mean absolute change of the outer 8-pixel frame",
)
