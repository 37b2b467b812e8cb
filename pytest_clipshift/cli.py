"""The ``clipshift`` command: ``report``, ``compare``, ``merge``, ``history`` and ``export`` on saved
results files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .core.errors import MALFORMED_INPUT_ERRORS, ClipShiftError, ConfigError
from .core.text import clean_text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clipshift", description="Work with clipshift results files.")
    sub = parser.add_subparsers(dest="command", required=True)
    report = sub.add_parser("report", help="render the HTML report of a results file")
    report.add_argument("results", type=Path, help="results JSON written by --clipshift-json or --clipshift-save")
    report.add_argument("-o", "--output", type=Path, default=Path("clipshift-report.html"), help="HTML file to write")
    report.add_argument("--storage", type=Path, help="saved runs: add this suite's trend across releases")
    compare = sub.add_parser("compare", help="compare a candidate run with a baseline run; exit 1 on a regression")
    compare.add_argument("baseline", type=Path)
    compare.add_argument("candidate", type=Path)
    compare.add_argument(
        "--fail",
        action="append",
        default=[],
        metavar="RULE",
        help="e.g. cosine.mean:2%% (relative) or cosine.mean:0.01 (absolute); repeatable",
    )
    compare.add_argument("--paired", action="store_true", help="fail only on a significant paired regression")
    compare.add_argument(
        "--allow-missing",
        action="store_true",
        help="do not fail when the candidate lacks cells the baseline has (they are still listed)",
    )
    compare.add_argument(
        "--regressions-only",
        action="store_true",
        help="print only the cells that fail a rule (and those missing from the candidate)",
    )
    compare.add_argument("-o", "--output", type=Path, help="also write an HTML side-by-side view")
    merge = sub.add_parser("merge", help="merge results files of CI shards into one run")
    merge.add_argument("inputs", type=Path, nargs="+")
    merge.add_argument("-o", "--output", type=Path, required=True)
    statistic = dict(
        action="append",
        metavar="METRIC.STAT",
        help="a statistic to show, e.g. cosine.mean (repeatable; default cosine.mean and attention_correlation.mean)",
    )
    history = sub.add_parser("history", help="tabulate the saved runs of a storage folder, oldest first")
    history.add_argument("storage", type=Path, nargs="?", default=Path(".clipshift"), help="default .clipshift")
    history.add_argument("--statistic", **statistic)
    history.add_argument("-o", "--output", type=Path, help="also write an HTML page with each statistic's trend")
    export = sub.add_parser("export", help="write a results file in another tool's format")
    export.add_argument("results", type=Path)
    export.add_argument("--format", choices=["github-action-benchmark"], required=True)
    export.add_argument("--statistic", **statistic)
    export.add_argument(
        "-o", "--output", type=Path, required=True, help="folder for bigger-is-better.json and smaller-is-better.json"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        commands = {"report": _report, "compare": _compare, "merge": _merge, "history": _history, "export": _export}
        return commands[args.command](args)
    except ClipShiftError as exc:
        print(f"clipshift {args.command}: error: {clean_text(str(exc))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `clipshift compare ... | head`: the reader has all it wanted
        _quiet_stdout()
        return 0
    except MALFORMED_INPUT_ERRORS as exc:
        print(
            f"clipshift {args.command}: error: {' '.join(map(str, _inputs(args)))}: not a results file clipshift can "
            f"use ({type(exc).__name__}: {clean_text(str(exc))[:200]})",
            file=sys.stderr,
        )
        return 2


def _inputs(args) -> list[Path]:
    return [
        p
        for p in (
            getattr(args, "results", None),
            getattr(args, "baseline", None),
            getattr(args, "candidate", None),
            *getattr(args, "inputs", []),
        )
        if p is not None
    ]


def _quiet_stdout() -> None:
    import os

    try:  # Python would report the broken pipe again when it flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError:
        pass


def _report(args) -> int:
    from .core.runs.results import RunResult
    from .report.html import write_report

    run = RunResult.read_json(args.results)
    path = write_report(run, args.output, args.storage)
    print(f"report written to {path}")
    return 0


def _compare(args) -> int:
    from .core.cases import severity_key
    from .core.runs.results import RunResult
    from .gate.compare import compare_runs, parse_compare_rule

    baseline = RunResult.read_json(args.baseline)
    candidate = RunResult.read_json(args.candidate)
    rules = [parse_compare_rule(r, "--fail") for r in args.fail]
    comparison = compare_runs(
        baseline,
        candidate,
        rules,
        baseline_source=str(args.baseline),
        paired=args.paired,
        allow_missing=args.allow_missing,
    )
    for path, run in ((args.baseline, baseline), (args.candidate, candidate)):
        if not run.complete:
            print(f"warning: {path} is an incomplete run ({'; '.join(run.coverage['reasons'])})", file=sys.stderr)
    shown = [d for d in comparison.deltas if d.failed or (d.stat == "mean" and not args.regressions_only)]
    for d in sorted(shown, key=lambda d: not d.failed):  # failures first, then file order
        flag = f"  FAIL {', '.join(d.failed)}" if d.failed else ""
        sig = "" if d.significant is None else ("  significant" if d.significant else "  not significant")
        print(f"{d.augmentation}[{severity_key(d.severity)}] {d.metric}.{d.stat}: {d.describe()}{sig}{flag}")
    from .gate.corruption_error import corruption_errors

    errors = corruption_errors(baseline, candidate, candidate.settings.get("ce_metric", "cosine"), str(args.baseline))
    if errors is not None:
        from .report.html import percent

        def pct(v):
            return percent(v, "-")

        families = ", ".join(f"{f} {pct(row['mce'])}" for f, row in errors.families.items())
        print(
            f"ImageNet-C ({errors.metric}): mCE {pct(errors.mce)}, relative mCE {pct(errors.relative_mce)}"
            + (f"; by family: {families}" if families else "")
        )
    if args.output:
        from .report.html import write_compare_report

        write_compare_report(baseline, candidate, comparison, args.output)
        print(f"comparison written to {args.output}")
    if comparison.missing:
        verdict = (
            "allowed by --allow-missing"
            if comparison.allow_missing
            else "this fails the compare; --allow-missing accepts it"
        )
        print(
            f"{len(comparison.missing)} baseline cell(s) not in the candidate ({verdict}): "
            f"{', '.join(comparison.missing)}",
            file=sys.stderr,
        )
    if comparison.failures:
        print(f"{len(comparison.failures)} regression(s) beyond tolerance", file=sys.stderr)
    if comparison.gate_failed:
        return 1
    if not comparison.rules:
        from .gate.compare import no_rules_note

        print(no_rules_note("--fail"))
        return 0
    print("no regression beyond tolerance")
    return 0


def _merge(args) -> int:
    from .core.runs.combine import merge_runs
    from .core.runs.results import RunResult

    runs = [RunResult.read_json(p) for p in args.inputs]
    merged = merge_runs(runs, [str(p) for p in args.inputs])
    merged.write_json(args.output)
    print(f"merged {len(runs)} runs ({len(merged.results)} results) into {args.output}")
    return 0


def _statistics(args) -> list[str]:
    from .core.metrics import metric_info
    from .gate.budgets import STATS

    chosen = args.statistic or ["cosine.mean", "attention_correlation.mean"]
    for statistic in chosen:
        metric, dot, stat = statistic.rpartition(".")
        if not dot or stat not in STATS:
            raise ConfigError(f"--statistic {statistic!r}: expected METRIC.STAT with STAT one of {', '.join(STATS)}")
        metric_info(metric)
    return chosen


def _history(args) -> int:
    from .report.history import history_html, history_table, read_history

    statistics = _statistics(args)
    rows, problems = read_history(args.storage, statistics)
    for problem in problems:
        print(f"warning: skipped {clean_text(problem)}", file=sys.stderr)
    if not rows:
        raise ConfigError(f"no saved runs in {args.storage}; save one with pytest --clipshift --clipshift-save NAME")
    for line in history_table(rows, statistics):
        print(clean_text(line))
    if args.output:
        from .core.runs.jsonfile import write_bytes_atomic
        from .report.html import CSS
        from .report.markup import html_page

        body = f'<style>{CSS}</style><div class="clipshift">{history_html(rows, statistics, "History")}</div>'
        write_bytes_atomic(args.output, html_page(f"clipshift history: {args.storage}", body).encode(), what="history")
        print(f"history written to {args.output}")
    return 0


def _export(args) -> int:
    import json

    from .core.runs.jsonfile import write_bytes_atomic
    from .core.runs.results import RunResult
    from .report.history import benchmark_entries

    run = RunResult.read_json(args.results)
    entries = benchmark_entries(run, _statistics(args))
    files = {"customBiggerIsBetter": "bigger-is-better.json", "customSmallerIsBetter": "smaller-is-better.json"}
    for tool, name in files.items():
        path = write_bytes_atomic(args.output / name, json.dumps(entries[tool], indent=1).encode(), what="export")
        print(f"{len(entries[tool])} entries for github-action-benchmark's tool: '{tool}' written to {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
