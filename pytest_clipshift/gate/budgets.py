"""Budgets: limits on metric statistics per augmentation and severity, read from TOML.

Format (its own file, or the same tables under ``[tool.clipshift.budgets]`` in pyproject.toml)::

    [settings]
    augmentations = ["gaussian_noise", "gaussian_blur"]   # zero-code suite; default: all named below
    severities = [1, 3, 5]                                 # default [3]
    confidence = 0.95                                      # optional: gate on the bootstrap bound

    [defaults]
    "cosine.mean" = ">= 0.90"
    "cosine.p05" = ">= 0.75"

    [augmentations.gaussian_noise]
    "cosine.mean" = ">= 0.80"

    [augmentations.gaussian_noise.s5]
    "cosine.mean" = ">= 0.50"

A rule is ``"OP NUMBER"`` (OP one of >=, >, <=, <) or a bare number, which means ``>=`` for
similarities and ``<=`` for distances. The most specific rule for a key wins: severity, then
augmentation, then defaults. This module imports nothing heavy: pytest loads it at start-up.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.cases import DEFAULT_SEVERITY, parse_severity
from ..core.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

OPERATORS = (">=", "<=", ">", "<")
STATS = ("mean", "std", "median", "min", "max", "p05", "p95", "ci95_low", "ci95_high")
SETTINGS_KEYS = ("augmentations", "severities", "confidence", "bound", "metrics")
BOUNDS = ("favourable", "unfavourable")


@dataclass(frozen=True)
class Rule:
    metric: str
    stat: str
    op: str
    threshold: float
    origin: str  # where the rule came from, for messages: file and table

    @property
    def key(self) -> str:
        return f"{self.metric}.{self.stat}"

    def holds(self, value: float) -> bool:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        return {
            ">=": value >= self.threshold,
            ">": value > self.threshold,
            "<=": value <= self.threshold,
            "<": value < self.threshold,
        }[self.op]

    def describe(self) -> str:
        return f"{self.key} {self.op} {self.threshold:g}"


@dataclass
class Budgets:
    source: str
    defaults: dict[str, Rule] = field(default_factory=dict)
    per_augmentation: dict[str, dict[str, Rule]] = field(default_factory=dict)
    per_severity: dict[tuple[str, int | str], dict[str, Rule]] = field(default_factory=dict)
    per_family: dict[str, dict[str, Rule]] = field(default_factory=dict)  # ImageNet-C families
    per_family_severity: dict[tuple[str, int | str], dict[str, Rule]] = field(default_factory=dict)
    augmentations: list[str] | None = None
    severities: list[int | str] = field(default_factory=lambda: [DEFAULT_SEVERITY])
    confidence: float | None = None
    bound: str = "favourable"
    metrics: list[str] = field(default_factory=list)
    compare_rules: list[str] = field(default_factory=list)  # [compare] fail: used when the command line names none

    def rules_for(self, augmentation: str, severity) -> list[Rule]:
        """Most specific wins: the augmentation at this severity, the augmentation, its ImageNet-C
        family at this severity, the family, then the defaults."""
        merged = dict(self.defaults)
        family = _family(augmentation)
        if family is not None:
            merged.update(self.per_family.get(family, {}))
            merged.update(self.per_family_severity.get((family, severity), {}))
        merged.update(self.per_augmentation.get(augmentation, {}))
        merged.update(self.per_severity.get((augmentation, severity), {}))
        return list(merged.values())

    def suite_pairs(self) -> list[tuple[str, int | str]]:
        """The (augmentation, severity) items of the zero-code suite."""
        from ..core.augment.augmentations import DEFAULT_AUGMENTATIONS

        if self.augmentations is not None:
            names = list(self.augmentations)
        else:
            from ..core.augment.imagenet_c import FAMILIES, PREFIX

            families = list(self.per_family) + [f for f, _ in self.per_family_severity]
            named = (
                list(self.per_augmentation)
                + [a for a, _ in self.per_severity]
                + [PREFIX + n for f in dict.fromkeys(families) for n in FAMILIES[f]]
            )
            names = list(dict.fromkeys(named)) or list(DEFAULT_AUGMENTATIONS)
        pairs = [(a, s) for a in names for s in self.severities]
        for a, s in self.per_severity:
            if (a, s) not in pairs:
                pairs.append((a, s))
        return pairs

    def metric_names(self) -> list[str]:
        """Every metric some rule names (``layer_cka@3`` included as is)."""
        names = list(self.metrics)
        tables = [
            self.defaults,
            *self.per_augmentation.values(),
            *self.per_severity.values(),
            *self.per_family.values(),
            *self.per_family_severity.values(),
        ]
        for table in tables:
            for rule in table.values():
                if rule.metric not in names:
                    names.append(rule.metric)
        return names


def parse_rule(key: str, value: Any, origin: str) -> Rule:
    from ..core.metrics import metric_info

    metric, dot, stat = key.rpartition(".")
    if not dot or not metric:
        raise ConfigError(f"{origin}: key {key!r} must be METRIC.STAT, e.g. 'cosine.mean'")
    try:
        info = metric_info(metric)
    except ConfigError as exc:
        raise ConfigError(f"{origin}: key {key!r}: {exc}") from None
    if stat not in STATS:
        raise ConfigError(f"{origin}: key {key!r}: unknown statistic {stat!r}; valid: {', '.join(STATS)}")
    if isinstance(value, bool):
        raise ConfigError(f"{origin}: {key} = {value!r} is not a number or an 'OP NUMBER' string")
    if isinstance(value, (int, float)):
        op, number = (">=" if info.higher_is_better else "<="), float(value)
    elif isinstance(value, str):
        text = value.strip()
        op = next((o for o in OPERATORS if text.startswith(o)), None)
        if op is None:
            raise ConfigError(
                f"{origin}: {key} = {value!r}: unknown operator; write one of {', '.join(OPERATORS)} then a number, "
                "e.g. '>= 0.9'"
            )
        try:
            number = float(text[len(op) :])
        except ValueError:
            raise ConfigError(f"{origin}: {key} = {value!r}: {text[len(op) :].strip()!r} is not a number") from None
    else:
        raise ConfigError(f"{origin}: {key} = {value!r} is not a number or an 'OP NUMBER' string")
    if not math.isfinite(number):
        raise ConfigError(f"{origin}: {key} = {value!r}: the threshold must be finite")
    return Rule(metric, stat, op, number, origin)


def _rules(table: Any, origin: str) -> dict[str, Rule]:
    if not isinstance(table, dict):
        raise ConfigError(f"{origin}: expected a table of 'METRIC.STAT = \"OP NUMBER\"' entries, got {table!r}")
    return {key: parse_rule(key, value, origin) for key, value in table.items()}


def _severity(text: Any, origin: str):
    return parse_severity(text, origin)


def _family(augmentation: str) -> str | None:
    from ..core.augment.imagenet_c import PREFIX, family_of

    return family_of(augmentation) if augmentation.startswith(PREFIX) else None


def budgets_from_mapping(data: dict, source: str) -> Budgets:
    from ..core.augment.augmentations import expand_names, registry

    known = {"settings", "defaults", "augmentations", "families", "compare"}
    unknown = [k for k in data if k not in known]
    if unknown:
        raise ConfigError(
            f"{source}: unknown table(s) {', '.join(map(repr, unknown))}; valid: settings, defaults, "
            "augmentations, families, compare"
        )
    budgets = Budgets(source)
    budgets.compare_rules = _compare_table(data.get("compare", {}), source)
    settings = data.get("settings", {})
    if not isinstance(settings, dict):
        raise ConfigError(f"{source}: [settings] must be a table")
    bad = [k for k in settings if k not in SETTINGS_KEYS]
    if bad:
        raise ConfigError(
            f"{source}: [settings] has unknown key(s) {', '.join(map(repr, bad))}; valid: {', '.join(SETTINGS_KEYS)}"
        )
    valid_augs = registry()
    if "augmentations" in settings:
        augs = settings["augmentations"]
        if not isinstance(augs, list) or not augs or not all(isinstance(a, str) for a in augs):
            raise ConfigError(
                f"{source}: settings.augmentations = {augs!r} must be a non-empty list of names, "
                'e.g. ["identity", "gaussian_noise"] (an empty suite would gate nothing)'
            )
        augs = expand_names(augs)  # "study", "imagenet-c"
        for a in augs:
            if a not in valid_augs:
                raise ConfigError(
                    f"{source}: settings.augmentations: unknown augmentation {a!r}; valid: "
                    f"{', '.join(sorted(valid_augs))}"
                )
        budgets.augmentations = augs
    if "severities" in settings:
        sevs = settings["severities"]
        if not isinstance(sevs, list) or not sevs:
            raise ConfigError(f"{source}: settings.severities must be a non-empty list, e.g. [1, 3, 5]")
        budgets.severities = [_severity(s, f"{source}: settings.severities") for s in sevs]
    if "confidence" in settings:
        c = settings["confidence"]
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not 0.5 <= float(c) < 1:
            raise ConfigError(f"{source}: settings.confidence = {c!r} must be a number in [0.5, 1), e.g. 0.95")
        budgets.confidence = float(c)
    if "bound" in settings:
        if settings["bound"] not in BOUNDS:
            raise ConfigError(f"{source}: settings.bound = {settings['bound']!r}; valid: {', '.join(BOUNDS)}")
        budgets.bound = settings["bound"]
    if "metrics" in settings:
        from ..core.metrics import validate_metrics

        if not isinstance(settings["metrics"], list) or not all(isinstance(m, str) for m in settings["metrics"]):
            raise ConfigError(
                f"{source}: settings.metrics = {settings['metrics']!r} must be a list of metric names, "
                'e.g. ["cosine", "layer_cka"]'
            )
        try:
            budgets.metrics = list(validate_metrics(settings["metrics"]))
        except ConfigError as exc:
            raise ConfigError(f"{source}: settings.metrics: {exc}") from None
    budgets.defaults = _rules(data.get("defaults", {}), f"{source} [defaults]")
    budgets.per_augmentation, budgets.per_severity = _named_tables(
        data.get("augmentations", {}), "augmentations", "augmentation", sorted(valid_augs), source
    )
    from ..core.augment.imagenet_c import FAMILIES

    budgets.per_family, budgets.per_family_severity = _named_tables(
        data.get("families", {}), "families", "ImageNet-C family", list(FAMILIES), source
    )
    return budgets


def _compare_table(table: Any, source: str) -> list[str]:
    """``[compare] fail = ["cosine.mean:2%", ...]``: the rules a compare with a baseline gates on when
    the command line names none (so a suite carries its own gate)."""
    from .compare import parse_compare_rule

    if not isinstance(table, dict) or set(table) - {"fail"}:
        raise ConfigError(f'{source}: [compare] holds only fail = ["METRIC.STAT:TOLERANCE", ...], got {table!r}')
    rules = table.get("fail", [])
    if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
        raise ConfigError(f'{source}: compare.fail = {rules!r} must be a list of rules, e.g. ["cosine.mean:2%"]')
    for rule in rules:
        parse_compare_rule(rule, f"{source} compare.fail")
    return list(rules)


def _named_tables(section: Any, kind: str, what: str, valid: list[str], source: str):
    """``[kind.NAME]`` and ``[kind.NAME.sK]`` tables -> (NAME -> rules, (NAME, severity) -> rules)."""
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: [{kind}] must be a table of {what} tables")
    plain_rules: dict[str, dict[str, Rule]] = {}
    severity_rules: dict[tuple[str, Any], dict[str, Rule]] = {}
    for name, table in section.items():
        origin = f"{source} [{kind}.{name}]"
        if name not in valid:
            raise ConfigError(f"{origin}: unknown {what} {name!r}; valid: {', '.join(valid)}")
        if not isinstance(table, dict):
            raise ConfigError(f"{origin}: must be a table")
        plain_rules[name] = _rules({k: v for k, v in table.items() if not isinstance(v, dict)}, origin)
        for sev_key, sev_table in table.items():
            if isinstance(sev_table, dict):
                sev_origin = f"{source} [{kind}.{name}.{sev_key}]"
                severity_rules[(name, _severity(sev_key, sev_origin))] = _rules(sev_table, sev_origin)
    return plain_rules, severity_rules


def read_toml(path: Path, what: str) -> dict:
    """Parse a TOML file; unreadable, non-UTF-8 or malformed files are a ``ConfigError`` naming it."""
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{what} {path}: cannot be read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {path}: not valid TOML ({exc})") from None


def load_budgets(path: str | Path) -> Budgets:
    """Read a budgets TOML file (or pyproject.toml's ``[tool.clipshift.budgets]``); errors name the file and key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"budgets file {path} does not exist")
    data = read_toml(path, "budgets file")
    if path.name == "pyproject.toml":
        table = data.get("tool", {}).get("clipshift", {}).get("budgets")
        if table is None:
            raise ConfigError(f"{path} has no [tool.clipshift.budgets] table")
        return budgets_from_mapping(table, f"{path} [tool.clipshift.budgets]")
    return budgets_from_mapping(data, str(path))


def budgets_from_marker(rules: dict, test: str) -> dict[str, Rule]:
    return _rules(rules, f"@pytest.mark.clipshift(budget=...) on {test}")


@dataclass
class Check:
    """One rule evaluated on one result."""

    test: str
    augmentation: str
    severity: int | str
    rule: Rule
    value: float
    point: float
    interval: tuple[float, float] | None
    passed: bool

    def record(self):
        """The form a run keeps and writes (``core.runs.checks.RecordedCheck``)."""
        from ..core.runs.checks import RecordedCheck, finite_or_none

        return RecordedCheck(
            test=self.test,
            augmentation=self.augmentation,
            severity=self.severity,
            metric=self.rule.metric,
            stat=self.rule.stat,
            op=self.rule.op,
            threshold=self.rule.threshold,
            value=finite_or_none(self.value),
            point=finite_or_none(self.point),
            interval=None if self.interval is None else tuple(finite_or_none(x) for x in self.interval),
            passed=self.passed,
        )

    def to_dict(self) -> dict:
        return self.record().to_dict()


def evaluate(
    result, rules: list[Rule], test: str, confidence: float | None = None, bound: str = "favourable"
) -> list[Check]:
    """Evaluate ``rules`` on a ``ShiftResult``.

    With ``confidence`` a mean rule is judged on the bootstrap interval of the mean at that level:
    ``favourable`` (default) fails only when the whole interval breaks the rule, so a small noisy
    sample does not flake the gate; ``unfavourable`` fails unless the whole interval keeps it.
    """
    from ..core.runs.summary import bootstrap_ci

    checks = []
    for rule in rules:
        if rule.metric not in result.values:
            raise ConfigError(
                f"{rule.origin}: metric {rule.metric!r} was not measured for {result.key}; measured: "
                f"{', '.join(result.values)}"
            )
        point = result.stat(rule.metric, rule.stat)
        value, interval = point, None
        if confidence is not None and rule.stat == "mean":
            values = result.values[rule.metric]
            finite = values[values == values]  # NaN (undefined) values excluded, as in the summaries
            interval = (
                bootstrap_ci(finite, seed=int(result.seed) + 17, level=confidence)
                if len(finite)
                else (math.nan, math.nan)
            )
            upper_ok = rule.op in (">=", ">")
            favourable = bound == "favourable"
            value = interval[1] if upper_ok == favourable else interval[0]
        checks.append(
            Check(test, result.augmentation, result.severity, rule, value, point, interval, rule.holds(value))
        )
    return checks
