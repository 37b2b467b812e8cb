"""ImageNet-C corruptions: seconds per 224-px image, ours against the reference, on one CPU core.

    python benchmarks/bench_imagenet_c.py [--images 6] [--out benchmarks/results/imagenet_c_cpu.json]

For each of the 19 corruptions at severities 1, 3 and 5: the median over the images of one call of
``pytest_clipshift``'s corruption and of the maintained ``imagecorruptions`` fork's (``corrupt``,
numba-compiled glass blur), both warmed up first, alternating on the same images. Glass blur is
also timed with Hendrycks' original pure-Python pixel-swap loop (the fork's loop without numba:
``_shuffle_pixels_njit_glass_blur.py_func``), the code of hendrycks/robustness. One core: OpenCV,
numba and BLAS limited to one thread. Needs ``pip install --no-deps imagecorruptions-imaug numba``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np  # noqa: E402


def _timed(fn, repeats: int = 1) -> float:
    best = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best.append(time.perf_counter() - start)
    return min(best)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "imagenet_c_cpu.json")
    args = parser.parse_args(argv)

    import cv2
    import imagecorruptions
    from imagecorruptions import corruptions as reference_module
    from PIL import Image

    from pytest_clipshift.core.augment.augmentations import apply_augmentation
    from pytest_clipshift.core.augment.imagenet_c import NAMES, PREFIX
    from pytest_clipshift.core.data.images import load_image_set

    cv2.setNumThreads(1)
    photos = [
        np.asarray(Image.fromarray(a).resize((224, 224), Image.BICUBIC))
        for a in load_image_set("samples", max_images=args.images).arrays
    ]
    rows = []
    for name in NAMES:
        for severity in (1, 3, 5):
            apply_augmentation(PREFIX + name, photos[0], severity, 0, "warm")  # imports, JIT, caches
            imagecorruptions.corrupt(photos[0], severity, name)
            mine, theirs = [], []
            for i, image in enumerate(photos):
                mine.append(_timed(lambda: apply_augmentation(PREFIX + name, image, severity, 0, str(i))))
                np.random.seed(i)
                theirs.append(_timed(lambda: imagecorruptions.corrupt(image, severity, name)))
            rows.append(
                {
                    "corruption": name,
                    "severity": severity,
                    "ours_s": statistics.median(mine),
                    "reference_s": statistics.median(theirs),
                }
            )
            print(
                f"{name:18s} s{severity}  ours {rows[-1]['ours_s'] * 1000:8.2f} ms   "
                f"reference {rows[-1]['reference_s'] * 1000:8.2f} ms",
                flush=True,
            )
    # Hendrycks' original glass blur: the same function with the pure-Python swap loop
    original = []
    shuffle = reference_module._shuffle_pixels_njit_glass_blur
    for severity in (1, 3, 5):
        reference_module._shuffle_pixels_njit_glass_blur = shuffle.py_func
        try:
            seconds = statistics.median(
                _timed(lambda: reference_module.glass_blur(Image.fromarray(image), severity, seed=0))
                for image in photos[:2]
            )
        finally:
            reference_module._shuffle_pixels_njit_glass_blur = shuffle
        original.append({"severity": severity, "seconds": seconds})
        print(f"glass_blur (hendrycks/robustness pure Python) s{severity}: {seconds:.2f} s", flush=True)
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "threads": 1,
            "opencv": cv2.__version__,
            "imagecorruptions": "imagecorruptions-imaug",
        },
        "images": args.images,
        "size": 224,
        "rows": rows,
        "glass_blur_original": original,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
