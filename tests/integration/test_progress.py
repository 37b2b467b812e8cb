"""The progress line: quiet for short runs and with -q, sparse in plain logs."""

from __future__ import annotations

from pytest_clipshift.integration.progress import ProgressLine


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def run_through(line: ProgressLine, clock: Clock, steps: int, seconds_per_step: float, total: int = 1000):
    for k in range(1, steps + 1):
        clock.now += seconds_per_step
        line(k * total // steps, total)


def test_a_short_run_prints_nothing():
    out, clock = [], Clock()
    line = ProgressLine(out.append, tty=True, verbosity=0, clock=clock)
    run_through(line, clock, 10, 0.2)  # 2 s in all
    assert out == []


def test_a_long_run_reports_rate_and_time_left_then_the_total():
    out, clock = [], Clock()
    line = ProgressLine(out.append, tty=True, verbosity=0, clock=clock)
    run_through(line, clock, 100, 0.5)  # 50 s, 1000 images: 20 images/s
    assert 8 <= len(out) <= 11  # one line per 5 s, the first after 3 s, and the closing one
    assert out[0] == "clipshift: 60/1000 images (6%), 20 images/s, about 47 s left"  # first line after 3 s
    assert out[-1] == "clipshift: 1000 images in 50 s (20 images/s)"


def test_plain_logs_get_fewer_lines_and_quiet_gets_none():
    out, clock = [], Clock()
    run_through(ProgressLine(out.append, tty=False, verbosity=0, clock=clock), clock, 100, 0.5)
    assert 3 <= len(out) <= 5  # every 15 s in a CI log
    quiet, clock = [], Clock()
    run_through(ProgressLine(quiet.append, tty=True, verbosity=-1, clock=clock), clock, 100, 0.5)
    assert quiet == []
