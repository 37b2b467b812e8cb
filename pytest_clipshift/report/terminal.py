"""The end-of-run table, in the manner of pytest-benchmark's."""

from __future__ import annotations

from ..core.cases import severity_key
from ..core.metrics import metric_info
from ..core.text import clean_text


class SafeTerminal:
    """The terminal reporter, with every line cleaned of escape sequences and bidi overrides: image
    names, model paths and results-file strings are not ours to let steer the terminal."""

    def __init__(self, tr):
        self._tr = tr

    def write_line(self, line: str, **markup) -> None:
        self._tr.write_line(clean_text(str(line)), **markup)

    def write(self, text: str, **markup) -> None:
        self._tr.write(clean_text(str(text)), **markup)

    def write_sep(self, sep: str, title: str = "", **markup) -> None:
        self._tr.write_sep(sep, clean_text(str(title)), **markup)


def write_summary(tr, outcome) -> None:
    """Render a session's ``Outcome`` (integration/session.py): results table, compare, messages."""
    tr = SafeTerminal(tr)
    run = outcome.run
    if run is None and not outcome.messages:
        return
    tr.write_sep("=", "clipshift")
    if run is not None:
        model = run.model
        tr.write_line(
            f"model {model.get('name', '?')}  fingerprint {str(model.get('fingerprint', ''))[:12]}  "
            f"device {model.get('device', '?')}  precision {model.get('precision', '?')}  seed {run.seed}"
        )
        if model.get("notice"):
            tr.write_line(f"NOTE: {model['notice']}", yellow=True)
        tr.write_line(f"images {len(run.image_names)} from {run.image_source} (hash {run.image_hash})")
        _table(tr, run)
        _imagenet_c(tr, run)
        _worst_case(tr, run)
        _heads(tr, run)
        comparison = outcome.comparison
        if comparison is not None:
            _comparison(tr, comparison)
        if run.corruption_error:
            _corruption_error(tr, run.corruption_error)
        if run.calibration:
            _calibration(tr, run.calibration)
        for w in run.warnings:
            if w not in outcome.shown_warnings:
                tr.write_line(f"warning: {w}", yellow=True)
        if not run.complete:
            tr.write_line(
                f"incomplete run: {'; '.join(run.coverage['reasons'])} (recorded in the results)", yellow=True
            )
        if outcome.json_written:
            tr.write_line(f"results written to {outcome.json_written}")
        if outcome.saved:
            tr.write_line(f"run saved as {outcome.saved}")
    for msg in outcome.messages:
        tr.write_line(msg, red=outcome.failed, bold=True)


def _table(tr, run) -> None:
    verdicts: dict[str, list] = {}
    for c in run.budgets:
        verdicts.setdefault(f"{c.augmentation}[{severity_key(c.severity)}]", []).append(c)
    from ..core.metrics import METRICS
    from .html import measured_columns

    # the registry says which metrics the summary shows (``terminal_label``); unregistered ones by name
    cols = measured_columns(run, [(m.name, m.terminal_label) for m in METRICS.values() if m.terminal_label], "name")
    width = max([len("augmentation[severity]")] + [len(r.key) + (9 if r.subset else 0) for r in run.results]) + 2
    header = "augmentation[severity]".ljust(width) + "".join(label.rjust(11) for _, label in cols) + "   budget"
    tr.write_line(header, bold=True)
    for r in run.results:
        name = r.key + (" (subset)" if r.subset else "")
        cells = "".join((f"{r.stat(m, 'mean'):.4f}" if m in r.values else "-").rjust(11) for m, _ in cols)
        checks = verdicts.get(r.key, [])
        if not checks or r.subset:
            verdict, markup = "-", {}
        elif all(c.passed for c in checks):
            verdict, markup = f"PASS ({len(checks)})", {"green": True}
        else:
            failed = [c for c in checks if not c.passed]
            verdict = "FAIL " + ", ".join(c.rule_text for c in failed[:2])
            markup = {"red": True}
        tr.write(name.ljust(width) + cells + "   ")
        tr.write_line(verdict, **markup)


def _comparison(tr, comparison) -> None:
    tr.write_sep("-", f"compared with {comparison.baseline_source}")
    shown = [d for d in comparison.deltas if d.stat == "mean" and d.metric in ("cosine", "attention_correlation")]
    for d in shown:
        mark = "  FAIL " + ", ".join(d.failed) if d.failed else ""
        sig = "" if d.significant is None else ("  significant" if d.significant else "  not significant")
        tr.write_line(
            f"{d.augmentation}[{severity_key(d.severity)}] {d.metric}.{d.stat}: {d.describe()}{sig}{mark}",
            red=bool(d.failed),
        )
    failures = comparison.failures
    others = [d for d in failures if d not in shown]
    for d in others:
        tr.write_line(
            f"{d.augmentation}[{severity_key(d.severity)}] {d.metric}.{d.stat}: {d.describe()}  "
            f"FAIL {', '.join(d.failed)}",
            red=True,
        )
    if comparison.missing:
        if comparison.allow_missing:
            tr.write_line(
                f"not measured in this run (allowed by --clipshift-compare-allow-missing): "
                f"{', '.join(comparison.missing)}",
                yellow=True,
            )
        else:
            tr.write_line(
                f"clipshift compare: {len(comparison.missing)} baseline cell(s) not measured in this run: "
                f"{', '.join(comparison.missing)} (--clipshift-compare-allow-missing accepts that)",
                red=True,
                bold=True,
            )
    if failures:
        tr.write_line(f"clipshift compare: {len(failures)} regression(s) beyond tolerance", red=True, bold=True)
    elif not comparison.rules and not comparison.gate_failed:
        from ..gate.compare import no_rules_note

        tr.write_line(f"clipshift compare: {no_rules_note('--clipshift-compare-fail')}", yellow=True, bold=True)
    elif not comparison.gate_failed:
        tr.write_line("clipshift compare: no regression beyond tolerance", green=True)


def _percent(v) -> str:
    from .html import percent

    return percent(v, "-")


def _imagenet_c(tr, run) -> None:
    """ImageNet-C error by family and severity (what a CE is made of), when the run measured any."""
    from ..core.augment.imagenet_c import FAMILIES
    from ..gate.corruption_error import family_curves

    metric = run.settings.get("ce_metric", "cosine")
    curves = family_curves(run, metric)
    if not curves:
        return
    severities = sorted({s for by_sev in curves.values() for s in by_sev})
    what = f"1 - {metric}.mean" if metric_info(metric).higher_is_better else f"{metric}.mean"
    tr.write_line(
        f"ImageNet-C error ({what}) by family".ljust(30) + "".join(f"s{s}".rjust(9) for s in severities), bold=True
    )
    for family in FAMILIES:
        if family in curves:
            tr.write_line(family.ljust(30) + "".join(f"{curves[family].get(s, float('nan')):9.4f}" for s in severities))


def _heads(tr, run) -> None:
    """Per cell with per-head maps: the three heads whose attention moved most."""
    from ..core.runs.heads import most_moved_heads

    for r in run.results:
        moved = most_moved_heads(r)
        if moved and r.augmentation != "identity":
            heads = ", ".join(f"layer {layer} head {head} {value:.4f}" for layer, head, value in moved)
            tr.write_line(f"heads that moved most, {r.key} (attention correlation): {heads}")


def _worst_case(tr, run) -> None:
    """Per severity: the cosine under attack beside random-sign noise of the same size (one line each)."""
    from ..core.runs.worst_case import worst_against_typical

    def num(v):
        return "-" if v is None else f"{v:.4f}"

    for row in worst_against_typical(run):
        line = (
            f"worst case s{row['severity']} (eps {row['eps_255']:g}/255): cosine under attack "
            f"{num(row['attack_cosine'])}, under random-sign noise {num(row['random_cosine'])}"
        )
        if row["robust_accuracy"] is not None:
            line += f"; zero-shot accuracy {num(row['clean_accuracy'])} clean, {num(row['robust_accuracy'])} attacked"
        tr.write_line(line, bold=True)


def _corruption_error(tr, ce: dict) -> None:
    tr.write_line(
        f"ImageNet-C corruption error against {ce['baseline']} (from {ce['metric']}; 100% = as the baseline):",
        bold=True,
    )
    for family, row in ce["families"].items():
        tr.write_line(
            f"  {family:8s} mCE {_percent(row['mce']):>7s}  relative mCE {_percent(row['relative_mce']):>7s}  "
            f"({', '.join(row['corruptions'])})"
        )
    extra = [f"{name} {_percent(c['ce'])}" for name, c in ce["corruptions"].items() if not c["in_mce"]]
    if extra:
        tr.write_line(f"  extra corruptions (not in mCE): CE {', '.join(extra)}")
    tr.write_line(f"  mCE {_percent(ce['mce'])}, relative mCE {_percent(ce['relative_mce'])}", bold=True)


def _calibration(tr, cal: dict) -> None:
    best = cal["best"]
    if best is None:
        tr.write_line(f"calibration: {cal.get('note', 'no shift metric varies across the cells')}", yellow=True)
        return
    fit = cal["fits"][best]
    r2 = "-" if fit["r2"] is None else f"{fit['r2']:.2f}"
    rho = "-" if fit["spearman"] is None else f"{fit['spearman']:+.2f}"
    low, high = fit.get("measured_range") or (None, None)
    if fit["value_at_5_point_drop"] is not None:
        at = f"; a 5-point drop is predicted at {best}.mean = {fit['value_at_5_point_drop']:.4f}"
        if fit.get("extrapolated"):
            at += f" (outside the measured cells, {low:.4f} to {high:.4f})"
    elif fit.get("outside_bounds"):
        at = f"; no value of {best}.mean predicts a 5-point drop (the line leaves the metric's range)"
    else:
        at = ""
    weak = " (a weak fit: R^2 below 0.5 or fewer than 5 cells)" if fit.get("weak") else ""
    tr.write_line(
        f"calibration over {len(cal['cells'])} cells: accuracy drop is best predicted by {best}.mean "
        f"(Spearman {rho}, R^2 {r2}, slope {fit['slope']:+.3g} per unit){weak}{at}",
        bold=not fit.get("weak"),
        yellow=bool(fit.get("weak") or fit.get("extrapolated")),
    )
