"""The pytest plugin that gives each mutated module its own tests (``scripts/mutation_test.py``).

mutmut runs, for each mutant, every selected test that reached the mutated function. The engine,
the summary and the preprocessing are reached by nearly every test, so one surviving mutant there
cost minutes. Here each module is tested by the tests written for its job (``SELECTION``), the
fastest file first (a file's tests stay together, so its fixtures are built once), so a killed
mutant stops at an early failure. Outside a mutant's run (mutmut's stats, clean and forced-fail
runs) nothing is deselected; a mutant none of whose tests is selected counts as "no tests".
"""

from __future__ import annotations

import collections
import json
import os
from pathlib import Path

import pytest

MEASURE = "tests/core/measure/"
# module -> the test paths that test it (its job's folder, and the files elsewhere written for it);
# a module not named keeps every test that reaches it
SELECTION = {
    "pytest_clipshift.gate.": ("tests/gate/", "tests/core/runs/test_hostile_files.py"),
    "pytest_clipshift.core.runs.": ("tests/core/runs/", "tests/gate/"),
    "pytest_clipshift.core.measure.": ("tests/core/measure/",),
    "pytest_clipshift.core.measure.cache": ("tests/core/measure/", "tests/core/runs/test_hostile_files.py"),
    "pytest_clipshift.core.measure.augmenting": (
        MEASURE,
        "tests/core/augment/test_augment_torch.py",
        "tests/core/augment/test_adversarial.py",
    ),
    "pytest_clipshift.core.measure.plan": (MEASURE, "tests/core/augment/test_adversarial.py"),
    "pytest_clipshift.core.augment.": ("tests/core/augment/",),
    "pytest_clipshift.core.augment.augmentations": ("tests/core/augment/", f"{MEASURE}test_chunks_and_seeds.py"),
    "pytest_clipshift.core.metrics.": ("tests/core/metrics/",),
    "pytest_clipshift.core.metrics.functional": ("tests/core/metrics/", "tests/gate/test_paired_compare.py"),
    "pytest_clipshift.core.data.": ("tests/core/data/", "tests/gate/test_gate_numbers.py"),
    "pytest_clipshift.core.models.": ("tests/core/models/", f"{MEASURE}test_cache_keys_and_canvas.py"),
    "pytest_clipshift.report.": ("tests/report/", "tests/core/runs/test_hostile_files.py"),
}


def tests_for(mutant: str) -> tuple[str, ...] | None:
    """The test paths for a mutant's module (the longest prefix that names it), or None for all."""
    module = mutant.split(".x")[0]
    prefixes = [p for p in SELECTION if module.startswith(p)]
    return SELECTION[max(prefixes, key=len)] if prefixes else None


def durations() -> dict[str, float]:
    try:
        return json.loads(Path("mutmut-stats.json").read_text())["duration_by_test"]
    except (OSError, ValueError, KeyError):
        return {}


def rebuild_registries() -> None:
    """mutmut's fork server collects the tests once, before any mutant is switched on, and collecting
    builds the augmentation registry (test modules list its names): a mutant in the functions that
    build it (the study's severity tables) would never take effect. Emptied here, in the mutant's own
    process, the registry is built again on first use, under the mutant."""
    from pytest_clipshift.core.augment import augmentations

    augmentations._REGISTRY.clear()
    augmentations._PROBES.clear()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mutant = os.environ.get("MUTANT_UNDER_TEST", "")
    if "__mutmut_" not in mutant:
        return
    rebuild_registries()
    paths = tests_for(mutant)
    if paths is not None:
        dropped = [item for item in items if not item.nodeid.startswith(paths)]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [item for item in items if item.nodeid.startswith(paths)]
    took = durations()
    per_file: dict[str, float] = collections.Counter()
    for item in items:
        per_file[item.path] += took.get(item.nodeid, 0.0)
    items.sort(key=lambda item: per_file[item.path])  # stable: a file keeps its own order
