"""Make a "new release" of the demo model: its weights plus seeded Gaussian noise.

    python example_suites/release_gate/make_candidate.py OUT_DIR [--noise 0.05] [--seed 1]

In real life the candidate is your fine-tuned checkpoint; this stands in for it.
"""

import argparse
import shutil
from pathlib import Path

import torch
from transformers import CLIPModel

from pytest_clipshift.core.models.encoders import DEMO_MODEL_DIR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--noise", type=float, default=0.05, help="noise std relative to each tensor's std")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    model = CLIPModel.from_pretrained(DEMO_MODEL_DIR)
    generator = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        for param in model.vision_model.parameters():
            if param.numel() > 1:
                param.add_(torch.randn(param.shape, generator=generator) * param.std() * args.noise)
    model.save_pretrained(args.out)
    for name in ("preprocessor_config.json", "tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt"):
        shutil.copy(DEMO_MODEL_DIR / name, args.out / name)
    print(f"candidate written to {args.out}")


if __name__ == "__main__":
    main()
