"""``ClipShiftSession``: one pytest run's clipshift state, kept in ``config.stash``. Each hook and
fixture delegates to one of its parts: ``resources`` (model, images, cache), ``measurements``
(memoised, prefetched), ``state`` (what this process measured and checked) and, once,
``finish_run`` (the ``Outcome``)."""

from __future__ import annotations

from functools import cached_property

import pytest

from ...core.augment.adversarial import AttackSettings
from ...core.cases import Case
from ...core.measure.settings import MeasureSettings
from ...core.metrics import DEFAULT_METRICS, METRICS, RANKING_METRIC, metric_info, split_layer
from ...gate.budgets import Budgets, Check, evaluate
from ..config import ClipShiftConfig
from .finish import Outcome, finish_run
from .measurements import Measurements
from .resources import Resources
from .state import ProcessState

SESSION_KEY = pytest.StashKey["ClipShiftSession"]()
__all__ = ["SESSION_KEY", "ClipShiftSession", "Outcome", "ProcessState", "session_of"]


def session_of(config) -> ClipShiftSession:
    """The run's session, kept in ``config.stash`` by the plugin's ``pytest_configure``."""
    if SESSION_KEY not in config.stash:
        raise pytest.UsageError("clipshift is not enabled: run with --clipshift")
    return config.stash[SESSION_KEY]


class ClipShiftSession:
    def __init__(self, cfg: ClipShiftConfig, budgets: Budgets | None):
        self.cfg = cfg
        self.budgets = budgets
        self.state = ProcessState(seed=cfg.seed)
        self.resources = Resources(cfg, self.state, self.needs_attention)
        settings = MeasureSettings(
            metrics=tuple(self.metrics),
            seed=cfg.seed,
            batch_size=cfg.batch_size,
            draws=cfg.draws,
            augment_device=cfg.augment_device,
            overlay_metrics=self.overlay_metrics,
            sink_factor=cfg.sink_factor,
            attack=AttackSettings(
                loss=cfg.attack_loss, steps=cfg.attack_steps, method=cfg.attack_method, restarts=cfg.attack_restarts
            ),
        )
        self.measurements = Measurements(
            self.resources, self.state, settings, bool(cfg.json_path or cfg.save or cfg.html)
        )
        self._verdicts: dict[str, bool] = {}  # nodeid -> every budget it checked held
        self.lost_workers: list[str] = []  # on the controller: workers that went down without sending their state
        self.outcome: Outcome | None = None  # set once, by finish()
        self.shown_warnings: list[str] = []  # said at start-up: the summary does not repeat them

    # ------------------------------------------------------------------ configuration
    @property
    def requested_metrics(self) -> list[str]:
        """Every metric --clipshift-metrics and the budgets name, layer numbers included."""
        return list(self.cfg.metrics) + (self.budgets.metric_names() if self.budgets is not None else [])

    @cached_property
    def metrics(self) -> list[str]:
        """Defaults, --clipshift-metrics and every metric a budget names; fixed for the session."""
        names = list(DEFAULT_METRICS) + list(self.cfg.metrics) + [self.cfg.ce_metric]
        if self.cfg.draws > 1:  # draws are taken for the metrics computed across them
            names += [m.name for m in METRICS.values() if m.builtin and m.needs == "draws"]
        if self.budgets is not None:
            names += self.budgets.metric_names()
        out = []
        for n in names:
            base, layer = split_layer(n)
            if layer is not None and not metric_info(base).layers_on_request:
                n = base  # layer_cka@3 is stored whenever layer_cka is measured
            if n not in out:
                out.append(n)
        return out

    @property
    def overlay_metrics(self) -> tuple[str, ...]:
        """The metrics the report ranks the images that moved most by: cosine, and each metric a budget
        or a compare rule names (a failed item shows the images of the metric that failed)."""
        from ...gate.compare import parse_compare_rule
        from .finish import compare_rules

        named = self.budgets.metric_names() if self.budgets is not None else []
        compared = [parse_compare_rule(rule).metric for rule in compare_rules(self.cfg, self.budgets)]
        return tuple(dict.fromkeys([RANKING_METRIC, *named, *compared]))

    @property
    def needs_attention(self) -> bool:
        from ...core.metrics.registry import ATTENTION_NEEDS, needs_of

        return any(needs_of(m) in ATTENTION_NEEDS for m in self.metrics)

    # ------------------------------------------------------------------ parts, as hooks and fixtures see them
    @property
    def encoder(self):
        return self.resources.encoder

    @property
    def images(self):
        return self.resources.images

    @property
    def worker_index(self) -> int | None:
        return self.resources.worker_index

    @worker_index.setter
    def worker_index(self, index: int | None) -> None:
        self.resources.worker_index = index

    def set_prefetch(self, pairs) -> None:
        self._configured = list(pairs)
        self.measurements.set_prefetch(pairs)

    def configured_pairs(self) -> list:
        """The (augmentation, severity) pairs this process's collected items measure."""
        return list(getattr(self, "_configured", []))

    def set_pending(self, pending) -> None:
        """Under xdist: ``pending() -> pairs`` of the items this worker has been handed and not yet run."""
        self.measurements.pending_pairs = pending

    def set_progress(self, factory) -> None:
        self.measurements.progress_factory = factory

    @staticmethod
    def pairs_for(items) -> list[tuple[str, object]]:
        """The (augmentation, severity) pairs the collected ``items`` will measure over the whole image
        set (suite items and ``augmentation``-parametrised tests), so one engine call does them all."""
        pairs = []
        for item in items:
            if hasattr(item, "augmentation") and hasattr(item, "severity"):
                pairs.append((item.augmentation, item.severity))
            callspec = getattr(item, "callspec", None)
            case = callspec.params.get("augmentation") if callspec else None
            marker = item.get_closest_marker("clipshift")
            if isinstance(case, Case) and not (marker and marker.kwargs.get("images")):
                pairs.append((case.augmentation, case.severity))
        return pairs

    def measure(self, augmentation, severity=None, *, metrics=None, images=None):
        return self.measurements.measure(augmentation, severity, metrics=metrics, images=images)

    def measure_strength(self, augmentation: str, strength: float, *, metrics=None):
        return self.measurements.measure_strength(augmentation, strength, metrics=metrics)

    def breaking_point(self, augmentation: str, rule: str, **kwargs):
        return self.measurements.breaking_point(augmentation, rule, **kwargs)

    def load_up_front(self, model: bool) -> list[str]:
        """Load the image set (and the model, when ``model``) before any item runs, so a set or a model
        that cannot be used is one start-up error, said once; the warnings loading gave, to show now."""
        _ = self.resources.images  # loaded now, kept for the run
        if model:
            encoder = self.resources.encoder
            from ...core.augment.augmentations import augmentation_for
            from ...core.measure.plan import check_attackable

            cases = map(Case.of, self.configured_pairs())
            attacked = [c for c in cases if augmentation_for(c)[0].kind == "adversarial"]
            if attacked:  # a model without gradients, or not at fp32: said before any item runs
                check_attackable(encoder, attacked)
        self.shown_warnings = list(self.state.warnings)
        return self.shown_warnings

    # ------------------------------------------------------------------ budgets
    def check(self, result, test: str, override: dict | None = None) -> list[Check]:
        """Evaluate the budgets (file, then a marker's override) on ``result`` and record the checks."""
        from ...gate.budgets import budgets_from_marker

        budgets = self.budgets
        rules = {r.key: r for r in (budgets.rules_for(result.augmentation, result.severity) if budgets else [])}
        if override:
            rules.update({r.key: r for r in budgets_from_marker(override, test).values()})
        confidence = budgets.confidence if budgets else None
        checks = evaluate(result, list(rules.values()), test, confidence, budgets.bound if budgets else "favourable")
        self.state.add_checks([c.record() for c in checks])
        if checks:
            self._verdicts[test] = self._verdicts.get(test, True) and all(c.passed for c in checks)
        return checks

    @cached_property
    def baseline(self):
        """The run --clipshift-compare names, read once for the items' deltas (None: no compare, or it
        cannot be read; the end of the run says why)."""
        if not self.cfg.compare:
            return None
        from ...core.errors import MALFORMED_INPUT_ERRORS, ClipShiftError
        from ...core.runs.results import RunResult
        from ...gate.storage import Storage

        try:
            return RunResult.read_json(Storage(self.cfg.storage).find(self.cfg.compare))
        except (ClipShiftError, OSError, *MALFORMED_INPUT_ERRORS):
            return None

    def junit_properties(self, result, nodeid: str) -> list[tuple[str, str]]:
        """The properties an item records (JUnit XML): its cell, verdict, rules and deltas."""
        from ...gate.compare import parse_compare_rule
        from ...report.junit import cell_properties
        from .finish import compare_rules

        checks = [c for c in self.state.checks if c.key[:2] == (result.augmentation, str(result.severity))]
        baseline_cell = None
        if self.baseline is not None and not result.subset:
            baseline_cell = next((r for r in self.baseline.results if r.cell == result.cell), None)
        compared = [(r.metric, r.stat) for r in map(parse_compare_rule, compare_rules(self.cfg, self.budgets))]
        return cell_properties(result, checks, self.verdict(nodeid), baseline_cell, compared)

    def verdict(self, nodeid: str) -> str:
        """ "PASS" or "FAIL" for a test that checked budgets, "" for one that checked none."""
        passed = self._verdicts.get(nodeid)
        return "" if passed is None else ("PASS" if passed else "FAIL")

    # ------------------------------------------------------------------ end of run
    def finish(self, incomplete: list[str] | None = None) -> Outcome:
        """The run's ``Outcome``, decided once (``finish.finish_run``) and kept as ``self.outcome``."""
        if self.outcome is None:
            self.outcome = finish_run(self.cfg, self.budgets, self.state, self.metrics, self.lost_workers, incomplete)
            self.outcome.shown_warnings = list(self.shown_warnings)
        return self.outcome

    def assemble(self):
        from .finish import assemble

        return assemble(self.cfg, self.budgets, self.state, self.metrics)
