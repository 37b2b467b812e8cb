"""Saved runs, in the manner of pytest-benchmark: ``<storage>/NNNN_<name>.json``."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .errors import ConfigError

_NAME = re.compile(r"^(\d{4})_(.+)\.json$")


def check_run_name(name: str, option: str = "--clipshift-save") -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        raise ConfigError(f"{option} = {name!r}: a name may hold letters, digits, '.', '_' and '-' only")
    return name


class Storage:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def runs(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if _NAME.match(p.name))

    def save(self, data: dict, name: str) -> Path:
        check_run_name(name)
        self.root.mkdir(parents=True, exist_ok=True)
        runs = self.runs()
        number = int(_NAME.match(runs[-1].name).group(1)) + 1 if runs else 1
        path = self.root / f"{number:04d}_{name}.json"
        write_json_atomic(path, data)
        return path

    def find(self, spec: str | None) -> Path:
        """``None``/``"latest"``: the newest saved run; a path to a file; or the newest run saved as NAME."""
        runs = self.runs()
        if spec in (None, "", "latest"):
            if not runs:
                raise ConfigError(f"--clipshift-compare: no saved runs in {self.root}; save one first with --clipshift-save NAME")
            return runs[-1]
        path = Path(spec)
        if path.suffix == ".json" or path.is_file():
            if not path.is_file():
                raise ConfigError(f"--clipshift-compare: results file {path} does not exist")
            return path
        named = [p for p in runs if _NAME.match(p.name).group(2) == spec]
        if not named:
            have = sorted({_NAME.match(p.name).group(2) for p in runs})
            raise ConfigError(f"--clipshift-compare {spec!r}: no run saved under that name in {self.root}; saved: {', '.join(have) or 'none'}")
        return named[-1]


def write_json_atomic(path: Path, data: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
