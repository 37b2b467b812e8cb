"""Thread budgets: under xdist, the machine's cores are divided among the workers.

Each worker otherwise starts torch, BLAS and OpenCV with one thread per core, and N workers on N
cores run N x N threads that fight (``-n 2`` on 2 cores was 2.3x slower than one process). The
controller exports the budget (cores // workers, at least 1) in the environment the workers
inherit, before they start; a worker applies it to torch and OpenCV when it loads the model. A
variable the user set is never overridden.
"""

from __future__ import annotations

import os

from ..core.measure.thread_budget import BUDGET_VAR, thread_budget

NATIVE_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def worker_count(config) -> int:
    """How many xdist workers this run starts (0: none)."""
    n = getattr(config.option, "numprocesses", None)
    if getattr(config.option, "dist", "no") == "no" or not n:
        return 0
    if isinstance(n, str):  # "auto" / "logical" before xdist resolves it
        return os.cpu_count() or 1
    return int(n)


def share_cores(config) -> list[str]:
    """On the controller: export each worker's thread budget (cores // workers); returns the
    variables it set, which ``restore`` removes again at the end of the session."""
    if hasattr(config, "workerinput") or worker_count(config) < 1:
        return []
    budget = str(max(1, (os.cpu_count() or 1) // worker_count(config)))
    exported = []
    for var in (BUDGET_VAR, *NATIVE_VARS):
        if var not in os.environ:
            os.environ[var] = os.environ.get(BUDGET_VAR, budget)
            exported.append(var)
    return exported


def restore(exported: list[str]) -> None:
    for var in exported:
        os.environ.pop(var, None)


def apply_budget() -> int | None:
    """In a worker: hold torch and OpenCV to the budget (called when the model is loaded)."""
    budget = thread_budget()
    if budget is None:
        return None
    import torch

    torch.set_num_threads(budget)
    try:
        import cv2

        cv2.setNumThreads(budget)
    except ImportError:  # pragma: no cover - OpenCV comes with albumentations
        pass
    return budget
