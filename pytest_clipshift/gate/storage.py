"""Saved runs, in the manner of pytest-benchmark: ``<storage>/NNNN_<name>.json``."""

from __future__ import annotations

import re
from pathlib import Path

from ..core.errors import ConfigError
from ..core.runs.jsonfile import OutputError, write_json_atomic

_NAME = re.compile(r"^(\d{4})_(.+)\.json$")


def check_run_name(name: str, option: str = "--clipshift-save") -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        raise ConfigError(f"{option} = {name!r}: a name may hold letters, digits, '.', '_' and '-' only")
    return name


class Storage:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def runs(self) -> list[Path]:
        if self.root.exists() and not self.root.is_dir():
            raise OutputError(
                f"storage folder {self.root} is a file, not a folder; point --clipshift-storage at a folder"
            )
        if not self.root.is_dir():
            return []
        return sorted(p for p in self.root.iterdir() if _NAME.match(p.name))

    def save(self, data: dict, name: str) -> Path:
        """Save as the next ``NNNN_name.json``. Concurrent saves each get their own number: the name is
        claimed atomically (a taken number makes the next one be tried), never overwritten."""
        check_run_name(name)
        for _attempt in range(1000):
            runs = self.runs()
            number = int(_NAME.match(runs[-1].name).group(1)) + 1 if runs else 1
            path = self.root / f"{number:04d}_{name}.json"
            try:
                return write_json_atomic(path, data, exclusive=True, what="saved run")
            except FileExistsError:
                continue
        raise OutputError(f"cannot save into {self.root}: no free run number after 1000 attempts")

    def find(self, spec: str | None) -> Path:
        """``None``/``"latest"``: the newest saved run; a path to a file; or the newest run saved as NAME."""
        runs = self.runs()
        if spec in (None, "", "latest"):
            if not runs:
                raise ConfigError(
                    f"--clipshift-compare: no saved runs in {self.root}; save one first with --clipshift-save NAME"
                )
            return runs[-1]
        path = Path(spec)
        if path.suffix == ".json" or path.is_file():
            if not path.is_file():
                raise ConfigError(f"--clipshift-compare: results file {path} does not exist")
            return path
        named = [p for p in runs if _NAME.match(p.name).group(2) == spec]
        if not named:
            have = sorted({_NAME.match(p.name).group(2) for p in runs})
            raise ConfigError(
                f"--clipshift-compare {spec!r}: no run saved under that name in {self.root}; saved: "
                f"{', '.join(have) or 'none'}"
            )
        return named[-1]
