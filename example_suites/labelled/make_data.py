"""Write this suite's labelled data: 80 demo scenes of 8 labels as class folders (data/blue_square/...)
and the same images as a Hugging Face parquet file (data.parquet, needs the datasets extra).

    python example_suites/labelled/make_data.py            # beside this file
"""

from __future__ import annotations

import sys
from pathlib import Path

LABELS = (
    "red circle",
    "red square",
    "green triangle",
    "green cross",
    "blue circle",
    "blue square",
    "yellow triangle",
    "purple cross",
)


def main(folder: Path | None = None, per_label: int = 10) -> Path:
    from PIL import Image

    from pytest_clipshift.demo.scenes import generate_scenes

    folder = folder or Path(__file__).resolve().parent
    picked: dict[str, list] = {label: [] for label in LABELS}
    for _, array, scene in generate_scenes(400, seed=11):
        if scene.label in picked and len(picked[scene.label]) < per_label:
            picked[scene.label].append(array)
    rows = []
    for label, arrays in picked.items():
        out = folder / "data" / label.replace(" ", "_")
        out.mkdir(parents=True, exist_ok=True)
        for k, array in enumerate(arrays):
            Image.fromarray(array).save(out / f"{k:03d}.png")
            rows.append((out / f"{k:03d}.png", label))
    try:
        import datasets
    except ImportError:
        print("datasets is not installed: wrote the class folders only")
        return folder
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=list(LABELS))})
    data = datasets.Dataset.from_dict(
        {"image": [str(p) for p, _ in rows], "label": [LABELS.index(lab) for _, lab in rows]}, features=features
    )
    data.to_parquet(str(folder / "data.parquet"))
    return folder


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
