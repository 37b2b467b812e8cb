"""Every severity row of every built-in augmentation and ImageNet-C corruption, read against what a
user reads and what the field's reference code holds: the table of docs/augmentations.md for the
study's nine, the constants in Hendrycks' ``imagecorruptions`` source for the nineteen. A row copied from its
neighbour, a weakened row (15 degrees turned 1.5) or a shifted row fails here."""

from __future__ import annotations

import ast
import inspect
import re

import numpy as np
import pytest

from pytest_clipshift.core.augment.augmentations import registry
from pytest_clipshift.core.augment.imagenet_c import NAMES, PREFIX
from tests.readme_tables import readme_table

STUDY = (
    "gaussian_noise",
    "gaussian_blur",
    "color_jitter",
    "shift_scale_rotate",
    "horizontal_flip",
    "elastic",
    "perspective",
    "brightness_contrast",
    "coarse_dropout",
)


def numbers(value) -> list[float]:
    """The numbers of a parameter value, flattened in order (tuples of a range, scalars)."""
    if isinstance(value, dict):
        return [x for v in value.values() for x in numbers(v)]
    if isinstance(value, (tuple, list)):
        return [x for v in value for x in numbers(v)]
    if isinstance(value, bool):
        return [float(value)]
    return [float(value)] if isinstance(value, (int, float)) else []


def readme_rows() -> dict[str, list[list[float]]]:
    """The augmentation table of docs/augmentations.md: per augmentation, the numbers in each of s1-s5."""
    rows = {}
    for cells in readme_table("| augmentation | s1 | s2 | s3 | s4 | s5 | paper |"):
        name = cells[0].split()[0]
        # ".05" and "0.02-0.04" both read as numbers; the header's "16 px at 224" is not a cell
        rows[name] = [[float(x) for x in re.findall(r"\d*\.?\d+", cell)] for cell in cells[1:6]]
    return rows


def test_the_readme_table_names_the_study_augmentations():
    assert sorted(readme_rows()) == sorted(STUDY)


@pytest.mark.parametrize("name", STUDY)
def test_each_severity_row_is_the_one_the_readme_documents(name):
    documented = readme_rows()[name]
    aug = registry()[name]
    for severity in range(1, 6):
        params = aug.parameters(severity)
        if name == "coarse_dropout":  # the cell holds the hole counts; the size is the header's 16 px at 224
            assert params["size"] == pytest.approx(16 / 224)
            params = {"holes": params["holes"]}
        assert numbers(params) == pytest.approx(documented[severity - 1]), (name, severity, params)


def reference_rows(name: str) -> list[list[float]]:
    """The five parameter rows in ``imagecorruptions``' source of corruption ``name``: its first
    list literal indexed by ``[severity - 1]``, with ``np.arange(a, b, c)`` read as (a, b, c)."""
    import imagecorruptions.corruptions as reference

    source = inspect.getsource(getattr(reference, name))
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.List)
            and "severity" in ast.unparse(node.slice)
        ):
            namespace = {"np": type("np", (), {"arange": staticmethod(lambda *a: a)})}
            return [numbers(eval(compile(ast.Expression(e), name, "eval"), namespace)) for e in node.value.elts]
    raise AssertionError(f"no severity table in imagecorruptions.{name}")


@pytest.mark.parametrize("name", NAMES)
def test_each_imagenet_c_row_is_hendrycks_own(name):
    pytest.importorskip("imagecorruptions")
    ours = [numbers(registry()[PREFIX + name].parameters(s)) for s in range(1, 6)]
    theirs = reference_rows(name)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, err_msg=name)
