"""A progress line for measurements that take more than a few seconds: images done, images/s and
the time left. Silent with ``-q`` and in xdist workers (the controller shows their progress); on a
terminal a line every 5 s, in a plain log (CI) every 15 s, so logs stay short."""

from __future__ import annotations

import time
from collections.abc import Callable

QUIET_FOR = 3.0  # seconds before the first line: short runs print nothing


class ProgressLine:
    def __init__(
        self,
        write: Callable[[str], None],
        *,
        tty: bool,
        verbosity: int,
        what: str = "images",
        clock: Callable[[], float] = time.monotonic,
    ):
        self._write, self._clock, self._what = write, clock, what
        self.enabled = verbosity >= 0
        self.interval = 5.0 if tty else 15.0
        self.started = clock()
        self._last: float | None = None
        self.lines = 0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        now = self._clock()
        elapsed = now - self.started
        too_soon = elapsed < QUIET_FOR or (self._last is not None and now - self._last < self.interval)
        if too_soon and not (done >= total and self.lines):  # the last step always closes a started display
            return
        self._last = now
        rate = done / elapsed if elapsed > 0 else 0.0
        if done >= total:
            self._write(f"clipshift: {total} {self._what} in {elapsed:.0f} s ({rate:.0f} {self._what}/s)")
        else:
            left = (total - done) / rate if rate > 0 else float("inf")
            self._write(
                f"clipshift: {done}/{total} {self._what} ({100 * done / total:.0f}%), {rate:.0f} {self._what}/s, "
                f"about {left:.0f} s left"
            )
        self.lines += 1


def for_config(config) -> ProgressLine | None:
    """The run's progress line, or None where nothing may be printed (an xdist worker)."""
    if hasattr(config, "workerinput"):
        return None
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return None

    def write(line: str) -> None:
        reporter.ensure_newline()
        reporter.write_line(line)

    isatty = getattr(reporter, "isatty", False)  # an attribute in pytest 8, a method since pytest 9
    tty = bool(isatty() if callable(isatty) else isatty)
    return ProgressLine(write, tty=tty, verbosity=config.get_verbosity())
