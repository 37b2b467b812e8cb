"""Skip the whole suite, with instructions, when the study's checkpoint is not on this machine."""

import pytest

from pytest_clipshift import checkpoint_problem


def pytest_collection_modifyitems(config, items):
    if not (config.getoption("clipshift") or config.getini("clipshift")):
        return
    model = config.getoption("clipshift_model") or config.getini("clipshift_model")
    problem = checkpoint_problem(model)
    if problem is None:
        return
    skip = pytest.mark.skip(
        reason=f"the study's checkpoint is not available here ({problem.splitlines()[0]}). On a machine with network "
        "run `huggingface-cli download openai/clip-vit-base-patch32` and copy ~/.cache/huggingface here, or pass "
        "--clipshift-model=DIR for a local copy; --clipshift-model=demo shows the suite's output with the demo model."
    )
    for item in items:
        item.add_marker(skip)
