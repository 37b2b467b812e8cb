"""Ini values the plugin parses itself: a value that is not what its type says, and a key that is
no option, stop the run at start-up (exit 4) naming the key, on every pytest version the bounds
allow, in every kind of file pytest reads."""

from __future__ import annotations

import pytest

from pytest_clipshift.core.errors import ConfigError
from pytest_clipshift.integration.inifile import IniValue, parse_args, parse_bool, parse_int, read_table
from tests.conftest import make_user_project

pytest_plugins = ["pytester"]

PYTEST_9 = int(pytest.__version__.split(".")[0]) >= 9
SUITE = """
[settings]
augmentations = ["identity"]
severities = [1]

[defaults]
"cosine.mean" = ">= 0.1"
"""


@pytest.fixture
def project(pytester, tiny_clip_dir, small_images):
    return make_user_project(pytester, tiny_clip_dir, small_images, SUITE, 2, "clipshift_no_cache = true\n")


def add_ini_lines(project, lines: str) -> None:
    ini = project.path / "tox.ini"  # what pytester.makeini writes
    ini.write_text(ini.read_text().rstrip("\n") + "\n" + lines)


def usage_error(result) -> str:
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    assert "Traceback" not in result.stderr.str()
    return result.stderr.str()


@pytest.mark.parametrize(
    "filename,text",
    [
        ("pytest.ini", "[pytest]\nclipshift = maybe\n"),
        ("tox.ini", "[pytest]\nclipshift = maybe\n"),
        ("setup.cfg", "[tool:pytest]\nclipshift = maybe\n"),
        ("pyproject.toml", '[tool.pytest.ini_options]\nclipshift = "maybe"\n'),
    ],
)
def test_a_truth_value_that_is_none_names_the_option_and_the_value(pytester, filename, text):
    (pytester.path / filename).write_text(text)
    err = usage_error(pytester.runpytest())
    assert "ini option clipshift = 'maybe'" in err and "not a truth value; write true or false" in err
    assert filename in err


@pytest.mark.skipif(not PYTEST_9, reason="pytest 9 reads native TOML tables ([tool.pytest], pytest.toml)")
def test_native_toml_values_are_parsed_and_checked_too(pytester):
    (pytester.path / "pytest.toml").write_text('[pytest]\nclipshift = "maybe"\n')
    err = usage_error(pytester.runpytest())
    assert "ini option clipshift = 'maybe'" in err
    (pytester.path / "pytest.toml").write_text("[pytest]\nclipshift_max_images = true\n")
    err = usage_error(pytester.runpytest("--clipshift"))
    assert "ini option clipshift_max_images = True" in err and "not a whole number" in err


@pytest.mark.skipif(not PYTEST_9, reason="pytest 9 reads native TOML tables ([tool.pytest], pytest.toml)")
def test_native_toml_values_of_the_right_type_run(project, tiny_clip_dir):
    (project.path / "tox.ini").unlink()  # pytester.makeini writes tox.ini
    (project.path / "pytest.toml").write_text(
        f"[pytest]\nclipshift = true\nclipshift_model = '{tiny_clip_dir}'\nclipshift_images = 'images'\n"
        "clipshift_device = 'cpu'\nclipshift_no_cache = true\nclipshift_budgets = 'budgets.toml'\n"
        "clipshift_max_images = 2\nclipshift_seed = 3\n"
    )
    result = project.runpytest()
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=1)


def test_a_whole_number_that_is_not_names_the_option_and_the_value(project):
    add_ini_lines(project, "clipshift_max_images = lots\n")
    err = usage_error(project.runpytest("--clipshift"))
    assert "ini option clipshift_max_images = 'lots'" in err and "not a whole number" in err


def test_a_misspelled_key_is_a_usage_error_naming_the_closest_option(project):
    add_ini_lines(project, "clipshift_modle = ./candidate\n")
    err = usage_error(project.runpytest("--clipshift"))
    assert "ini option clipshift_modle" in err and "did you mean clipshift_model?" in err
    err = usage_error(project.runpytest())  # also when the gate is off: the key still means nothing
    assert "did you mean clipshift_model?" in err


def test_a_misspelled_override_is_a_usage_error_too(project):
    err = usage_error(project.runpytest("--clipshift", "-o", "clipshift_sead=3"))
    assert "ini option clipshift_sead (-o)" in err and "did you mean clipshift_seed?" in err


def test_a_misspelled_key_in_pyproject_ini_options_is_named(pytester):
    (pytester.path / "pyproject.toml").write_text('[tool.pytest.ini_options]\nclipshift_budget = "b.toml"\n')
    err = usage_error(pytester.runpytest())
    assert "ini option clipshift_budget" in err and "did you mean clipshift_budgets?" in err


@pytest.mark.parametrize(
    "text,message",
    [
        ("[tool]\nclipshift = 5\n", "tool.clipshift = 5 must be a table"),
        ('[tool.clipshift]\nmodel = "demo"\n', "[tool.clipshift] has unknown key 'model'"),
        ('[tool.clipshift.budget]\n"cosine.mean" = ">= 0.9"\n', "did you mean [tool.clipshift.budgets]?"),
    ],
)
def test_a_tool_clipshift_table_that_is_wrong_is_a_usage_error(pytester, text, message):
    (pytester.path / "pyproject.toml").write_text(text)
    err = usage_error(pytester.runpytest())
    assert message in err


def test_the_right_values_still_run(project):
    add_ini_lines(project, "clipshift = yes\nclipshift_budgets = budgets.toml\nclipshift_max_images = 2\n")
    result = project.runpytest()
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=1)


# ------------------------------------------------------------------ the parsers, on their own


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("true", True),
        ("Yes", True),
        ("1", True),
        (" on ", True),
        (True, True),
        ("false", False),
        ("NO", False),
        ("0", False),
        ("off", False),
        (False, False),
    ],
)
def test_truth_values(raw, expected):
    assert parse_bool(IniValue(raw, "f"), "x") is expected


@pytest.mark.parametrize("raw", ["maybe", "", "2", 1, ["true"]])
def test_not_truth_values(raw):
    with pytest.raises(ConfigError, match="not a truth value"):
        parse_bool(IniValue(raw, "f"), "x")


def test_whole_numbers_and_lists():
    assert parse_int(IniValue(" 16 ", "f"), "x") == 16 and parse_int(IniValue(7, "f"), "x") == 7
    for bad in ("1.5", "lots", True, 2.0):
        with pytest.raises(ConfigError, match="not a whole number"):
            parse_int(IniValue(bad, "f"), "x")
    assert parse_args(IniValue("flip 'gaussian_noise'", "f"), "x") == ["flip", "gaussian_noise"]
    assert parse_args(IniValue(["flip", "identity"], "f"), "x") == ["flip", "identity"]
    with pytest.raises(ConfigError, match="No closing quotation"):
        parse_args(IniValue("flip 'identity", "f"), "x")
    with pytest.raises(ConfigError, match="list of strings"):
        parse_args(IniValue([1, 2], "f"), "x")


def test_each_file_kind_is_read_with_pytests_rules(tmp_path):
    (tmp_path / "setup.cfg").write_text("[pytest]\nclipshift = 1\n[tool:pytest]\nclipshift = yes\n")
    assert read_table(tmp_path / "setup.cfg") == {"clipshift": "yes"}
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nclipshift = true\nclipshift_seed = 3\nclipshift_metrics = ["cosine"]\n'
    )
    assert read_table(tmp_path / "pyproject.toml") == {
        "clipshift": "True",
        "clipshift_seed": "3",
        "clipshift_metrics": ["cosine"],
    }
    (tmp_path / "pytest.ini").write_text("[pytest]\nclipshift_augmentations =\n    flip\n    identity\n")
    assert read_table(tmp_path / "pytest.ini") == {"clipshift_augmentations": "flip\nidentity"}
    (tmp_path / "pytest.toml").write_text("[pytest]\nclipshift = true\n")
    assert read_table(tmp_path / "pytest.toml") == {"clipshift": True}


@pytest.mark.parametrize(
    "settings,message",
    [
        ("metrics = 5", "settings.metrics = 5 must be a list of metric names"),
        ("metrics = [1]", "settings.metrics = [1] must be a list of metric names"),
        ("augmentations = []", "settings.augmentations = [] must be a non-empty list of names"),
    ],
)
def test_budgets_settings_of_the_wrong_shape_are_usage_errors(project, settings, message):
    (project.path / "budgets.toml").write_text(f'[settings]\n{settings}\n\n[defaults]\n"cosine.mean" = ">= 0.1"\n')
    err = usage_error(project.runpytest("--clipshift", "--clipshift-budgets=budgets.toml"))
    assert message in err


def test_a_model_directory_that_is_a_symlink_loop_is_one_clear_error(project):
    loop = project.path / "loop"
    loop.symlink_to(project.path / "loop")
    result = project.runpytest("--clipshift", "--clipshift-budgets=budgets.toml", "--clipshift-model=loop")
    text = output = result.stdout.str() + result.stderr.str()
    assert result.ret != 0 and "cannot be followed" in text
    assert output.count("Traceback") == 0 and len(text.splitlines()) < 200
