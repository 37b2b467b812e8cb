"""mCE and relative mCE with known answers on hand-made runs, then through a real run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pytest_clipshift.core.runs.results import RunResult, ShiftResult
from pytest_clipshift.gate.corruption_error import cell_error, corruption_errors

NAMES = ["a", "b", "c", "d"]


def cell(aug, sev, cosine):
    return ShiftResult(
        augmentation=aug,
        severity=sev,
        image_names=NAMES,
        values={"cosine": np.full(4, cosine), "l2_normalized": np.full(4, 1 - cosine)},
        seed=0,
    )


def run(cells):
    return RunResult(model={"name": "m"}, seed=0, image_names=NAMES, image_hash="h", image_source="s", results=cells)


def errors_of(base_cos, cand_cos, clean=(1.0, 1.0)):
    """Runs with gaussian_noise (noise), zoom_blur (blur) and speckle_noise (an extra) at s1 and s3."""

    def make(cos, floor):
        cells = [cell("identity", 3, floor)]
        for name, pair in cos.items():
            cells += [cell(f"imagenet_c.{name}", s, c) for s, c in zip((1, 3), pair)]
        return run(cells)

    return corruption_errors(make(base_cos, clean[0]), make(cand_cos, clean[1]), "cosine", "base.json")


def test_ce_is_the_ratio_of_summed_errors_and_mce_their_mean_over_common_corruptions():
    base = {"gaussian_noise": (0.9, 0.7), "zoom_blur": (0.8, 0.6), "speckle_noise": (0.9, 0.8)}
    cand = {"gaussian_noise": (0.95, 0.85), "zoom_blur": (0.8, 0.6), "speckle_noise": (0.5, 0.5)}
    e = errors_of(base, cand, clean=(0.98, 0.99))
    noise = e.corruptions["gaussian_noise"]
    assert noise["ce"] == pytest.approx((0.05 + 0.15) / (0.1 + 0.3))  # 50%: half the baseline's error
    assert noise["relative_ce"] == pytest.approx((0.04 + 0.14) / (0.08 + 0.28))
    assert e.corruptions["zoom_blur"]["ce"] == pytest.approx(1.0)
    # speckle noise (an extra corruption) is reported, but not in the mCE
    assert (
        e.corruptions["speckle_noise"]["ce"] == pytest.approx(1.0 / 0.3)
        and not e.corruptions["speckle_noise"]["in_mce"]
    )
    assert e.mce == pytest.approx((0.5 + 1.0) / 2)
    assert e.families["noise"]["mce"] == pytest.approx(0.5) and e.families["blur"]["mce"] == pytest.approx(1.0)
    assert e.families["noise"]["corruptions"] == ["gaussian_noise"]


def test_a_distance_is_its_own_error_and_the_same_numbers_follow():
    r = cell("imagenet_c.fog", 2, 0.7)
    assert cell_error(r, "cosine") == pytest.approx(0.3) and cell_error(r, "l2_normalized") == pytest.approx(0.3)
    base = run([cell("imagenet_c.fog", 2, 0.7)])
    cand = run([cell("imagenet_c.fog", 2, 0.85)])
    assert corruption_errors(base, cand, "l2_normalized").corruptions["fog"]["ce"] == pytest.approx(0.5)


def test_undefined_is_none_never_zero():
    e = errors_of({"gaussian_noise": (1.0, 1.0)}, {"gaussian_noise": (0.9, 0.9)})
    assert e.corruptions["gaussian_noise"]["ce"] is None and e.mce is None  # the baseline never moved
    no_identity = corruption_errors(run([cell("imagenet_c.fog", 1, 0.9)]), run([cell("imagenet_c.fog", 1, 0.8)]))
    assert no_identity.corruptions["fog"]["ce"] == pytest.approx(2.0) and no_identity.relative_mce is None
    assert corruption_errors(run([cell("gaussian_noise", 1, 0.9)]), run([cell("gaussian_noise", 1, 0.8)])) is None
    # a clean cell in one run only: the relative CE is undefined, the plain CE still stands
    for base, cand in ((["identity"], []), ([], ["identity"])):
        one_sided = corruption_errors(
            run([cell(a, 3, 1.0) for a in base] + [cell("imagenet_c.fog", 1, 0.9)]),
            run([cell(a, 3, 1.0) for a in cand] + [cell("imagenet_c.fog", 1, 0.8)]),
        )
        assert one_sided.corruptions["fog"]["relative_ce"] is None and one_sided.relative_mce is None
        assert one_sided.corruptions["fog"]["ce"] == pytest.approx(2.0)


def test_only_severities_both_runs_hold_are_compared():
    base = run([cell("imagenet_c.fog", 1, 0.9), cell("imagenet_c.fog", 5, 0.5)])
    cand = run([cell("imagenet_c.fog", 1, 0.8)])
    fog = corruption_errors(base, cand).corruptions["fog"]
    assert fog["severities"] == [1] and fog["ce"] == pytest.approx(2.0)


def test_the_clean_error_is_the_whole_sets_identity_cell_wherever_it_stands():
    """Identity listed last, after a corruption and an identity measured on a subset of the images:
    only the whole set's identity is the clean error."""
    subset = cell("identity", 3, 0.5)
    subset.subset = True
    cells = [cell("imagenet_c.fog", 1, 0.8), subset, cell("identity", 3, 0.99)]
    base = run(cells)
    cand = run([cell("imagenet_c.fog", 1, 0.9), cell("identity", 3, 0.98)])
    e = corruption_errors(base, cand, "cosine", "base.json")
    assert e.baseline_clean_error == pytest.approx(0.01) and e.clean_error == pytest.approx(0.02)
    assert e.corruptions["fog"]["relative_ce"] == pytest.approx((0.1 - 0.02) / (0.2 - 0.01))


def test_the_stored_record_names_every_field():
    e = errors_of({"gaussian_noise": (0.9, 0.7)}, {"gaussian_noise": (0.95, 0.85)}, clean=(0.98, 0.99))
    record = e.to_dict()
    assert list(record) == [
        "metric",
        "baseline",
        "mce",
        "relative_mce",
        "clean_error",
        "baseline_clean_error",
        "families",
        "corruptions",
    ]
    assert record["metric"] == "cosine" and record["baseline"] == "base.json"
    assert record["mce"] == e.mce and record["relative_mce"] == e.relative_mce
    assert record["clean_error"] == pytest.approx(0.01) and record["baseline_clean_error"] == pytest.approx(0.02)
    assert record["families"] == e.families and record["corruptions"] == e.corruptions
    assert (
        corruption_errors(run([cell("imagenet_c.fog", 1, 0.9)]), run([cell("imagenet_c.fog", 1, 0.8)])).to_dict()[
            "baseline"
        ]
        == "baseline"
    )


SUITE = """
[settings]
augmentations = [
    "identity", "imagenet_c.gaussian_noise", "imagenet_c.zoom_blur", "imagenet_c.fog", "imagenet_c.contrast",
]
severities = [1, 3]

[families.noise]
"cosine.mean" = ">= 0.5"
"""


def test_mce_in_the_json_terminal_and_report_of_a_compared_run(pytester, tiny_clip_dir, small_images):
    from pytest_clipshift.cli import main
    from tests.conftest import make_user_project

    project = make_user_project(pytester, tiny_clip_dir, small_images, SUITE, 2, "clipshift_no_cache = true\n")
    saved = project.runpytest("--clipshift", "--clipshift-budgets=budgets.toml", "--clipshift-save=base")
    saved.assert_outcomes(passed=10)
    saved.stdout.fnmatch_lines(
        ["ImageNet-C error (1 - cosine.mean) by family*s1*s3", "noise *", "blur *", "weather *", "digital *"]
    )
    same = project.runpytest(
        "--clipshift",
        "--clipshift-budgets=budgets.toml",
        "--clipshift-compare=base",
        "--clipshift-json=out.json",
        "--html=report.html",
        "--self-contained-html",
    )
    same.stdout.fnmatch_lines(
        [
            "ImageNet-C corruption error against *0001_base.json*",
            "*noise*mCE*100.0%*",
            "*mCE 100.0%, relative mCE 100.0%*",
        ]
    )
    ce = json.loads((project.path / "out.json").read_text())["extra"]["corruption_error"]
    assert ce["mce"] == pytest.approx(1.0) and set(ce["families"]) == {"noise", "blur", "weather", "digital"}
    page = (project.path / "report.html").read_text()
    assert "clipshift-imagenet-c" in page and "imagenet-c family curves" in page
    # the per-family budget judged the noise corruption (and only it)
    checks = json.loads((project.path / "out.json").read_text())["budgets"]
    assert {c["augmentation"] for c in checks} == {"imagenet_c.gaussian_noise"}
    base = project.path / ".clipshift" / "0001_base.json"
    assert main(["compare", str(base), str(project.path / "out.json")]) == 0
