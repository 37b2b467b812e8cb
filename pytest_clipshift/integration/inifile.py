"""The raw ``clipshift*`` values of pytest's ini file, read by us rather than through ``getini``.

pytest's own coercion of typed ini values differs between the versions our bounds allow (9.2 turns
``clipshift = maybe`` into a bare ``invalid truth value 'maybe'`` usage error that names no option),
and it never tells a plugin about keys nobody registered (``clipshift_modle`` is only a warning,
and the run goes on with the demo model). So the plugin reads the file pytest chose
(``config.inipath``) with the same rules pytest applies to each kind of file, adds the ``-o``
overrides, and parses every value itself (``config.py``). Nothing heavy is imported here.
"""

from __future__ import annotations

import difflib
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..core.errors import ConfigError

PREFIX = "clipshift"
_VALUES = pytest.StashKey[dict]()  # ini_values, read once per run
TRUE_WORDS = ("true", "yes", "on", "1", "y", "t")
FALSE_WORDS = ("false", "no", "off", "0", "n", "f")


@dataclass(frozen=True)
class IniValue:
    """One ini value as written: ``str``/``list[str]`` from ini-style files (and
    ``[tool.pytest.ini_options]``), a native value from pytest 9's TOML tables."""

    raw: object
    where: str  # the file, or "-o" for a command-line override


def _toml(path: Path) -> dict:
    from ..gate.budgets import read_toml

    try:
        return read_toml(path, "pytest configuration file")
    except ConfigError:
        return {}  # pytest itself reports a file it cannot read; we have nothing to add


def _ini_section(path: Path, sections: tuple[str, ...]) -> dict[str, object]:
    import iniconfig  # pytest's own ini parser: the same continuation-line and comment rules

    try:
        parsed = iniconfig.IniConfig(str(path))
    except (OSError, iniconfig.ParseError):
        return {}
    for name in sections:
        if name in parsed:
            return dict(parsed[name].items())
    return {}


def _from_tool_pytest(document: dict) -> dict[str, object]:
    tool = document.get("tool")
    table = tool.get("pytest") if isinstance(tool, dict) else None
    if not isinstance(table, dict):
        return {}
    native = {k: v for k, v in table.items() if k != "ini_options"}
    if native:
        return native  # pytest 9's [tool.pytest]: native TOML types
    ini_options = table.get("ini_options")
    if not isinstance(ini_options, dict):
        return {}
    # [tool.pytest.ini_options]: pytest turns every scalar into text, lists stay lists
    return {k: v if isinstance(v, list) else str(v) for k, v in ini_options.items()}


def read_table(path: Path) -> dict[str, object]:
    """Every key of the pytest table in ``path``, with pytest's rules for that kind of file."""
    name, suffix = path.name, path.suffix
    if name in ("pytest.toml", ".pytest.toml"):
        table = _toml(path).get("pytest")
        return dict(table) if isinstance(table, dict) else {}
    if name == "pyproject.toml":
        return _from_tool_pytest(_toml(path))
    if name == "setup.cfg" or (suffix == ".cfg" and name != "tox.ini"):
        return _ini_section(path, ("tool:pytest",))
    if suffix == ".toml":  # a custom file given with -c
        document = _toml(path)
        table = document.get("pytest")
        return dict(table) if isinstance(table, dict) else _from_tool_pytest(document)
    return _ini_section(path, ("pytest",))


def ini_values(config) -> dict[str, IniValue]:
    """The ``clipshift*`` keys of the chosen ini file, then the ``-o`` overrides on top; read once."""
    if _VALUES not in config.stash:
        config.stash[_VALUES] = _read_values(config)
    return config.stash[_VALUES]


def _read_values(config) -> dict[str, IniValue]:
    values: dict[str, IniValue] = {}
    if config.inipath is not None:
        path = Path(config.inipath)
        for key, raw in read_table(path).items():
            if key.lower().startswith(PREFIX):
                values[key] = IniValue(raw, str(path))
    for override in config.getoption("override_ini", None) or []:
        key, sep, raw = str(override).partition("=")
        if sep and key.strip().lower().startswith(PREFIX):
            values[key.strip()] = IniValue(raw, "-o")
    return values


def check_keys(values: dict[str, IniValue], known: list[str]) -> None:
    """A ``clipshift*`` key that is no option is a usage error naming the closest option."""
    for key, value in values.items():
        if key in known:
            continue
        close = difflib.get_close_matches(key.lower().replace("-", "_"), known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else "see pytest --help, section clipshift"
        raise ConfigError(
            f"ini option {key} ({value.where}) is not a clipshift option; {hint} "
            "(without this check the run would go on with the option's default)"
        )


def pyproject_files(config) -> list[Path]:
    """The pyproject.toml files whose ``[tool.clipshift]`` counts: beside the ini file, then in the rootdir."""
    bases = ([Path(config.inipath).parent] if config.inipath is not None else []) + [Path(config.rootpath)]
    return [path for path in dict.fromkeys(base / "pyproject.toml" for base in bases) if path.is_file()]


def check_tool_table(config) -> None:
    """``[tool.clipshift]`` in the pyproject.toml pytest may read holds only ``budgets``."""
    for path in pyproject_files(config):
        tool = _toml(path).get("tool")
        if not isinstance(tool, dict) or "clipshift" not in tool:
            continue
        table = tool["clipshift"]
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: tool.clipshift = {table!r} must be a table, e.g. [tool.clipshift.budgets]")
        for key in table:
            if key != "budgets":
                close = difflib.get_close_matches(key, ["budgets"], n=1, cutoff=0.6)
                hint = (
                    "did you mean [tool.clipshift.budgets]?"
                    if close
                    else (
                        "it holds only [tool.clipshift.budgets]; options go in [tool.pytest.ini_options] "
                        f"as clipshift_{key}"
                    )
                )
                raise ConfigError(f"{path}: [tool.clipshift] has unknown key {key!r}; {hint}")


# ------------------------------------------------------------------ typed parsing: (value, label) -> typed value


def _shown(value: IniValue) -> str:
    return f"{value.raw!r} ({value.where})"


def parse_bool(value: IniValue, label: str) -> bool:
    raw = value.raw
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in TRUE_WORDS + FALSE_WORDS:
        return raw.strip().lower() in TRUE_WORDS
    raise ConfigError(f"{label} = {_shown(value)}: not a truth value; write true or false")


def parse_int(value: IniValue, label: str) -> int:
    raw = value.raw
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        try:
            return int(raw.strip())
        except ValueError:
            pass
    raise ConfigError(f"{label} = {_shown(value)}: not a whole number; write digits, e.g. 16")


def parse_args(value: IniValue, label: str) -> list[str]:
    raw = value.raw
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return list(raw)
    if isinstance(raw, str):
        try:
            return shlex.split(raw)
        except ValueError as exc:
            raise ConfigError(f"{label} = {_shown(value)}: {exc}; separate the values by spaces") from None
    raise ConfigError(f"{label} = {_shown(value)}: write the values separated by spaces, or as a list of strings")


def parse_string(value: IniValue, label: str) -> str:
    raw = value.raw
    if isinstance(raw, str):
        return raw
    raise ConfigError(f"{label} = {_shown(value)}: write it as text (in quotes in a TOML file)")


PARSERS = {"bool": parse_bool, "int": parse_int, "args": parse_args, "string": parse_string}
