"""HTML pieces of the report, used inside pytest-html's page and by the standalone ``clipshift report``."""

from __future__ import annotations

import html
from pathlib import Path

from ..core.cases import severity_key
from ..core.metrics import METRICS, split_layer
from . import figures as F
from .markup import figure_html, html_page
from .verdict import FAIL_COLOUR, PASS_COLOUR, cell_class, delta_class, failed_rules, ranking_metric, report_title

CSS = """
.clipshift { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; color: #222; }
.clipshift h2 { border-bottom: 2px solid #2c7fb8; padding-bottom: 4px; margin-top: 28px; }
.clipshift h3 { margin: 18px 0 6px; }
.clipshift table.cs { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
.clipshift table.cs th, .clipshift table.cs td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
.clipshift table.cs td { white-space: nowrap; }
.clipshift table.cs th { background: #f3f6f9; }
.clipshift table.cs td.name, .clipshift table.cs th.name { text-align: left; font-family: monospace; }
.clipshift tr.floor td { background: #f7f7f7; font-style: italic; }
.clipshift table.cs td.pass { background: PASS_COLOUR; }
.clipshift table.cs td.fail { background: FAIL_COLOUR; font-weight: bold; }
.clipshift table.cs td.verdict { white-space: normal; text-align: left; min-width: 120px; max-width: 240px; }
.clipshift section.verdict { border: 2px solid #999; border-radius: 6px; padding: 4px 14px 10px; margin: 10px 0; }
.clipshift section.verdict h2 { border: none; margin: 6px 0; font-size: 28px; }
.clipshift section.failed { border-color: #b00020; background: #fff5f5; }
.clipshift section.failed h2 { color: #b00020; }
.clipshift section.passed { border-color: #1a7f37; background: #f4fbf4; }
.clipshift section.passed h2 { color: #1a7f37; }
.clipshift .notice { background: #fff4d6; border-left: 4px solid #f0b400; padding: 6px 10px; margin: 8px 0; }
.clipshift .figs { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
.clipshift figure { margin: 0; } .clipshift figcaption { font-size: 12px; color: #555; max-width: 480px; }
.clipshift figure.worst figcaption { font: bold 13px monospace; color: #222; margin-bottom: 3px; }
.clipshift dl.meta { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; font-size: 13px; }
.clipshift dl.meta dt { font-weight: bold; } .clipshift dl.meta dd { margin: 0; font-family: monospace; }
.clipshift .fail { color: #b00020; font-weight: bold; } .clipshift .worse-ok { color: #9a6700; }
.clipshift .better { color: #1a7f37; }
""".replace("PASS_COLOUR", PASS_COLOUR).replace("FAIL_COLOUR", FAIL_COLOUR)


def _e(x) -> str:
    return html.escape(str(x))


def _fmt(v) -> str:
    """A number for a table cell; anything that is not a finite number prints as a dash (a results
    file is untrusted input: nothing from it reaches the page unescaped)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
        return "–"
    a = abs(v)
    return f"{v:.4f}" if a < 10 else f"{v:.2f}"


def _signed(v) -> str:
    return f"{v:+.4f}" if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v else "–"


def summary_html(run) -> str:
    m = run.model
    timing = run.timing or {}
    sevs = ", ".join(severity_key(s) for s in run.severities())
    augs = ", ".join(dict.fromkeys(r.augmentation for r in run.results if not r.subset))
    rows = [
        ("model", m.get("name", "?")),
        ("fingerprint", m.get("fingerprint", "?")),
        ("class", m.get("class", "?")),
        ("device / precision", f"{m.get('device', '?')} / {m.get('precision', '?')}"),
        ("seed", run.seed),
        ("images", f"{len(run.image_names)} from {run.image_source} (hash {run.image_hash})"),
        ("augmentations", augs),
        ("severities", sevs),
        ("measure time", f"{timing.get('measure_seconds', '?')} s" if timing else "–"),
        ("versions", ", ".join(f"{k} {v}" for k, v in run.versions.items())),
    ]
    notice = f'<div class="notice">{_e(m["notice"])}</div>' if m.get("notice") else ""
    warnings = "".join(f'<div class="notice">warning: {_e(w)}</div>' for w in run.warnings)
    meta = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)
    return f'<h2>clipshift summary</h2>{notice}<dl class="meta">{meta}</dl>{warnings}'


def unregistered_metrics(run) -> list[str]:
    """Measured metrics this process has not registered (a results file from a run that had a user
    metric), in the order first measured."""
    seen = []
    for r in run.results:
        seen += [m for m in r.values if split_layer(m)[1] is None and m not in METRICS and m not in seen]
    return seen


def measured_columns(run, registered: list[tuple[str, str]], default: str) -> list[tuple[str, str]]:
    """``registered`` (metric, column) pairs, then each unregistered metric with ``default``, kept
    where some cell measured the metric."""
    unregistered = [(m, default if default != "name" else m[:10]) for m in unregistered_metrics(run)]
    return [(m, c) for m, c in registered + unregistered if any(m in r.values for r in run.results)]


def table_columns(run) -> list[tuple[str, str]]:
    """The metric table's (metric, statistic) columns, read from the registry (``report_stats``)."""
    return measured_columns(run, [(m.name, s) for m in METRICS.values() for s in m.report_stats], "mean")


def _description(metric: str) -> str:
    known = METRICS.get(metric)
    return known.description if known else f"{metric} (a user metric not registered in this process)"


def metric_table_html(run) -> str:
    checks: dict[tuple, list] = {}
    for c in run.budgets:
        checks.setdefault((c.augmentation, str(c.severity), c.metric, c.stat), []).append(c)
    cols = table_columns(run)
    head = (
        '<th class="name">augmentation[severity]</th><th>n</th>'
        # long metric names may break after an underscore, so the budget column stays on the page
        + "".join(f'<th title="{_e(_description(m))}">{_e(m).replace("_", "_<wbr>")}<br>{s}</th>' for m, s in cols)
        + "<th>budget</th>"
    )
    body = []
    for r in run.results:
        if r.subset:
            continue
        cells = []
        for m, s in cols:
            cls = cell_class(checks.get((r.augmentation, str(r.severity), m, s), []))
            cells.append(f'<td class="{cls}">{_fmt(r.stat(m, s)) if m in r.values else "–"}</td>')
        mine = [c for (a, sv, _, _), cs in checks.items() for c in cs if a == r.augmentation and sv == str(r.severity)]
        if mine:
            failed = failed_rules(mine)
            verdict = (
                f'<td class="fail verdict">FAIL: {_e("; ".join(failed))}</td>'
                if failed
                else f'<td class="pass verdict">PASS ({len(mine)})</td>'
            )
        else:
            verdict = '<td class="verdict">–</td>'
        floor = ' class="floor"' if r.augmentation == "identity" else ""
        body.append(f'<tr{floor}><td class="name">{_e(r.key)}</td><td>{r.n_images}</td>{"".join(cells)}{verdict}</tr>')
    return (
        f"<h2>Metrics</h2><p>Means over images (p05: the 5th percentile). The <i>identity</i> rows are the noise "
        f"floor: preprocessing only. Cells with a budget are green (kept) or red (broken).</p>"
        f'<table class="cs" id="clipshift-metrics"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def ranking_html(run) -> str:
    parts = []
    for sev in run.severities():
        ranked = [(a, v) for a, v in run.ranking("cosine", sev) if a != "identity"]
        if len(ranked) > 1:
            items = "".join(f"<li><code>{_e(a)}</code> {_fmt(v)}</li>" for a, v in ranked)
            parts.append(f"<div><b>{_e(severity_key(sev))}</b><ol>{items}</ol></div>")
    if not parts:
        return ""
    return (
        "<h2>Ranking by embedding shift</h2><p>Most shift first (lowest mean cosine similarity).</p>"
        f'<div class="figs">{"".join(parts)}</div>'
    )


def figures_html(run) -> str:
    out = ["<h2>Figures</h2>"]
    for sev in run.severities():
        figs = [
            figure_html(
                F.dendrogram_png(run, sev),
                f"dendrogram {severity_key(sev)}",
                caption="Hierarchical clustering of {original, each augmentation} "
                "by mean cosine distance of embeddings.",
            ),
            figure_html(F.distance_heatmap_png(run, sev), f"distance heatmap {severity_key(sev)}"),
            figure_html(F.distributions_png(run, sev), f"cosine distributions {severity_key(sev)}"),
        ]
        figs = [f for f in figs if f]
        if figs:
            out.append(f'<h3>Severity {_e(severity_key(sev))}</h3><div class="figs">{"".join(figs)}</div>')
    curves = [
        figure_html(F.severity_curves_png(run, m), f"{m} versus severity")
        for m in (m.name for m in METRICS.values() if m.severity_curve)  # the registry says which
        if any(m in r.values for r in run.results)
    ]
    curves.append(figure_html(F.layer_curves_png(run), "layer-wise shift"))
    curves = [c for c in curves if c]
    if curves:
        out.append(f'<h3>Across severities and layers</h3><div class="figs">{"".join(curves)}</div>')
    out.append(worst_images_html(run))
    return "".join(out)


def worst_images_html(run) -> str:
    """Every measured (augmentation, severity) with an overlay: a heading per augmentation, each cell's
    name above its images, ranked by the metric its budget broke (else cosine); hovering an image
    lists its images' full names and values."""
    rows: dict[str, list] = {}
    for r in run.results:
        if not r.subset and r.overlays:
            rows.setdefault(r.augmentation, []).append(r)
    if not rows:
        return ""
    parts = []
    for augmentation, cells in rows.items():
        figs = []
        for r in cells:
            overlay = r.overlay(ranking_metric(run.budgets, r))
            names, values = overlay.get("images", []), overlay.get("values", [])
            metric = overlay.get("metric", "cosine")
            hover = "; ".join(f"{n}: {metric} {v:.4f}" for n, v in zip(names, values)) or ", ".join(names)
            figure = figure_html(
                overlay["b64"],
                f"worst images {r.key}",
                overlay.get("format", "jpeg"),
                caption=f"{r.key} by {metric}",
                title=hover,
                caption_first=True,
            )
            figs.append(figure.replace("<figure>", '<figure class="worst">', 1))
        parts.append(f'<h4>{_e(augmentation)}</h4><div class="figs">{"".join(figs)}</div>')
    return (
        "<h3>Images that moved most</h3><p>Per augmentation and severity, the images that moved most on the "
        "metric named under each cell's name (the one its budget broke, else cosine): clean (left) and "
        "augmented (right), as measured, with the last layer's attention overlaid (each map scaled from low to "
        "high, see the bar). Hover an image for the full file names and values.</p>" + "".join(parts)
    )


def breaking_points_html(run) -> str:
    points = run.breaking_points
    if not points:
        return ""
    rows = []
    for p in points:
        breaks = "holds up to 1" if p["strength"] is None else _fmt(p["strength"])
        rows.append(
            f'<tr><td class="name">{_e(p["augmentation"])}</td><td class="name">{_e(p["rule"])}</td>'
            f"<td>{breaks}</td><td>{_fmt(p['holds_at'])}</td><td>{len(p['steps'])}</td></tr>"
        )
    rows = "".join(rows)
    return (
        "<h2>Breaking points</h2><p>The mildest strength (0 = none, 1 = the strongest built-in level) at which "
        'each augmentation breaks the rule, found by bisection.</p><table class="cs" id="clipshift-breaking">'
        '<thead><tr><th class="name">augmentation</th><th class="name">rule</th><th>breaks at</th>'
        f"<th>holds at</th><th>probes</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def report_sections(run, storage=None) -> list[str]:
    """The verdict first, then the tables that explain it, then the figures; with ``storage`` (a folder
    of saved runs) holding two or more runs of this suite, their trend across releases last."""
    from .panel import verdict_panel_html

    return [
        f"<style>{CSS}</style>",
        '<div class="clipshift">',
        verdict_panel_html(run),
        summary_html(run),
        metric_table_html(run),
        comparison_section(run),
        ranking_html(run),
        breaking_points_html(run),
        figures_html(run),
        calibration_html(run),
        imagenet_c_html(run),
        worst_case_html(run),
        heads_html(run),
        across_releases_html(run, storage),
        "</div>",
    ]


def across_releases_html(run, storage) -> str:
    """The saved runs of this suite (the same images and seed) in ``storage``, and this run if it is not
    among them yet: each default statistic's trend; nothing when fewer than two."""
    if storage is None:
        return ""
    from ..core.errors import ClipShiftError
    from .history import DEFAULT_STATISTICS, history_html, read_history, row_of, same_suite

    try:
        rows, _ = read_history(storage, DEFAULT_STATISTICS)
    except ClipShiftError:  # a storage path that is a file: the run's own save says so
        return ""
    rows = same_suite(rows, run)
    if run.created is None or all(r.created != run.created for r in rows):
        rows.append(row_of(run, "this run", DEFAULT_STATISTICS))
    return history_html(rows, DEFAULT_STATISTICS) if len(rows) >= 2 else ""


def _extrapolation(fit: dict) -> str:
    if fit.get("outside_bounds"):
        return " (outside the metric's range: not given)"
    if fit.get("extrapolated"):
        low, high = fit["measured_range"]
        return f" (extrapolated: the cells measured {_fmt(low)} to {_fmt(high)})"
    return ""


def calibration_html(run) -> str:
    """Which shift metric predicts the accuracy drop best: the fits, and a scatter of the best one."""
    cal = run.calibration
    if not cal or not cal.get("best"):
        return ""
    rows = []
    for name, fit in sorted(cal["fits"].items(), key=lambda kv: -abs(kv[1]["spearman"] or 0)):
        best = ' class="pass"' if name == cal["best"] else ""
        rows.append(
            f'<tr><td class="name"{best}>{_e(name)}</td><td>{_fmt(fit["slope"])}</td><td>{_fmt(fit["intercept"])}</td>'
            f"<td>{_fmt(fit['r2'])}{' (weak)' if fit.get('weak') else ''}</td><td>{_fmt(fit['spearman'])}</td>"
            f"<td>{_fmt(fit['value_at_5_point_drop'])}{_extrapolation(fit)}</td></tr>"
        )
    figure = figure_html(
        F.calibration_png(run),
        "calibration scatter",
        caption=f"accuracy drop against {cal['best']}.mean per cell, with the least-squares line",
    )
    return (
        f"<h2>Calibration: shift against accuracy</h2><p>Across {len(cal['cells'])} cells, the mean accuracy drop "
        f"fitted against each shift metric; <b>{_e(cal['best'])}</b> predicts it best (largest |Spearman|). The last "
        "column is the metric value at which the fit predicts a 5-point drop: a budget written in accuracy points.</p>"
        f'{figure}<table class="cs" id="clipshift-calibration"><thead><tr><th class="name">metric</th><th>slope</th>'
        "<th>intercept</th><th>R²</th><th>Spearman</th><th>value at a 5-point drop</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def heads_html(run) -> str:
    """Per augmentation (its strongest severity measured): the layers x heads heat map of attention
    correlation and the heads that moved most."""
    from ..core.runs.heads import head_table, most_moved_heads

    strongest = {}
    for r in run.results:
        if not r.subset and r.augmentation != "identity" and head_table(r) is not None:
            strongest[r.augmentation] = r  # results are in severity order: the last is the strongest
    if not strongest:
        return ""
    figures, rows = [], []
    for r in strongest.values():
        figures.append(figure_html(F.head_heatmap_png(r.key, head_table(r)), f"heads {r.key}", caption=r.key))
        moved = ", ".join(f"L{layer} H{head}: {value:.4f}" for layer, head, value in most_moved_heads(r))
        rows.append(f'<tr><td class="name">{_e(r.key)}</td><td class="name">{_e(moved)}</td></tr>')
    return (
        "<h2>Heads</h2><p>Attention correlation (aligned) of each head of each layer, clean against augmented, "
        "at each augmentation's strongest severity: dark cells are the heads whose attention moved most.</p>"
        f'<div class="figs">{"".join(figures)}</div><table class="cs" id="clipshift-heads"><thead><tr>'
        f'<th class="name">cell</th><th class="name">heads that moved most</th></tr></thead><tbody>{"".join(rows)}'
        "</tbody></table>"
    )


def worst_case_html(run) -> str:
    """The adversarial cells beside random-sign noise of the same l-inf size, per severity."""
    from ..core.runs.worst_case import worst_against_typical

    rows = worst_against_typical(run)
    if not rows:
        return ""
    body = "".join(
        f"<tr><td>s{r['severity']}</td><td>{r['eps_255']:g}/255</td><td>{_fmt(r['attack_cosine'])}</td>"
        f"<td>{_fmt(r['random_cosine'])}</td><td>{_fmt(r['gap'])}</td><td>{_fmt(r['clean_accuracy'])}</td>"
        f"<td>{_fmt(r['robust_accuracy'])}</td></tr>"
        for r in rows
    )
    return (
        "<h2>The worst case</h2><p>Per severity, the mean cosine of the embedding to the clean one under the "
        "attack (<code>adversarial.embedding</code>: the l-inf-bounded perturbation that moves it most, found by "
        "gradient steps) beside random-sign noise of the same size (<code>adversarial.random_sign</code>), and "
        "zero-shot accuracy clean and under <code>adversarial.zero_shot</code> (robust accuracy).</p>"
        '<table class="cs" id="clipshift-worst-case"><thead><tr><th>severity</th><th>eps</th>'
        "<th>cosine, attacked</th><th>cosine, random sign</th><th>gap</th><th>accuracy, clean</th>"
        f"<th>accuracy, attacked</th></tr></thead><tbody>{body}</tbody></table>"
    )


def percent(v, missing: str = "–") -> str:
    """A ratio as a percentage with one decimal (CE, mCE); ``missing`` for an undefined one."""
    return missing if v is None else f"{100 * v:.1f}%"


def imagenet_c_html(run) -> str:
    """ImageNet-C: error by family against severity, and CE / mCE against the compared baseline."""
    metric = run.settings.get("ce_metric", "cosine")
    figure = F.family_curves_png(run, metric)
    ce = run.corruption_error
    if figure is None and not ce:
        return ""
    parts = [
        "<h2>ImageNet-C</h2><p>Error of a cell: 1 - mean of a similarity, the mean of a distance "
        f"(here <code>{_e(metric)}</code>); per family, the mean over its measured corruptions.</p>"
    ]
    if figure:
        parts.append(figure_html(figure, "imagenet-c family curves", caption="error by ImageNet-C family and severity"))
    if ce:
        rows = []
        for name, c in ce["corruptions"].items():
            rows.append(
                f'<tr><td class="name">{_e(name)}</td><td class="name">{_e(c["family"])}</td>'
                f"<td>{_e(', '.join(severity_key(s) for s in c['severities']))}</td><td>{percent(c['ce'])}</td>"
                f"<td>{percent(c['relative_ce'])}</td><td>{'yes' if c['in_mce'] else 'no (extra)'}</td></tr>"
            )
        for family, f in ce["families"].items():
            rows.append(
                f'<tr class="floor"><td class="name">{_e(family)} (family)</td><td></td><td></td>'
                f"<td>{percent(f['mce'])}</td><td>{percent(f['relative_mce'])}</td><td></td></tr>"
            )
        parts.append(
            f"<h3>Corruption error against {_e(ce['baseline'])}</h3><p><b>mCE {percent(ce['mce'])}, relative "
            f"mCE {percent(ce['relative_mce'])}</b> (100%: as the baseline; below: the candidate moves less).</p>"
            '<table class="cs" id="clipshift-imagenet-c"><thead><tr><th class="name">corruption</th>'
            '<th class="name">family</th><th>severities</th><th>CE</th><th>relative CE</th><th>in mCE</th>'
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
    return "".join(parts)


def comparison_section(run) -> str:
    comp = run.comparison
    if not comp:
        return ""
    rows = []
    for d in sorted(comp["deltas"], key=lambda d: not d["failed"]):  # failures first, then the natural order
        if d["stat"] != "mean" and not d["failed"]:
            continue
        cls = delta_class(bool(d["failed"]), d["delta"], d["worse_by"])  # worse_by None: a side undefined
        fail = f'<td class="fail">{_e(", ".join(d["failed"]))}</td>' if d["failed"] else "<td></td>"
        rows.append(
            f'<tr><td class="name">{_e(d["augmentation"])}[{_e(severity_key(d["severity"]))}]</td>'
            f'<td class="name">{_e(d["metric"])}.{_e(d["stat"])}</td><td>{_fmt(d["baseline"])}</td>'
            f'<td>{_fmt(d["candidate"])}</td><td class="{cls}">{_signed(d["delta"])}</td>{fail}</tr>'
        )
    from ..gate.compare import no_rules_note

    verdict = (
        f"{_e(comp['failed'])} regression(s) beyond tolerance (rules: {_e(', '.join(comp['rules']))})."
        if comp["rules"]
        else f'<b class="no-rules">{_e(no_rules_note("--clipshift-compare-fail"))}</b>.'
    )
    return (
        f"<h2>Compared with {_e(comp['baseline'])}</h2><p>{verdict}</p>"
        '<table class="cs" id="clipshift-compare"><thead><tr>'
        '<th class="name">cell</th><th class="name">metric</th><th>baseline</th><th>candidate</th><th>delta</th>'
        f"<th>failed rule</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def write_report(run, path, storage=None) -> Path:
    """Render and write atomically: a full disk or a read-only target is an ``OutputError`` naming the
    path, never a truncated page. ``storage``: saved runs to draw this suite's trend from."""
    from ..core.runs.jsonfile import write_bytes_atomic

    page = html_page(report_title(run), "".join(report_sections(run, storage)))
    return write_bytes_atomic(path, page.encode("utf-8"), what="report")


def write_compare_report(baseline, candidate, comparison, path) -> Path:
    from . import figures as F

    ordered = sorted(comparison.deltas, key=lambda d: (not d.failed, -(0.0 if d.difference is None else d.worse_by)))
    rows = []
    for d in ordered:
        fail = f'<td class="fail">{_e(", ".join(d.failed))}</td>' if d.failed else "<td></td>"
        rows.append(
            f'<tr><td class="name">{_e(d.augmentation)}[{_e(severity_key(d.severity))}]</td>'
            f'<td class="name">{_e(d.metric)}.{_e(d.stat)}</td><td>{_fmt(d.baseline)}</td><td>{_fmt(d.candidate)}</td>'
            "<td "
            f'class="{delta_class(bool(d.failed), d.difference, d.worse_by)}">{_signed(d.difference)}</td>{fail}</tr>'
        )
    side = (
        f'<div class="figs"><div><h3>baseline</h3>{summary_html(baseline)}</div>'
        f"<div><h3>candidate</h3>{summary_html(candidate)}</div></div>"
    )
    # one figure per statistic a rule gates (cosine's mean when none does): a cell that failed an
    # attention rule is drawn red in the attention figure, never "better" in cosine's
    gated = list(dict.fromkeys((r.metric, r.stat) for r in comparison.rules)) or [("cosine", "mean")]
    fig_html = "".join(
        figure_html(
            F.compare_deltas_png(baseline, candidate, comparison, metric, stat),
            f"deltas of {metric}.{stat}",
            caption=f"candidate - baseline of each cell's {metric}.{stat}"
            + (
                ", with its 95% interval (paired bootstrap with --clipshift-compare-paired, else from the two "
                "runs' own intervals, taken as independent)"
                if stat == "mean"
                else ""
            ),
        )
        for metric, stat in gated
    )
    from ..gate.compare import no_rules_note

    verdict = "FAILED" if comparison.gate_failed else ("PASSED" if comparison.rules else "NOT GATED")
    counted = (
        f"{len(comparison.failures)} regression(s) beyond tolerance."
        if comparison.rules
        else f'<b class="no-rules">{_e(no_rules_note("--fail"))}</b>.'
    )
    body = (
        f'<style>{CSS}</style><div class="clipshift">{side}<h2>Deltas</h2><p>{counted} '
        "Failures first; red: a rule failed; amber: worse but within tolerance; "
        f"green: better; plain: no change at 4 decimals.</p>{fig_html}"
        '<table class="cs" id="clipshift-compare"><thead><tr><th class="name">cell</th><th class="name">metric</th>'
        "<th>baseline</th><th>candidate</th><th>delta</th><th>failed rule</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
    from ..core.runs.jsonfile import write_bytes_atomic

    page = html_page(f"clipshift comparison: {candidate.model.get('name', '?')} \u2014 {verdict}", body)
    path = write_bytes_atomic(path, page.encode("utf-8"), what="comparison report")
    return path
