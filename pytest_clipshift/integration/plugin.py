"""pytest wiring: options, marker, fixtures, collection, reporting. Nothing heavy is imported here;
the library loads lazily when a clipshift test actually runs."""

from __future__ import annotations

import zlib

import pytest

from ..core.text import clean_text
from .config import FIXTURE_NAMES, add_options
from .fixtures import augmentation, clip_model, clipshift, clipshift_images, clipshift_session  # noqa: F401
from .run.session import SESSION_KEY as _SESSION

_ENABLED = pytest.StashKey[bool]()
_DESELECTED = pytest.StashKey[int]()  # clipshift items deselected by -k/-m (not by --clipshift-shard)
_SHARD_DROPPED = pytest.StashKey[frozenset]()  # node ids another shard runs
_SKIPPED_OFF = pytest.StashKey[int]()  # clipshift items skipped because --clipshift is off
_EXPORTED = pytest.StashKey[list]()  # thread-budget variables this controller set for its workers
_SIGTERM = pytest.StashKey[object]()  # the SIGTERM handler before ours
MARKER_KEYWORDS = ("augmentations", "severities", "images", "budget")
SKIP_REASON = "clipshift robustness test: run with `pytest --clipshift` (or set clipshift = true in the ini file)"


def pytest_addoption(parser) -> None:
    add_options(parser)


def _enabled(config) -> bool:
    if _ENABLED not in config.stash:
        value = config.getoption("clipshift", None)
        if not value:
            from ..core.errors import ConfigError
            from .inifile import ini_values, parse_bool

            raw = ini_values(config).get("clipshift")
            try:  # parsed by us: "clipshift = maybe" must not silently mean off, on any pytest version
                value = raw is not None and parse_bool(raw, "ini option clipshift")
            except ConfigError as exc:
                raise pytest.UsageError(f"clipshift: {clean_text(str(exc))}") from None
        config.stash[_ENABLED] = bool(value)
    return config.stash[_ENABLED]


def _check_ini_keys(config) -> None:
    """Misspelled ``clipshift_*`` keys and a malformed ``[tool.clipshift]`` stop the run at start-up."""
    from ..core.errors import ConfigError
    from .config import OPTIONS
    from .inifile import check_keys, check_tool_table, ini_values

    try:
        check_keys(ini_values(config), [opt.name for opt in OPTIONS])
        check_tool_table(config)
    except ConfigError as exc:
        raise pytest.UsageError(f"clipshift: {clean_text(str(exc))}") from None


def pytest_configure(config) -> None:
    from .config import OPTIONS
    from .spacing import check_ini_search

    problem = check_ini_search(config, {o.flag for o in OPTIONS if o.ini_type != "bool"})
    if problem is not None:
        raise pytest.UsageError(f"clipshift: {problem}")
    _check_ini_keys(config)
    config.addinivalue_line(
        "markers",
        "clipshift(augmentations=None, severities=None, images=None, budget=None): a clipshift robustness test; "
        "narrows the augmentations, severities or images for this test and overrides its budget",
    )
    if not _enabled(config):
        return
    from .threads import share_cores

    config.stash[_EXPORTED] = share_cores(config)  # before xdist starts its workers: they inherit the budget
    from ..core.errors import ClipShiftError
    from ..gate.budgets import load_budgets
    from .config import pyproject_budgets, resolve
    from .preflight import preflight
    from .run.session import ClipShiftSession

    try:
        cfg = resolve(config)
        path = cfg.budgets_path or pyproject_budgets(config)
        budgets = load_budgets(path) if path else None
        session = ClipShiftSession(cfg, budgets)
        preflight(cfg, session.requested_metrics)
    except ClipShiftError as exc:
        raise pytest.UsageError(f"clipshift: {clean_text(str(exc))}") from None
    from .progress import for_config

    session.set_progress(lambda: for_config(config))
    config.stash[_SESSION] = session
    if not hasattr(config, "workerinput"):
        _interrupt_on_sigterm(config)
    worker = getattr(config, "workerinput", {}).get("workerid", "")
    if worker.startswith("gw") and worker[2:].isdigit():
        config.stash[_SESSION].worker_index = int(worker[2:])
    if config.pluginmanager.hasplugin("html"):
        from ..report.html_hooks import HtmlHooks

        config.pluginmanager.register(HtmlHooks(config, lambda c: c.stash.get(_SESSION, None)), "clipshift-html")


def _interrupt_on_sigterm(config) -> None:
    """SIGTERM ends the session the way Ctrl-C does (exit 2, results written and marked interrupted),
    not by killing it with nothing written."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():

        def interrupt(signum, frame):
            raise KeyboardInterrupt(f"clipshift: signal {signum} (SIGTERM)")

        config.stash[_SIGTERM] = signal.signal(signal.SIGTERM, interrupt)


def pytest_sessionstart(session) -> None:
    """This run owns its results file from the start: the one an earlier run left is removed, so a CI
    step never reads the last run's verdict as this one's (not for --collect-only, which measures nothing)."""
    config = session.config
    if not _enabled(config) or _SESSION not in config.stash or hasattr(config, "workerinput"):
        return
    if config.getoption("collectonly", False):
        return
    path = config.stash[_SESSION].cfg.json_path
    try:
        if path is not None:
            path.unlink(missing_ok=True)
    except IsADirectoryError:
        pass  # the write at the end names the problem
    except OSError as exc:
        raise pytest.UsageError(
            f"clipshift: --clipshift-json {path}: the earlier results file cannot be removed "
            f"({exc.strerror or exc}); it would be read as this run's"
        ) from None
    if config.pluginmanager.hasplugin("dsession"):  # xdist's controller: it measures nothing, its workers load
        _load_up_front(config, model=False)  # the model's own checks ran at start-up (preflight)


def _load_up_front(config, model: bool) -> None:
    """A set or a model that cannot be used is one usage error (exit 4) before any item runs."""
    from ..core.errors import ClipShiftError

    try:
        warnings = config.stash[_SESSION].load_up_front(model)
    except ClipShiftError as exc:
        raise pytest.UsageError(f"clipshift: {clean_text(str(exc))}") from None
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    for warning in warnings if terminal is not None else ():
        terminal.write_line(f"clipshift: warning: {clean_text(warning)}", yellow=True)


def _configured_pairs(config, marker) -> list:
    """The (augmentation, severity) cases the ``augmentation`` fixture is parametrised over."""
    from ..core.augment.augmentations import DEFAULT_AUGMENTATIONS
    from ..core.cases import DEFAULT_SEVERITY, Case

    if _SESSION in config.stash:
        cfg = config.stash[_SESSION].cfg
        augs, sevs = cfg.augmentations, cfg.severities
    else:  # not enabled: ids only, the tests are skipped
        augs, sevs = list(DEFAULT_AUGMENTATIONS), [DEFAULT_SEVERITY]
    if marker is not None:
        from ..core.augment.augmentations import expand_names

        augs = expand_names(marker.kwargs.get("augmentations", augs))
        sevs = marker.kwargs.get("severities", sevs)
    return [Case(a, s) for a in augs for s in sevs]


def pytest_generate_tests(metafunc) -> None:
    if "augmentation" in metafunc.fixturenames:
        cases = _configured_pairs(metafunc.config, metafunc.definition.get_closest_marker("clipshift"))
        metafunc.parametrize("augmentation", cases, ids=[c.id for c in cases], indirect=True)


def _is_clipshift_item(item) -> bool:
    return item.get_closest_marker("clipshift") is not None or bool(
        set(getattr(item, "fixturenames", ())) & set(FIXTURE_NAMES)
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items) -> None:
    if not _enabled(config):
        skip = pytest.mark.skip(reason=SKIP_REASON)
        skipped = [item for item in items if _is_clipshift_item(item)]
        for item in skipped:
            item.add_marker(skip)
        config.stash[_SKIPPED_OFF] = len(skipped)
        return
    for item in items:  # a misspelled keyword must not be silently ignored
        marker = item.get_closest_marker("clipshift")
        unknown = sorted(set(marker.kwargs) - set(MARKER_KEYWORDS)) if marker else []
        if unknown:
            raise pytest.UsageError(
                f"clipshift: {item.nodeid}: @pytest.mark.clipshift got unknown keyword(s) "
                f"{', '.join(unknown)}; valid: {', '.join(MARKER_KEYWORDS)}"
            )
    cs = config.stash[_SESSION]
    if cs.budgets is not None:
        from .suite import make_items

        suite_items = make_items(session, cs.budgets.suite_pairs())
        items.extend(suite_items)
        # reported like collected items, so "collected N items" (and -k / shard arithmetic) counts them
        config.hook.pytest_collectreport(report=pytest.CollectReport("clipshift", "passed", None, list(suite_items)))
    if cs.cfg.shard is not None:
        k, n = cs.cfg.shard
        keep, drop = [], []
        for item in items:
            in_shard = not _is_clipshift_item(item) or zlib.crc32(item.nodeid.encode()) % n == k - 1
            (keep if in_shard else drop).append(item)
        if drop:
            config.stash[_SHARD_DROPPED] = frozenset(item.nodeid for item in drop)
            config.hook.pytest_deselected(items=drop)
            items[:] = keep


def pytest_deselected(items) -> None:
    if items:
        config = items[0].config
        if _enabled(config):
            other_shard = config.stash.get(_SHARD_DROPPED, frozenset())
            chosen_away = sum(_is_clipshift_item(i) and i.nodeid not in other_shard for i in items)
            config.stash[_DESELECTED] = config.stash.get(_DESELECTED, 0) + chosen_away


def pytest_collection_finish(session) -> None:
    """Tell the session every pair this process will measure, so the first measure does them all."""
    config = session.config
    if not _enabled(config) or _SESSION not in config.stash:
        return
    cs = config.stash[_SESSION]
    if hasattr(config, "workerinput"):  # a worker measures its share: the items xdist hands it, as they come
        from .xdist_queue import pending_items

        cs.set_pending(lambda: cs.pairs_for(pending_items(session)))
    else:
        cs.set_prefetch(cs.pairs_for(session.items))
        will_run = [i for i in session.items if _is_clipshift_item(i) and not i.get_closest_marker("skip")]
        if will_run and not config.getoption("collectonly", False):
            _load_up_front(config, model=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.excinfo is not None and _enabled(item.config):
        from ..core.errors import ClipShiftError

        if isinstance(call.excinfo.value, ClipShiftError) and report.longrepr is not None:
            # our errors already say what is wrong and how to fix it: no deep traceback
            report.longrepr = clean_text(f"{type(call.excinfo.value).__name__}: {call.excinfo.value}")
    result = getattr(item, "clipshift_result", None)
    if result is None:
        helper = getattr(item, "funcargs", {}).get("clipshift")
        results = getattr(helper, "results", None)
        result = results[-1] if results else None
    if result is not None and call.when == "call":
        # the item's own list (as record_property fills it): JUnit XML writes the teardown report's copy
        properties = item.config.stash[_SESSION].junit_properties(result, item.nodeid)
        item.user_properties += properties
        report.user_properties += properties
        report.user_properties.append(
            (
                "clipshift",
                {
                    "augmentation": result.augmentation,
                    "severity": result.severity,
                    "verdict": item.config.stash[_SESSION].verdict(item.nodeid),
                    "cosine_mean": result.stat("cosine", "mean") if "cosine" in result.values else None,
                },
            )
        )
        from ..report.html_hooks import attach_extras

        attach_extras(item, report, result, item.config.stash[_SESSION].state.checks)
    return report


@pytest.hookimpl(tryfirst=True)  # before pytest-html writes its page, which shows the outcome
def pytest_sessionfinish(session, exitstatus) -> None:
    config = session.config
    if not _enabled(config) or _SESSION not in config.stash:
        return
    cs = config.stash[_SESSION]
    if hasattr(config, "workerinput"):  # xdist worker: the controller merges and reports
        cs.state.deselected = config.stash.get(_DESELECTED, 0)
        config.workeroutput["clipshift"] = cs.state.to_json()
        return
    outcome = cs.finish(_incomplete(session, exitstatus, cs))
    if outcome.failed:
        session.testscollected += 1  # the gate is counted as an item: the progress stays at 100%
        _report_gate_failure(config, outcome)
        if session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


GATE_NODEID = "clipshift::gate"


def _report_gate_failure(config, outcome) -> None:
    """The gate's own failure as a failed test report, so every reporter counts it where it counts
    tests: the final line, pytest-html's counters and table, JUnit XML's test tab."""
    from _pytest.reports import TestReport

    reasons = [clean_text(r) for r in outcome.gate_failures()]
    details = [clean_text(m) for m in outcome.messages if m.removeprefix("clipshift: ") not in reasons]
    location = ("clipshift", None, "clipshift gate")
    text = f"clipshift gate FAILED: {'; '.join(reasons)}" + "".join(f"\n  {line}" for line in details)
    properties = [("clipshift_gate", "; ".join(reasons))]
    # a call that failed and a clean teardown: reporters that wait for the teardown (pytest-html) count it
    for when, result, longrepr in (("call", "failed", text), ("teardown", "passed", None)):
        report = TestReport(GATE_NODEID, location, {"clipshift": 1}, result, longrepr, when, user_properties=properties)
        config.hook.pytest_runtest_logreport(report=report)


def _incomplete(session, exitstatus, cs) -> list[str]:
    """Why this session measured less than its whole suite (empty: it measured all of it)."""
    reasons = []
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        reasons.append("interrupted")
    elif session.shouldstop or session.shouldfail:
        reasons.append("stopped early")
    deselected = max(session.config.stash.get(_DESELECTED, 0), cs.state.deselected)  # here, or on xdist workers
    if deselected > 0:
        reasons.append(f"{deselected} item(s) deselected")
    if cs.cfg.shard is not None:
        reasons.append(f"shard {cs.cfg.shard[0]}/{cs.cfg.shard[1]}")
    return reasons


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    config = node.config
    if _SESSION not in config.stash:
        return
    payload = getattr(node, "workeroutput", {}).get("clipshift")
    cs = config.stash[_SESSION]
    if payload:
        from .run.state import ProcessState

        cs.state.merge(ProcessState.from_json(payload))
    else:  # killed, crashed or cut off: what it measured and checked is gone, so the run cannot pass
        worker = getattr(getattr(node, "gateway", None), "id", "?")
        cs.lost_workers.append(f"{worker} ({error})" if error else worker)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _enabled(config) and _SESSION in config.stash and not hasattr(config, "workerinput"):
        from ..report.terminal import write_summary

        outcome = config.stash[_SESSION].outcome
        if outcome is not None:
            write_summary(terminalreporter, outcome)
            if outcome.failed:  # the gate's verdict, impossible to miss even when every test passed
                failures = [clean_text(f) for f in outcome.gate_failures()]
                terminalreporter.write_sep("=", f"clipshift gate FAILED: {'; '.join(failures)}", red=True, bold=True)
    elif config.stash.get(_SKIPPED_OFF, 0):  # said once, not per item: why nothing ran, and how to run it
        given = sorted(
            {a.split("=")[0] for a in map(str, config.invocation_params.args) if a.startswith("--clipshift-")}
        )
        also = f" (although {', '.join(given)} {'was' if len(given) == 1 else 'were'} given)" if given else ""
        terminalreporter.write_line(
            f"clipshift: {config.stash[_SKIPPED_OFF]} robustness test(s) skipped because --clipshift is off{also}; "
            "run pytest --clipshift, or set clipshift = true in the ini file",
            yellow=True,
        )


def pytest_report_header(config):
    if _enabled(config) and _SESSION in config.stash:
        cfg = config.stash[_SESSION].cfg
        lines = [
            f"clipshift: model {cfg.model}, device {cfg.device}, precision {cfg.precision}, images {cfg.images}, "
            f"seed {cfg.seed}"
        ]
        if cfg.model == "demo":
            lines.append(
                "clipshift: NOTE: demo model trained on synthetic scenes: not for conclusions about real models"
            )
        return lines
    return None


def pytest_unconfigure(config) -> None:
    if _SIGTERM in config.stash:
        import signal

        signal.signal(signal.SIGTERM, config.stash[_SIGTERM])
    if _EXPORTED in config.stash:
        from .threads import restore

        restore(config.stash[_EXPORTED])
