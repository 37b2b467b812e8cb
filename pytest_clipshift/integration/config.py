"""Command line + ini + pyproject resolved into one typed ``ClipShiftConfig``.

Every ``--clipshift-*`` flag has an ini twin ``clipshift_*`` with a real type. The command line
beats the ini file, which beats the default. Nothing heavy is imported here: pytest loads it at
start-up.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
    convert: Callable[[Any, str], Any] | None = None  # (raw value, label for messages) -> typed value
    field: str | None = None  # the ClipShiftConfig field (default: the name without "clipshift_")
    path: bool = False  # a path: relative to the ini file's folder (ini) or to where pytest was started

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def config_field(self) -> str:
        return self.field or (self.name[len("clipshift_") :] if self.name != "clipshift" else "enabled")

    @property
    def dest(self) -> str:
        return self.name


# ------------------------------------------------------------------ converters: (raw value, label) -> typed value
# Each raises ConfigError naming the option (its flag, or "ini option NAME") and what would be right.


def _device(value, label: str) -> str:
    device = str(value)
    if device not in ("auto", "cpu", "cuda", "mps") and not re.fullmatch(r"cuda:\d+", device):
        raise ConfigError(f"{label} = {device!r}: valid: auto, cpu, cuda, cuda:N, mps")
    return device


def _precision(value, label: str) -> str:
    if str(value) not in ("fp32", "fp16", "bf16"):
        raise ConfigError(f"{label} = {value!r}: valid: fp32, fp16, bf16")
    return str(value)


def _sink_factor(value, label: str) -> float:
    try:
        factor = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{label} = {value!r}: not a number; e.g. 10 (a sink's norm is 10x the median)") from None
    if not 1 < factor <= 1e6:
        raise ConfigError(f"{label} = {value!r}: must be a number above 1 (a multiple of the median patch norm)")
    return factor


def _choice(value, label: str, valid: tuple[str, ...]) -> str:
    if str(value) not in valid:
        raise ConfigError(f"{label} = {value!r}: valid: {', '.join(valid)}")
    return str(value)


def _seed(value, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{label} = {value!r}: must be a whole number >= 0")
    return value


def _positive(top: int, least: int = 1) -> Callable[[Any, str], int | None]:
    def convert(value, label: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= top:
            raise ConfigError(f"{label} = {value!r}: must be a whole number between {least} and {top}")
        return value

    return convert


def _augmentations(value, label: str) -> list[str]:
    from ..core.augment.augmentations import DEFAULT_AUGMENTATIONS, expand_names, registry

    names = expand_names(value or DEFAULT_AUGMENTATIONS)  # "study", "imagenet-c" stand for their members
    known = registry()
    for name in names:
        if name not in known:
            raise ConfigError(f"{label}: unknown augmentation {name!r}; valid: {', '.join(sorted(known))}")
    return names


def _severities(value, label: str) -> list:
    from ..core.cases import DEFAULT_SEVERITY, parse_severity

    return [parse_severity(s, label) for s in (value or [DEFAULT_SEVERITY])]


def _metrics(value, label: str) -> list[str]:
    from ..core.metrics import validate_metrics

    names = list(value or [])
    try:
        validate_metrics(names)
    except ConfigError as exc:
        raise ConfigError(f"{label}: {exc}") from None
    return names


SHARD_VARIABLES = (
    ("CLIPSHIFT_SHARD", None),  # K/N
    ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"),  # a SLURM array: ids from SLURM_ARRAY_TASK_MIN
    ("RANK", "WORLD_SIZE"),  # torchrun: 0-based ranks
)


def shard_from_environment(environ=None) -> str:
    """--clipshift-shard=auto: K/N from the scheduler's own variables (the first set of CLIPSHIFT_SHARD,
    a SLURM array, torchrun's RANK and WORLD_SIZE)."""
    import os

    env = os.environ if environ is None else environ
    if env.get("CLIPSHIFT_SHARD"):
        return env["CLIPSHIFT_SHARD"]
    for index, count in SHARD_VARIABLES[1:]:
        if env.get(index) not in (None, "") and env.get(count) not in (None, ""):
            first = env.get("SLURM_ARRAY_TASK_MIN", "0") if index.startswith("SLURM") else "0"
            if not all(str(v).isdigit() for v in (env[index], env[count], first)):
                found = f"{index}={env[index]!r}, {count}={env[count]!r}"
                raise ConfigError(f"--clipshift-shard=auto: {found}: not whole numbers")
            return f"{int(env[index]) - int(first) + 1}/{int(env[count])}"
    names = ", ".join(i if c is None else f"{i} with {c}" for i, c in SHARD_VARIABLES)
    raise ConfigError(f"--clipshift-shard=auto: none of {names} is set; give K/N, e.g. --clipshift-shard=2/4")


def _shard(value, label: str) -> tuple[int, int] | None:
    if not value:
        return None
    if str(value).strip() == "auto":
        value, label = shard_from_environment(), f"{label} (auto)"
    m = re.fullmatch(r"(\d+)/(\d+)", str(value).strip())
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise ConfigError(f"{label} = {value!r}: expected K/N with 1 <= K <= N, e.g. 2/4")
    return int(m.group(1)), int(m.group(2))


def _compare_rules(value, label: str) -> list[str]:
    from ..gate.compare import parse_compare_rule

    rules = list(value or [])
    for rule in rules:
        parse_compare_rule(rule, label)
    return rules


def _run_name(value, label: str) -> str | None:
    if value is None:
        return None
    from ..gate.storage import check_run_name

    check_run_name(str(value), label)
    return str(value)


def _augment_device(value, label: str) -> str:
    device = str(value)
    if device not in ("auto", "cpu", "cuda") and not re.fullmatch(r"cuda:\d+", device):
        raise ConfigError(f"{label} = {device!r}: valid: auto, cpu, cuda, cuda:N")
    return device


def _ce_metric(value, label: str) -> str:
    from ..core.metrics import metric_info, split_layer

    name = str(value)
    try:
        metric_info(name)
    except ConfigError as exc:
        raise ConfigError(f"{label}: {exc}") from None
    if split_layer(name)[1] is not None:
        raise ConfigError(f"{label} = {name!r}: give a whole-model metric (cosine, l2_normalized, zero_shot_flip, ...)")
    return name


def _text(value, label: str) -> str | None:
    return None if value is None else str(value)


def _flag(value, label: str) -> bool:
    return bool(value)


def _words(value, label: str) -> list[str]:
    return list(value or [])


LIMITS = {"clipshift_canvas_size": 4096, "clipshift_batch_size": 4096, "clipshift_max_images": 10_000_000}
"""Upper bounds of the size options: beyond them a run only exhausts memory (a 100000 px canvas is 30 GB)."""

OPTIONS: tuple[Option, ...] = (
    Option(
        "clipshift", "bool", False, "run the clipshift robustness tests (without it they are skipped)", convert=_flag
    ),
    Option(
        "clipshift_model",
        "string",
        "demo",
        "model: 'demo', a local Hugging Face directory, a hub id in the local cache, or open_clip:ARCH:WEIGHTS",
        "SPEC",
        convert=_text,
    ),
    Option(
        "clipshift_device",
        "string",
        "auto",
        "device: auto (cuda, mps, cpu), cpu, cuda, cuda:N or mps",
        "DEVICE",
        convert=_device,
    ),
    Option(
        "clipshift_augment_device",
        "string",
        "auto",
        "where augmentations with a batched torch version run: auto (the model's GPU, else the CPU reference path), "
        "cpu, cuda",
        "DEV",
        convert=_augment_device,
    ),
    Option("clipshift_precision", "string", "fp32", "precision: fp32, fp16 or bf16", "PREC", convert=_precision),
    Option(
        "clipshift_images",
        "string",
        None,
        "images: a directory, a glob, 'samples' or 'demo-scenes' (default: demo-scenes for the demo model, else "
        "samples)",
        "SPEC",
        convert=_text,
    ),
    Option(
        "clipshift_image_column",
        "string",
        "image",
        "Hugging Face dataset column holding the images",
        "NAME",
        convert=_text,
    ),
    Option(
        "clipshift_label_column",
        "string",
        "label",
        "dataset column holding the labels (a ClassLabel gives its names)",
        "NAME",
        convert=_text,
    ),
    Option(
        "clipshift_caption_column", "string", "caption", "dataset column holding the captions", "NAME", convert=_text
    ),
    Option("clipshift_split", "string", None, "dataset split (default: the only or first one)", "NAME", convert=_text),
    Option(
        "clipshift_max_images",
        "int",
        None,
        "use at most N images (demo-scenes: generate N; default 32)",
        "N",
        convert=_positive(LIMITS["clipshift_max_images"]),
    ),
    Option(
        "clipshift_seed",
        "int",
        0,
        "seed of every random draw (augmentations, scenes, bootstrap)",
        "SEED",
        convert=_seed,
    ),
    Option(
        "clipshift_attack_steps",
        "int",
        10,
        "gradient steps of the adversarial cases' attack (each step one forward and backward per image)",
        "N",
        convert=_positive(1000),
    ),
    Option(
        "clipshift_attack_loss",
        "string",
        "cosine",
        "adversarial.embedding's loss: cosine (minimised) or l2 (FARE's squared L2, maximised)",
        "LOSS",
        convert=lambda v, label: _choice(v, label, ("cosine", "l2")),
    ),
    Option(
        "clipshift_attack_method",
        "string",
        "pgd",
        "the attack: pgd (projected gradient descent) or apgd (Croce & Hein's step-size schedule)",
        "METHOD",
        convert=lambda v, label: _choice(v, label, ("pgd", "apgd")),
    ),
    Option(
        "clipshift_attack_restarts",
        "int",
        1,
        "random starts of each attack; the strongest is kept, image by image",
        "N",
        convert=_positive(100),
    ),
    Option(
        "clipshift_keep_embeddings",
        "string",
        "auto",
        "keep every augmented embedding for the results and the report (yes), or only what memory needs "
        "(no: distances streamed chunk by chunk); auto: keep for image sets of at most 1,000 images",
        "auto|yes|no",
        convert=lambda v, label: _choice(v, label, ("auto", "yes", "no")),
    ),
    Option(
        "clipshift_sink_factor",
        "string",
        "10",
        "a patch token is an attention sink when its norm exceeds this many times its image's median patch norm",
        "X",
        convert=_sink_factor,
    ),
    Option(
        "clipshift_draws",
        "int",
        1,
        "independent random draws of each augmentation case; K >= 2 adds divergence_radius (the spread of an image's "
        "K augmented embeddings)",
        "K",
        convert=_positive(64),
    ),
    Option(
        "clipshift_batch_size",
        "int",
        32,
        "images per forward pass",
        "N",
        convert=_positive(LIMITS["clipshift_batch_size"]),
    ),
    Option(
        "clipshift_augmentations",
        "args",
        None,
        "augmentations for the 'augmentation' fixture (default: identity and the study's nine)",
        "NAME",
        nargs="+",
        convert=_augmentations,
    ),
    Option(
        "clipshift_severities",
        "args",
        None,
        "severities for the 'augmentation' fixture: 1-5 or paper (default 3)",
        "S",
        nargs="+",
        convert=_severities,
    ),
    Option(
        "clipshift_metrics",
        "args",
        None,
        "extra metrics to measure beyond the defaults and those the budgets name",
        "NAME",
        nargs="+",
        convert=_metrics,
    ),
    Option(
        "clipshift_budgets",
        "string",
        None,
        "budgets TOML file (or pyproject.toml with [tool.clipshift.budgets]); enables the zero-code suite",
        "FILE",
        convert=_text,
        field="budgets_path",
        path=True,
    ),
    Option(
        "clipshift_json",
        "string",
        None,
        "write the results JSON to FILE",
        "FILE",
        convert=_text,
        field="json_path",
        path=True,
    ),
    Option(
        "clipshift_summary",
        "string",
        None,
        "write the verdict as a Markdown job summary to FILE (under GitHub Actions it is also appended to "
        "$GITHUB_STEP_SUMMARY)",
        "FILE",
        convert=_text,
        field="summary_path",
        path=True,
    ),
    Option(
        "clipshift_comment",
        "string",
        None,
        "write a pull-request comment body to FILE (Markdown under 64 KB, its first line <!-- clipshift -->)",
        "FILE",
        convert=_text,
        field="comment_path",
        path=True,
    ),
    Option("clipshift_storage", "string", ".clipshift", "folder of saved runs", "DIR", convert=_text, path=True),
    Option("clipshift_save", "string", None, "save this run as NAME in the storage folder", "NAME", convert=_run_name),
    Option(
        "clipshift_compare",
        "string",
        None,
        "compare with a saved run: NAME, a results file, or the latest if no value",
        "NAME|PATH",
        nargs="?",
        const="latest",
        convert=_text,
    ),
    Option(
        "clipshift_compare_fail",
        "args",
        None,
        "fail when worse than the baseline, e.g. cosine.mean:2% or cosine.mean:0.01 (repeatable)",
        "RULE",
        append=True,
        convert=_compare_rules,
    ),
    Option(
        "clipshift_compare_paired",
        "bool",
        False,
        "fail a compare rule only on a significant paired regression (bootstrap over per-image differences)",
        convert=_flag,
    ),
    Option(
        "clipshift_compare_allow_missing",
        "bool",
        False,
        "do not fail the compare on baseline cells this run did not measure (they are still listed)",
        convert=_flag,
    ),
    Option(
        "clipshift_ce_metric",
        "string",
        "cosine",
        "the metric ImageNet-C corruption errors (CE, mCE) are read from: 1 - mean of a similarity, the mean of a "
        "distance",
        "METRIC",
        convert=_ce_metric,
    ),
    Option(
        "clipshift_update_baseline",
        "bool",
        False,
        "accept this run as the compared baseline: its cells replace the baseline's, the rest are kept",
        convert=_flag,
    ),
    Option(
        "clipshift_cache_dir", "string", ".clipshift/cache", "embedding cache folder", "DIR", convert=_text, path=True
    ),
    Option("clipshift_no_cache", "bool", False, "do not read or write the embedding cache", convert=_flag),
    Option(
        "clipshift_shard",
        "string",
        None,
        "run shard K of N of the clipshift items (stable split by item id), e.g. 2/4; auto: from CLIPSHIFT_SHARD, "
        "a SLURM array (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT) or torchrun (RANK, WORLD_SIZE)",
        "K/N",
        convert=_shard,
    ),
    Option(
        "clipshift_labels",
        "args",
        None,
        "zero-shot label names for the text metrics (default: the image set's own labels)",
        "LABEL",
        nargs="+",
        convert=_words,
    ),
    Option(
        "clipshift_prompt_template",
        "string",
        "a photo of a {}",
        "zero-shot prompt template; {} is replaced by the label",
        "TEXT",
        convert=_text,
    ),
    Option(
        "clipshift_canvas_size",
        "int",
        224,
        "side in px of the canvas augmentations act on (at least the model's input size, at most 4096)",
        "PX",
        convert=_positive(LIMITS["clipshift_canvas_size"], least=8),
    ),
    Option(
        "clipshift_trust_remote_code",
        "bool",
        False,
        "allow a model directory's own Python code (auto_map) to run; off: such a model is refused",
        convert=_flag,
    ),
)


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
    ce_metric: str
    cache_dir: Path | None
    shard: tuple[int, int] | None
    canvas_size: int
    root: Path
    html: bool
    labels: list[str]
    prompt_template: str
    draws: int = 1
    attack_steps: int = 10
    attack_loss: str = "cosine"
    attack_method: str = "pgd"
    attack_restarts: int = 1
    sink_factor: float = 10.0
    keep_embeddings: str = "auto"
    augment_device: str = "auto"
    image_column: str = "image"
    label_column: str = "label"
    caption_column: str = "caption"
    split: str | None = None
    trust_remote_code: bool = False
    summary_path: Path | None = None
    comment_path: Path | None = None
    sources: dict[str, str] = field(default_factory=dict)  # option -> "command line" / "ini" / "default"


def _raw(config, opt: Option, ini: dict) -> tuple[Any, str]:
    value = config.getoption(opt.dest, None)
    if value is not None and value is not False and value != []:
        if opt.append:
            value = [v for item in value for v in str(item).split()]
        return value, "command line"
    if opt.name in ini:
        from .inifile import PARSERS

        parsed = PARSERS[opt.ini_type](ini[opt.name], f"ini option {opt.name}")
        if parsed != [] and not (opt.ini_type == "bool" and parsed is False and opt.default is False):
            return parsed, "ini"
    return opt.default, "default"


def _paths_base(config, source: str) -> Path:
    """Where a relative path is read from: an ini value from the ini file's folder, a flag from the
    current directory, a default (saved runs, the cache) from the rootdir, where pytest keeps its
    own .pytest_cache, so every run of one project finds the same baseline wherever it starts."""
    if source == "ini" and config.inipath is not None:
        return Path(config.inipath).parent
    if source == "default":
        return Path(config.rootpath)
    return Path(config.invocation_params.dir)


def resolve(config) -> ClipShiftConfig:
    """Resolve and validate every option with its own converter; a bad value raises ``ConfigError``
    naming the option. What depends on several options (the default image set, the cache switch)
    is settled after the loop."""
    from .inifile import ini_values

    ini = ini_values(config)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for opt in OPTIONS:
        raw, sources[opt.name] = _raw(config, opt, ini)
        label = _label(opt.name, sources)
        if opt.path and raw not in (None, ""):
            path = Path(str(raw)).expanduser()
            raw = path if path.is_absolute() else _paths_base(config, sources[opt.name]) / path
        values[opt.config_field] = opt.convert(raw, label) if not opt.path else (raw or None)
    if values["budgets_path"] is not None and not values["budgets_path"].is_file():
        raise ConfigError(
            f"{_label('clipshift_budgets', sources)}: budgets file {values['budgets_path']} does not exist"
        )
    values["images"] = values["images"] or ("demo-scenes" if values["model"] == "demo" else "samples")
    values["root"] = _paths_base(config, sources["clipshift_images"])
    values["storage"] = values["storage"] or Path(config.rootpath) / ".clipshift"  # empty: the default folder
    if values.pop("no_cache"):
        values["cache_dir"] = None
    values["html"] = bool(config.getoption("htmlpath", None))
    return ClipShiftConfig(**values, sources=sources)


def _label(name: str, sources: dict[str, str]) -> str:
    flag = "--" + name.replace("_", "-")
    return flag if sources.get(name) != "ini" else f"ini option {name}"


def pyproject_budgets(config) -> Path | None:
    """pyproject.toml beside the ini file, when it holds [tool.clipshift.budgets]."""
    from ..gate.budgets import read_toml
    from .inifile import pyproject_files

    for path in pyproject_files(config):
        try:
            data = read_toml(path, "pyproject")
        except ConfigError:
            return None  # not ours to judge: pytest itself reports a broken pyproject.toml
        if "budgets" in data.get("tool", {}).get("clipshift", {}):  # a table: inifile.check_tool_table ran first
            return path
    return None
