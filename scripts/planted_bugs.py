"""The bugs issue 26 names, planted one at a time: each must turn a test red.

    python scripts/planted_bugs.py [--only SUBSTRING]

Each bug is a small edit of the source (the wrong implementation someone could write); the script
applies it, runs the tests that guard that code (``-x``: the first failure is enough), puts the file
back, and writes ``docs/planted-bugs.md``: the bug, the edit, the test that caught it. A bug no test
catches makes the script exit 1. Not run in CI (a few minutes; the mutation run covers the rest).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "planted-bugs.md"
PKG = "pytest_clipshift/"
METRICS = ["tests/core/metrics", "tests/core/measure"]
GATE = ["tests/gate/test_corruption_error.py", "tests/gate/test_gate_numbers.py", "tests/core/runs/test_calibration.py"]
PREPROCESS = ["tests/core/models/test_preprocess.py", "tests/core/models/test_preprocess_settings.py"]
REPORT = ["tests/report"]
ENGINE = ["tests/core/measure"]
# the known answers first (the documented tables, strengths, the reference's constants), the pins last
AUGMENT = [
    "tests/core/augment/test_parameter_tables.py",
    "tests/core/augment/test_strengths.py",
    "tests/core/measure/test_chunks_and_seeds.py",
    "tests/core/augment/test_imagenet_c.py",
    "tests/core/augment/test_augmentations.py",
    "tests/core/augment/test_augmentation_pins.py",
]

# (what the bug is, file, [(text, wrong text)], tests that must catch it)
BUGS = [
    (
        "the clean-embedding row indexed over the whole set instead of within its chunk",
        "core/measure/scoring.py",
        [("rows = np.array([rows_of[j.image] for j in batch])", "rows = np.array([j.image for j in batch])")],
        ENGINE,
    ),
    (
        "the cache key without the seed",
        "core/measure/plan.py",
        [("            self.seed,\n", "")],
        ENGINE,
    ),
    (
        "the cache key without the augmentation's parameters",
        "core/measure/plan.py",
        [("case_parameters(case, self.attack), str(severity)", "{}, str(severity)")],
        ENGINE,
    ),
    (
        "the cache key without the preprocessing signature",
        "core/measure/plan.py",
        [("            self.prep_signature,\n", "")],
        ENGINE,
    ),
    (
        "the cache key without the draw number",
        "core/measure/plan.py",
        [('            name = f"{name}#draw{case.draw}"', "            pass")],
        ENGINE,
    ),
    (
        "the unchanged-image count lost on a cache hit",
        "core/measure/engine.py",
        [('unchanged=bool(hit[1].get("_unchanged", 0))', "unchanged=False")],
        ENGINE,
    ),
    (
        "one draw fewer than asked",
        "core/measure/plan.py",
        [("for k in range(1, settings.draws)", "for k in range(2, settings.draws)")],
        ENGINE,
    ),
    (
        "gaussian_noise severity 3 equal to severity 2",
        "core/augment/study.py",
        [('{"std": (0.10, 0.16)},', '{"std": (0.05, 0.08)},')],
        AUGMENT,
    ),
    (
        "gaussian_blur severity 4 equal to severity 3",
        "core/augment/study.py",
        [('{"sigma": (2.6, 3.4)},', '{"sigma": (1.6, 2.2)},')],
        AUGMENT,
    ),
    (
        "shift_scale_rotate severity 3 rotating 1.5 degrees instead of 15",
        "core/augment/study.py",
        [('{"shift": 0.0625, "scale": 0.1, "rotate": 15},', '{"shift": 0.0625, "scale": 0.1, "rotate": 1.5},')],
        AUGMENT,
    ),
    (
        "the per-image seed without the severity",
        "core/augment/augmentations.py",
        [('f"{seed}|{image_hash}|{name}|{severity}{extra}"', 'f"{seed}|{image_hash}|{name}{extra}"')],
        AUGMENT,
    ),
    (
        "the per-image seed without the image hash (every image gets the same noise)",
        "core/augment/augmentations.py",
        [('f"{seed}|{image_hash}|{name}|{severity}{extra}"', 'f"{seed}|{name}|{severity}{extra}"')],
        AUGMENT,
    ),
    (
        "coarse-dropout holes half the documented side",
        "core/augment/study.py",
        [("HOLE = 16 / 224", "HOLE = 8 / 224")],
        AUGMENT,
    ),
    (
        "ImageNet-C's 224-px length scale taken from the long side",
        "core/augment/imagenet_c.py",
        [("return min(height, width) / 224.0", "return max(height, width) / 224.0")],
        AUGMENT,
    ),
    (
        "ImageNet-C motion_blur severity 3 equal to severity 2",
        "core/augment/imagenet_c.py",
        [("[(10, 3), (15, 5), (15, 8),", "[(10, 3), (15, 5), (15, 5),")],
        AUGMENT,
    ),
    (
        "ImageNet-C fog severity 3 equal to severity 2",
        "core/augment/imagenet_c.py",
        [("[(1.5, 2), (2.0, 2), (2.5, 1.7),", "[(1.5, 2), (2.0, 2), (2.0, 2),")],
        AUGMENT,
    ),
    (
        "ImageNet-C gaussian_noise 20% too strong",
        "core/augment/imagenet_c.py",
        [
            (
                "(x + rng.normal(size=x.shape, scale=c))",
                "(x + rng.normal(size=x.shape, scale=1.2 * c))",
            )
        ],
        AUGMENT,
    ),
    (
        "patch similarity as a median over the grid, not the mean",
        "core/metrics/functional.py",
        [("return (1.0 / (1.0 + mse)).mean(axis=(1, 2))", "return np.median(1.0 / (1.0 + mse), axis=(1, 2))")],
        METRICS,
    ),
    (
        "edge maps not normalised by their maximum",
        "core/metrics/functional.py",
        [("    return e / np.maximum(top, EPS)[:, None, None]", "    return e")],
        METRICS,
    ),
    (
        "edge_preservation's direction inverted (lower is better)",
        "core/metrics/builtin.py",
        [
            (
                '"edge_preservation",\n        "pixels",\n        True,',
                '"edge_preservation",\n        "pixels",\n        False,',
            )
        ],
        METRICS + ["tests/gate/test_gate_core.py"],
    ),
    (
        "zero_shot_accuracy_drop's direction inverted (higher is better)",
        "core/metrics/builtin.py",
        [
            (
                '"zero_shot_accuracy_drop",\n        "text",\n        False,',
                '"zero_shot_accuracy_drop",\n        "text",\n        True,',
            )
        ],
        METRICS + ["tests/gate/test_gate_core.py"],
    ),
    (
        "layer tokens off by one: @K reads layer K-1",
        "core/metrics/builtin.py",
        [("return -1 if layer is None else layer - 1", "return -1 if layer is None else layer - 2")],
        METRICS,
    ),
    (
        "layer attention off by one: @K reads layer K-1",
        "core/metrics/batch.py",
        [("else layer - 1", "else layer - 2")],
        METRICS,
    ),
    (
        "SigLIP's attention averaged over keys (a constant) instead of over queries",
        "core/models/tower.py",
        [("maps = heads[:, :, :, -n_patches:].mean(dim=2)", "maps = heads[:, :, :, -n_patches:].mean(dim=3)")],
        ["tests/core/models/test_model_families.py", "tests/core/models/test_tower.py"],
    ),
    (
        "ImageNet-C family curves summed over the family's corruptions instead of averaged",
        "gate/corruption_error.py",
        [
            (
                "{s: float(np.mean(v)) for s, v in sorted(by_sev.items())}",
                "{s: float(np.sum(v)) for s, v in sorted(by_sev.items())}",
            )
        ],
        GATE,
    ),
    (
        "a family's relative mCE equal to its plain mCE",
        "gate/corruption_error.py",
        [
            (
                '"relative_mce": _mean(c["relative_ce"] for c in measured)',
                '"relative_mce": _mean(c["ce"] for c in measured)',
            )
        ],
        GATE,
    ),
    (
        "R^2 about the wrong mean (the metric's, not the accuracy drop's)",
        "core/runs/calibration.py",
        [("total = float(((y - y.mean()) ** 2).sum())", "total = float(((y - x.mean()) ** 2).sum())")],
        GATE,
    ),
    (
        "Spearman's rank correlation replaced by Pearson's",
        "core/runs/calibration.py",
        [("from scipy.stats import spearmanr", "from scipy.stats import pearsonr as spearmanr")],
        GATE,
    ),
    (
        "the stratified sample's largest-remainder rule reversed (smallest remainders first)",
        "core/data/sampling.py",
        [("key=lambda k: (-(exact[k] - take[k]), str(k))", "key=lambda k: ((exact[k] - take[k]), str(k))")],
        ["tests/core/data"],
    ),
    (
        "the centre-crop offset rounded up instead of down (transformers floors it)",
        "core/models/preprocess.py",
        [
            (
                "top, left = int((h - height) / 2), int((w - width) / 2)",
                "top, left = -(-(h - height) // 2), -(-(w - width) // 2)",
            )
        ],
        PREPROCESS,
    ),
    (
        "the fallback mean in BGR order",
        "core/models/preprocess.py",
        [("            CLIP_MEAN,\n            CLIP_STD,\n", "            CLIP_MEAN[::-1],\n            CLIP_STD,\n")],
        PREPROCESS,
    ),
    (
        "the canvas-to-input resize always bilinear",
        "core/models/preprocess.py",
        [('mode = "bilinear" if settings.resample == 2 else "bicubic"', 'mode = "bilinear"')],
        PREPROCESS,
    ),
    (
        "the canvas-to-input resize without its uint8 step",
        "core/models/preprocess.py",
        [("x = x.round().clamp(0, 255)", "x = x")],
        PREPROCESS,
    ),
    (
        "a cell with one broken budget of two shown green",
        "report/verdict.py",
        [
            (
                'return "pass" if all(c.passed for c in checks) else "fail"',
                'return "pass" if any(c.passed for c in checks) else "fail"',
            )
        ],
        REPORT,
    ),
    (
        "the page title PASSED when the compare failed",
        "report/verdict.py",
        [('        or bool(comparison.get("failed"))\n', "")],
        REPORT,
    ),
    (
        "pass and fail colours swapped",
        "report/verdict.py",
        [
            ('PASS_COLOUR = "#e3f4e1"', 'PASS_COLOUR = "#f9d6d5"'),
            ('FAIL_COLOUR = "#f9d6d5"', 'FAIL_COLOUR = "#e3f4e1"'),
        ],
        REPORT,
    ),
    (
        "a failed delta drawn neutral",
        "report/verdict.py",
        [('    if failed:\n        return "fail"\n', '    if failed:\n        return ""\n')],
        REPORT,
    ),
]


def first_failure(output: str) -> str:
    found = re.search(r"^FAILED (\S+)", output, re.M)
    return found.group(1) if found else "(the run failed: " + output.strip().splitlines()[-1][:120] + ")"


def plant(what: str, relative: str, edits, tests) -> tuple[bool, str, float]:
    path = ROOT / PKG / relative
    original = path.read_text(encoding="utf-8")
    planted = original
    for text, wrong in edits:
        if planted.count(text) != 1:
            sys.exit(f"{relative}: the text to plant '{what}' in is not there exactly once:\n{text}")
        planted = planted.replace(text, wrong)
    started = time.perf_counter()
    try:
        path.write_text(planted, encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not whole_run", *tests],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
    finally:
        path.write_text(original, encoding="utf-8")
    caught = done.returncode == 1
    return caught, first_failure(done.stdout) if caught else "nothing: every test passed", time.perf_counter() - started


def main(argv=None) -> int:
    # a stopped run still puts the planted file back (the ``finally`` in ``plant``)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="plant only the bugs whose description contains this")
    args = parser.parse_args(argv)
    rows, missed = [], 0
    for what, relative, edits, tests in BUGS:
        if args.only not in what:
            continue
        caught, by, seconds = plant(what, relative, edits, tests)
        missed += not caught
        print(f"{'caught' if caught else 'MISSED'}  {what}  <- {by}  ({seconds:.0f} s)", flush=True)
        edit = "; ".join(f"`{t.strip()}` -> `{w.strip() or '(removed)'}`" for t, w in edits).replace("|", "\\|")
        edit = re.sub(r"\n\s*", r"\\n ", edit)  # one table row: the edit's line breaks written as \n
        rows.append(f"| {what} | `{relative}`: {edit} | {'`' + by + '`' if caught else '**missed**'} |")
    if not args.only:
        lines = [
            "# Planted bugs",
            "",
            "`python scripts/planted_bugs.py`: each bug issue 26 names, planted one at a time in the source, "
            "must make a test fail. "
            f"{datetime.now(timezone.utc):%Y-%m-%d}, {platform.machine()}, {os.cpu_count()} cores: "
            f"{len(rows) - missed} of {len(rows)} caught.",
            "",
            "| the bug | the edit | the first test that failed |",
            "|---|---|---|",
            *rows,
            "",
        ]
        OUT.write_text("\n".join(lines), encoding="utf-8")
        print(f"written to {OUT}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
