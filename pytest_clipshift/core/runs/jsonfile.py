"""Reading and writing files safely: the one place results, saved runs, baselines and cache entries touch disk.

A write goes to a uniquely named temporary file beside the target, then is renamed into place (or,
for a new numbered run, hard-linked, which fails if the name was taken meanwhile): a reader never
sees half a file, two writers never share a temporary name, and no temporary file survives a
failure. A read refuses bytes that are not UTF-8 and the non-JSON constants NaN and Infinity.
"""

from __future__ import annotations

import functools
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from ..errors import ConfigError


class OutputError(ConfigError):
    """A file clipshift must write cannot be written; the message names the path and the cause."""


def _describe(exc: OSError) -> str:
    return exc.strerror or str(exc)


def write_json_atomic(
    path: str | os.PathLike, data: Any, *, exclusive: bool = False, what: str = "results file"
) -> Path:
    """Write ``data`` as JSON to ``path`` atomically. ``exclusive``: fail with ``FileExistsError``
    when ``path`` exists (used to claim the next run number). Errors are ``OutputError``."""
    text = json.dumps(data, indent=1, allow_nan=False) + "\n"
    return write_bytes_atomic(path, text.encode("utf-8"), exclusive=exclusive, what=what)


@functools.lru_cache(maxsize=1)
def _file_mode() -> int:
    """The mode a plain ``open()`` would give a new file under this process's umask (mkstemp's 0600
    would hide a baseline from a CI step running as another user)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def write_bytes_atomic(path: str | os.PathLike, data: bytes, *, exclusive: bool = False, what: str = "file") -> Path:
    """Write ``data`` to ``path`` atomically (results, saved runs, baselines, cache entries).
    ``exclusive``: fail with ``FileExistsError`` when ``path`` exists. Errors are ``OutputError``
    naming ``what`` and the path."""
    path = Path(path)
    try:
        is_dir = path.is_dir()
    except OSError as exc:  # a name the file system refuses (too long, say)
        raise OutputError(f"cannot write the {what} {path}: {_describe(exc)}") from None
    if is_dir:
        raise OutputError(f"cannot write the {what} {path}: it is a directory; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write the {what} {path}: its folder cannot be created ({_describe(exc)})") from None
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), _file_mode())
        if exclusive:
            os.link(tmp, path)  # atomic and exclusive: raises FileExistsError when the name is taken
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
        tmp = None
    except FileExistsError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write the {what} {path}: {_describe(exc)}") from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return path


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON (numbers must be finite)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: json reads it as infinity, which no clipshift number can be
        raise ValueError(f"{text} is out of range (numbers must be finite)")
    return value


def read_json(path: str | os.PathLike, what: str = "results file") -> Any:
    """Parse a JSON file; a missing, unreadable, non-UTF-8 or malformed file is a ``ConfigError``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} {path} does not exist")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); is it really a clipshift {what}?") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({_describe(exc)})") from None
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except (json.JSONDecodeError, ValueError) as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a clipshift {what}") from None
