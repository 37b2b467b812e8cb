"""Record what every built-in augmentation and ImageNet-C corruption does to six fixed images at
each severity: ``python scripts/pin_augmentations.py`` writes ``tests/core/augment/augmentation_pins.json``.

Run it only when a change to an augmentation is meant: the pins are what keeps a baseline recorded by
one version comparable with a candidate measured by the next (the same seed, the same augmented
pixels). Say in the release notes that baselines recorded before the change must be measured again.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pytest_clipshift.core.augment.augmentations import expand_names  # noqa: E402
from tests.core.augment.pins import PINS_FILE, SEED, SIZES, pin_images, pixel_toolchain, signature  # noqa: E402


def main() -> None:
    images = pin_images()
    pins = {
        name: {
            str(severity): [signature(name, severity, image, f"pin-{i}") for i, image in enumerate(images)]
            for severity in range(1, 6)
        }
        for name in expand_names(["study", "imagenet-c"])
    }
    recorded = {"python": platform.python_version(), **pixel_toolchain()}
    out = ROOT / "tests" / "core" / "augment" / PINS_FILE
    document = {"seed": SEED, "sizes": SIZES, "recorded_with": recorded, "pins": pins}
    # one line per augmentation: a re-pin's diff shows which augmentations moved
    body = ",\n".join(f" {json.dumps(name)}: {json.dumps(by_severity)}" for name, by_severity in pins.items())
    head = json.dumps({k: v for k, v in document.items() if k != "pins"})[:-1]
    out.write_text(f'{head}, "pins": {{\n{body}\n}}}}\n', encoding="utf-8")
    print(f"{sum(len(v) for v in pins.values())} (augmentation, severity) pins written to {out}")


if __name__ == "__main__":
    main()
