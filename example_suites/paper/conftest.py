"""Skip the whole suite, with instructions, when the study's checkpoint is not on this machine."""

import pytest

from pytest_clipshift.core.errors import ModelLoadError


@pytest.fixture(scope="session", autouse=True)
def study_model(request):
    if not request.config.getoption("clipshift") and not request.config.getini("clipshift"):
        return None
    session = request.getfixturevalue("clipshift_session")
    try:
        return session.encoder
    except ModelLoadError as exc:
        pytest.skip(
            f"the study's checkpoint is not available here ({str(exc).splitlines()[0]}). On a machine with network "
            "run `huggingface-cli download openai/clip-vit-base-patch32` and copy ~/.cache/huggingface here, or pass "
            "--clipshift-model=DIR for a local copy; --clipshift-model=demo shows the suite's output with the demo "
            "model."
        )
