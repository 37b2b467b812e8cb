"""clipshift compare lists failures first and can show only them."""

from __future__ import annotations

import numpy as np

pytest_plugins = ["pytester"]


def test_cli_compare_lists_failures_first_and_can_show_only_them(tmp_path, capsys):
    from pytest_clipshift.cli import main
    from pytest_clipshift.core.runs.results import RunResult, ShiftResult

    def write(name, noise, flip):
        cells = [
            ShiftResult(
                augmentation="gaussian_noise",
                severity=3,
                image_names=list("abcdefgh"),
                values={"cosine": np.full(8, noise)},
                seed=0,
            ),
            ShiftResult(
                augmentation="horizontal_flip",
                severity=3,
                image_names=list("abcdefgh"),
                values={"cosine": np.full(8, flip)},
                seed=0,
            ),
        ]
        return str(
            RunResult(
                model={"name": "m", "fingerprint": "f"},
                seed=0,
                image_names=list("abcdefgh"),
                image_hash="h",
                image_source="s",
                results=cells,
            ).write_json(tmp_path / name)
        )

    base, cand = write("base.json", 0.9, 0.95), write("cand.json", 0.9, 0.80)
    assert main(["compare", base, cand, "--fail", "cosine.mean:0.05", "--paired"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("horizontal_flip[s3] cosine.mean: 0.9500 -> 0.8000 (-0.1500)  significant  FAIL")
    assert out[1] == "gaussian_noise[s3] cosine.mean: 0.9000 -> 0.9000 (+0.0000)  not significant"
    assert main(["compare", base, cand, "--fail", "cosine.mean:0.05", "--regressions-only"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["horizontal_flip[s3] cosine.mean"]
