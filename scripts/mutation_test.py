"""Mutation testing of the code that decides a verdict: ``python scripts/mutation_test.py``.

Runs mutmut (``pip install mutmut``) over the gating modules named in ``[tool.mutmut]`` of
pyproject.toml (budgets, compare, summary, storage) against the fast known-answer tests in
``tests/gate/``, then writes ``docs/mutation-results.md``: the score per module and every mutant
that survived, with its diff. Not run in CI: it takes about 10 minutes on 2 cores.
"""

from __future__ import annotations

import collections
import platform
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "mutation-results.md"


def mutmut(*args: str, check: bool = True) -> str:
    done = subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=ROOT, capture_output=True, text=True)
    if check and done.returncode not in (0, 1):
        sys.exit(f"mutmut {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout


def main() -> None:
    if "--reuse" not in sys.argv:
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)
        mutmut("run", "--max-children", "2")
    rows = [line.strip().rsplit(": ", 1) for line in mutmut("results", "--all", "true").splitlines() if ": " in line]
    per_module: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    survivors = []
    for name, status in rows:
        module = name.split(".x")[0]
        per_module[module][status] += 1
        if status != "killed":
            survivors.append((name, status))
    total = collections.Counter()
    for counts in per_module.values():
        total.update(counts)
    lines = [
        "# Mutation testing of the gating core",
        "",
        f"`python scripts/mutation_test.py` (mutmut, tests in `tests/gate/`), "
        f"{datetime.now(timezone.utc):%Y-%m-%d}, {platform.machine()}, Python {platform.python_version()}.",
        "",
        "A mutant is one small change to the code (an operator flipped, a constant changed, a string "
        "altered, an argument dropped); it is killed when some test fails on it. 'no tests' means no "
        "test in `tests/gate/` reaches the mutated function.",
        "",
        "| module | mutants | killed | survived | no tests | score |",
        "|---|---|---|---|---|---|",
    ]
    for module, counts in sorted(per_module.items()) + [("all", total)]:
        n = sum(counts.values())
        lines.append(f"| {module} | {n} | {counts['killed']} | {counts['survived']} | {counts['no tests']} | "
                     f"{counts['killed'] / max(n, 1):.1%} |")
    lines += ["", "## Survivors", ""]
    for name, status in survivors:
        diff = [x for x in mutmut("show", name, check=False).splitlines() if x.startswith(("-", "+")) and not x.startswith(("---", "+++"))]
        lines += [f"- `{name}` ({status})", "  ```diff", *("  " + x for x in diff), "  ```"]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{total['killed']} of {sum(total.values())} mutants killed; written to {OUT}")


if __name__ == "__main__":
    main()
