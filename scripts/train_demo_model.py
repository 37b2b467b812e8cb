"""Train the bundled demo CLIP: ``python scripts/train_demo_model.py``.

Writes a Hugging Face checkpoint (config, safetensors, tokenizer, image processor, demo_card.json)
to ``pytest_clipshift/demo/model``. Same command, same weights (on the same torch build and
thread count). About 27 minutes on 2 CPU cores.
"""

import argparse
from pathlib import Path

from pytest_clipshift.demo.train import TrainSettings, train

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "pytest_clipshift" / "demo" / "model"


def main() -> None:
    defaults = TrainSettings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    settings = TrainSettings(steps=args.steps, batch_size=args.batch_size, seed=args.seed, threads=args.threads)
    train(settings, out_dir=args.out)


if __name__ == "__main__":
    main()
