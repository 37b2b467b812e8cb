"""Command line + ini + pyproject resolved into one typed ``ClipShiftConfig``.

Every ``--clipshift-*`` flag has an ini twin ``clipshift_*`` with a real type. The command line
beats the ini file, which beats the default. Nothing heavy is imported here: pytest loads it at
start-up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError


@dataclass(frozen=True)
class Option:
    name: str  # ini name, e.g. clipshift_model; the flag is --clipshift-model
    ini_type: str  # string, bool, int, float, args
    default: Any
    help: str
    metavar: str | None = None
    nargs: str | None = None
    const: Any = None
    append: bool = False

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def dest(self) -> str:
        return self.name


OPTIONS: tuple[Option, ...] = (
    Option("clipshift", "bool", False, "run the clipshift robustness tests (without it they are skipped)"),
    Option("clipshift_model", "string", "demo", "model: 'demo', a local Hugging Face directory or a hub id in the local cache", "SPEC"),
    Option("clipshift_device", "string", "auto", "device: auto (cuda, mps, cpu), cpu, cuda, cuda:N or mps", "DEVICE"),
    Option("clipshift_precision", "string", "fp32", "precision: fp32, fp16 or bf16", "PREC"),
    Option("clipshift_images", "string", None, "images: a directory, a glob, 'samples' or 'demo-scenes' (default: demo-scenes for the demo model, else samples)", "SPEC"),
    Option("clipshift_max_images", "int", None, "use at most N images (demo-scenes: generate N; default 32)", "N"),
    Option("clipshift_seed", "int", 0, "seed of every random draw (augmentations, scenes, bootstrap)", "SEED"),
    Option("clipshift_batch_size", "int", 32, "images per forward pass", "N"),
    Option("clipshift_augmentations", "args", None, "augmentations for the 'augmentation' fixture (default: identity and the study's nine)", "NAME", nargs="+"),
    Option("clipshift_severities", "args", None, "severities for the 'augmentation' fixture: 1-5 or paper (default 3)", "S", nargs="+"),
    Option("clipshift_metrics", "args", None, "extra metrics to measure beyond the defaults and those the budgets name", "NAME", nargs="+"),
    Option("clipshift_budgets", "string", None, "budgets TOML file (or pyproject.toml with [tool.clipshift.budgets]); enables the zero-code suite", "FILE"),
    Option("clipshift_json", "string", None, "write the results JSON to FILE", "FILE"),
    Option("clipshift_storage", "string", ".clipshift", "folder of saved runs", "DIR"),
    Option("clipshift_save", "string", None, "save this run as NAME in the storage folder", "NAME"),
    Option("clipshift_compare", "string", None, "compare with a saved run: NAME, a results file, or the latest if no value", "NAME|PATH", nargs="?", const="latest"),
    Option("clipshift_compare_fail", "args", None, "fail when worse than the baseline, e.g. cosine.mean:2% or cosine.mean:0.01 (repeatable)", "RULE", append=True),
    Option("clipshift_compare_paired", "bool", False, "fail a compare rule only on a significant paired regression (bootstrap over per-image differences)"),
    Option("clipshift_compare_allow_missing", "bool", False, "do not fail the compare on baseline cells this run did not measure (they are still listed)"),
    Option("clipshift_update_baseline", "bool", False, "accept this run as the compared baseline: its cells replace the baseline's, the rest are kept"),
    Option("clipshift_cache_dir", "string", ".clipshift/cache", "embedding cache folder", "DIR"),
    Option("clipshift_no_cache", "bool", False, "do not read or write the embedding cache"),
    Option("clipshift_shard", "string", None, "run shard K of N of the clipshift items (stable split by item id), e.g. 2/4", "K/N"),
    Option("clipshift_labels", "args", None, "zero-shot label names for the text metrics (default: the image set's own labels)", "LABEL", nargs="+"),
    Option("clipshift_prompt_template", "string", "a photo of a {}", "zero-shot prompt template; {} is replaced by the label", "TEXT"),
    Option("clipshift_canvas_size", "int", 224, "side in px of the canvas augmentations act on (at least the model's input size, at most 4096)", "PX"),
    Option("clipshift_trust_remote_code", "bool", False, "allow a model directory's own Python code (auto_map) to run; off: such a model is refused"),
)

LIMITS = {"clipshift_canvas_size": 4096, "clipshift_batch_size": 4096, "clipshift_max_images": 10_000_000}
"""Upper bounds of the size options: beyond them a run only exhausts memory (a 100000 px canvas is 30 GB)."""

FIXTURE_NAMES = ("clip_model", "clipshift_images", "augmentation", "clipshift", "clipshift_session")


def add_options(parser) -> None:
    group = parser.getgroup("clipshift", "clipshift: CLIP embedding-shift robustness gate")
    for opt in OPTIONS:
        kwargs: dict[str, Any] = {"dest": opt.dest, "help": opt.help.replace("%", "%%"), "default": None}
        if opt.ini_type == "bool":
            kwargs["action"] = "store_true"
        elif opt.append:
            kwargs.update(action="append", metavar=opt.metavar)
        else:
            kwargs["metavar"] = opt.metavar
            if opt.nargs:
                kwargs["nargs"] = opt.nargs
            if opt.const is not None:
                kwargs["const"] = opt.const
            if opt.ini_type == "int":
                kwargs["type"] = int
        group.addoption(opt.flag, **kwargs)
        parser.addini(opt.name, opt.help, type=opt.ini_type, default=None)


@dataclass
class ClipShiftConfig:
    enabled: bool
    model: str
    device: str
    precision: str
    images: str
    max_images: int | None
    seed: int
    batch_size: int
    augmentations: list[str]
    severities: list[int | str]
    metrics: list[str]
    budgets_path: Path | None
    json_path: Path | None
    storage: Path
    save: str | None
    compare: str | None
    compare_fail: list[str]
    compare_paired: bool
    compare_allow_missing: bool
    update_baseline: bool
    cache_dir: Path | None
    shard: tuple[int, int] | None
    canvas_size: int
    root: Path
    html: bool
    labels: list[str]
    prompt_template: str
    trust_remote_code: bool = False
    sources: dict[str, str] = field(default_factory=dict)  # option -> "command line" / "ini" / "default"


def _raw(config, opt: Option) -> tuple[Any, str]:
    value = config.getoption(opt.dest, None)
    if value is not None and value is not False and value != []:
        if opt.append:
            value = [v for item in value for v in str(item).split()]
        return value, "command line"
    try:
        ini = config.getini(opt.name)
    except ValueError as exc:
        raise ConfigError(f"ini option {opt.name}: {exc}") from None
    if ini is not None and ini != [] and not (opt.ini_type == "bool" and ini is False and opt.default is False):
        return ini, "ini"
    return opt.default, "default"


def _paths_base(config, source: str) -> Path:
    if source == "ini" and config.inipath is not None:
        return Path(config.inipath).parent
    return Path(config.invocation_params.dir)


def resolve(config) -> ClipShiftConfig:
    """Resolve and validate every option; a bad value raises ``ConfigError`` naming the option."""
    from ..core.augmentations import DEFAULT_AUGMENTATIONS, PAPER, SEVERITIES, registry

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for opt in OPTIONS:
        values[opt.name], sources[opt.name] = _raw(config, opt)

    def path_of(name: str) -> Path | None:
        v = values[name]
        if v in (None, ""):
            return None
        p = Path(str(v)).expanduser()
        return p if p.is_absolute() else _paths_base(config, sources[name]) / p

    def positive(name: str) -> int | None:
        v = values[name]
        if v is None:
            return None
        top = LIMITS.get(name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1 or (top is not None and v > top):
            bound = f"between 1 and {top}" if top is not None else "of at least 1"
            raise ConfigError(f"{_label(name, sources)} = {v!r}: must be a whole number {bound}")
        return v

    device = str(values["clipshift_device"])
    if device not in ("auto", "cpu", "cuda", "mps") and not re.fullmatch(r"cuda:\d+", device):
        raise ConfigError(f"{_label('clipshift_device', sources)} = {device!r}: valid: auto, cpu, cuda, cuda:N, mps")
    precision = str(values["clipshift_precision"])
    if precision not in ("fp32", "fp16", "bf16"):
        raise ConfigError(f"{_label('clipshift_precision', sources)} = {precision!r}: valid: fp32, fp16, bf16")
    seed = values["clipshift_seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"{_label('clipshift_seed', sources)} = {seed!r}: must be a whole number >= 0")
    augs = list(values["clipshift_augmentations"] or DEFAULT_AUGMENTATIONS)
    known = registry()
    for a in augs:
        if a not in known:
            raise ConfigError(f"{_label('clipshift_augmentations', sources)}: unknown augmentation {a!r}; valid: {', '.join(sorted(known))}")
    sevs: list[int | str] = []
    for s in values["clipshift_severities"] or [3]:
        t = str(s).lstrip("s") if str(s) != PAPER else PAPER
        sev = int(t) if t.isdigit() else t
        if sev not in (*SEVERITIES, PAPER):
            raise ConfigError(f"{_label('clipshift_severities', sources)}: {s!r} is not one of 1, 2, 3, 4, 5, paper")
        sevs.append(sev)
    metrics = list(values["clipshift_metrics"] or [])
    if metrics:
        from ..core.metrics import validate_metrics

        try:
            validate_metrics(metrics)
        except ConfigError as exc:
            raise ConfigError(f"{_label('clipshift_metrics', sources)}: {exc}") from None
    shard = None
    if values["clipshift_shard"]:
        m = re.fullmatch(r"(\d+)/(\d+)", str(values["clipshift_shard"]).strip())
        if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
            raise ConfigError(f"{_label('clipshift_shard', sources)} = {values['clipshift_shard']!r}: expected K/N with 1 <= K <= N, e.g. 2/4")
        shard = (int(m.group(1)), int(m.group(2)))
    canvas = positive("clipshift_canvas_size") or 224
    if canvas < 8:
        raise ConfigError(f"{_label('clipshift_canvas_size', sources)} = {canvas}: must be at least 8")
    model = str(values["clipshift_model"])
    images = values["clipshift_images"] or ("demo-scenes" if model == "demo" else "samples")
    images_base = _paths_base(config, sources["clipshift_images"])
    budgets_path = path_of("clipshift_budgets")
    if budgets_path is not None and not budgets_path.is_file():
        raise ConfigError(f"{_label('clipshift_budgets', sources)}: budgets file {budgets_path} does not exist")
    compare_fail = list(values["clipshift_compare_fail"] or [])
    from ..gate.compare import parse_compare_rule

    for rule in compare_fail:
        parse_compare_rule(rule, _label("clipshift_compare_fail", sources))
    save = values["clipshift_save"]
    if save is not None:
        from ..gate.storage import check_run_name

        check_run_name(str(save), _label("clipshift_save", sources))
    return ClipShiftConfig(
        enabled=bool(values["clipshift"]), model=model, device=device, precision=precision,
        images=str(images), max_images=positive("clipshift_max_images"), seed=seed,
        batch_size=positive("clipshift_batch_size") or 32, augmentations=augs, severities=sevs, metrics=metrics,
        budgets_path=budgets_path, json_path=path_of("clipshift_json"), storage=path_of("clipshift_storage") or Path(".clipshift"),
        save=save, compare=values["clipshift_compare"], compare_fail=compare_fail,
        compare_paired=bool(values["clipshift_compare_paired"]), update_baseline=bool(values["clipshift_update_baseline"]),
        compare_allow_missing=bool(values["clipshift_compare_allow_missing"]),
        trust_remote_code=bool(values["clipshift_trust_remote_code"]),
        cache_dir=None if values["clipshift_no_cache"] else path_of("clipshift_cache_dir"),
        shard=shard, canvas_size=canvas, root=images_base, html=bool(config.getoption("htmlpath", None)),
        labels=list(values["clipshift_labels"] or []), prompt_template=str(values["clipshift_prompt_template"]),
        sources=sources,
    )


def _label(name: str, sources: dict[str, str]) -> str:
    flag = "--" + name.replace("_", "-")
    return flag if sources.get(name) != "ini" else f"ini option {name}"


def pyproject_budgets(config) -> Path | None:
    """pyproject.toml beside the ini file, when it holds [tool.clipshift.budgets]."""
    from ..gate.budgets import read_toml

    candidates = []
    if config.inipath is not None:
        candidates.append(Path(config.inipath).parent / "pyproject.toml")
    candidates.append(Path(config.rootpath) / "pyproject.toml")
    for path in candidates:
        if path.is_file():
            try:
                data = read_toml(path, "pyproject")
            except ConfigError:
                return None  # not ours to judge: pytest itself reports a broken pyproject.toml
            if "budgets" in data.get("tool", {}).get("clipshift", {}):
                return path
    return None
