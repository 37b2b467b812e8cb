"""Every file the package needs at run time is in the wheel and in the sdist.

Usage: python .ci/check_dist.py DIST_DIR. Compares the archives with the files git tracks under
pytest_clipshift/ (the demo model's weights, vocabulary and card, and every module), so a data file
added without its package-data line fails here, not on a user's machine.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path


def tracked() -> set[str]:
    out = subprocess.run(["git", "ls-files", "pytest_clipshift"], check=True, capture_output=True, text=True).stdout
    return {line for line in out.splitlines() if line and "__pycache__" not in line}


def main(dist: Path) -> int:
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        print(f"check_dist: expected one wheel and one sdist in {dist}, found {wheels + sdists}")
        return 1
    need = tracked()
    in_wheel = set(zipfile.ZipFile(wheels[0]).namelist())
    with tarfile.open(sdists[0]) as tar:
        in_sdist = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    missing = {"wheel": sorted(need - in_wheel), "sdist": sorted(need - in_sdist)}
    for archive, names in missing.items():
        for name in names:
            print(f"check_dist: {archive} lacks {name}")
    sizes = {p.name: p.stat().st_size for p in wheels + sdists}
    print(
        "check_dist: " + ", ".join(f"{n} {s / 1e6:.1f} MB" for n, s in sizes.items()) + f"; {len(need)} files checked"
    )
    return 1 if any(missing.values()) else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
