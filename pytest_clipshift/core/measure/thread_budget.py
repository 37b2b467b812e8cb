"""How many threads this process may use: the ``CLIPSHIFT_THREADS`` budget an xdist controller
exports to its workers (``integration/threads.py``), or the user sets; None when there is none."""

from __future__ import annotations

import os

BUDGET_VAR = "CLIPSHIFT_THREADS"


def thread_budget() -> int | None:
    """This process's budget, when one was set (by the controller, or by the user)."""
    value = os.environ.get(BUDGET_VAR)
    return int(value) if value and value.isdigit() and int(value) > 0 else None
