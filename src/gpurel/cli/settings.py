"""Every analysis setting, declared once: its flag, default, unit, help and source.

A setting's value comes from, strongest first: its flag, its ``GPUREL_*`` environment
variable, the config file (``--config PATH``, else ``./gpurel.toml``), its default. The file
holds TOML tables named after the first part of each key::

    [attribution]
    before = "10s"
    after = "5s"

Each command names the settings it uses (``@uses``): they become its options under the same
flags everywhere, and the command receives the effective ``Values`` (value and origin of each).
A bad value anywhere is one ``ConfigError`` naming the flag, variable or file key and the
accepted forms.
"""

from __future__ import annotations

import functools
import inspect
import os
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gpurel.errors import ConfigError, GpurelError
from gpurel.units import format_duration, parse_duration

if TYPE_CHECKING:
    from gpurel.analysis.summary import Settings

CONFIG_FILE = "gpurel.toml"
ENV_PREFIX = "GPUREL_"
PAPER = "paper"
ASSUMED = "assumption"


@dataclass(frozen=True)
class Kind:
    """How a setting's text becomes its value, and the forms accepted, for error messages."""

    name: str
    forms: str
    parse: Callable[[str], Any]
    show: Callable[[Any], str] = str


def _duration(text: str) -> float:
    return parse_duration(text)


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _count_from_zero(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise ValueError(text)
    return value


def _sizes(text: str) -> tuple[int, ...]:
    values = tuple(_count(part) for part in text.replace(" ", "").split(",") if part)
    if not values:
        raise ValueError(text)
    return values


def _utc(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def _text(text: str) -> str:
    if not text.strip():
        raise ValueError(text)
    return text.strip()


DURATION = Kind("duration", "a duration such as 90s, 10m, 1.5h, 28d (a bare number: seconds)",
                _duration, format_duration)  # fmt: skip
COUNT = Kind("count", "a whole number >= 1", _count)
COUNT0 = Kind("count", "a whole number >= 0", _count_from_zero)
POSITIVE = Kind("number", "a number > 0", _positive)
FRACTION = Kind("fraction", "a number between 0 and 1", _fraction)
SIZES = Kind("sizes", "whole numbers >= 1, comma-separated (1024,16384)", _sizes,
             lambda v: ",".join(map(str, v)))  # fmt: skip
TIME = Kind("time", "an ISO date or time (2024-06-01, 2024-06-01T12:00:00+02:00; naive = UTC)",
            _utc, lambda v: v.isoformat())  # fmt: skip
TEXT = Kind("text", "a non-empty text", _text)


def _choice(*choices: str) -> Kind:
    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(text)
        return text

    return Kind("choice", "one of " + ", ".join(choices), parse)


@dataclass(frozen=True)
class Setting:
    """One setting: ``key`` in the config file (``table.name``), its flag, kind and default."""

    key: str
    flag: str
    kind: Kind
    default: Any
    help: str
    source: str

    @property
    def env(self) -> str:
        """Its environment variable: ``GPUREL_`` and the key in capitals."""
        return ENV_PREFIX + self.key.upper().replace(".", "_")

    @property
    def param(self) -> str:
        """Its parameter name in a command function."""
        return "setting_" + self.key.replace(".", "_")

    def parse(self, text: str, where: str) -> Any:
        """The value of ``text`` given at ``where``, or ConfigError naming the accepted forms."""
        try:
            return self.kind.parse(str(text).strip())
        except (ValueError, GpurelError) as exc:
            raise ConfigError(f"{where}: {text!r} is not {self.kind.forms}") from exc


def _s(key: str, flag: str, kind: Kind, default: Any, help: str, source: str) -> Setting:
    return Setting(key, flag, kind, default, help, source)


SETTINGS: tuple[Setting, ...] = (
    _s("attribution.before", "--before", DURATION, 600.0,
       "Attribution window: failing checks up to this long before a job's end.",
       "paper: end - 10 min to end + 5 min"),
    _s("attribution.after", "--after", DURATION, 300.0,
       "Attribution window: failing checks up to this long after a job's end.",
       "paper: end - 10 min to end + 5 min"),
    _s("rates.rf_min_gpus", "--rf-min-gpus", COUNT0, 128,
       "r_f counts job attempts with more GPUs than this.", "paper: jobs > 128 GPUs"),
    _s("rates.merge_gap", "--merge-gap", DURATION, 3600.0,
       "Failing records of one node and category closer than this are one episode.", ASSUMED),
    _s("rates.gpus_per_node", "--gpus-per-node", COUNT, 8,
       "GPUs per node where the data does not say (projections, inventories).",
       "paper: 8 GPUs per node"),
    _s("rates.projection_gpus", "--project", SIZES, (8, 64, 512, 1024, 4096, 16384, 131072),
       "Job sizes (GPUs) to project MTTF and ETTR to.", "paper: Fig. 7 and 10 sizes"),
    _s("report.top_nodes", "--top", COUNT, 10, "How many nodes to list by failure episodes.",
       ASSUMED),
    _s("runs.gap", "--gap", DURATION, 3600.0,
       "A resubmission within this long after the previous end continues a run.", ASSUMED),
    _s("runs.min_hours", "--min-hours", POSITIVE, 24.0,
       "Runs shorter than this many hours are left out of run ETTR.", "paper: runs > 24 h"),
    _s("runs.qos", "--qos", TEXT, None, "Only runs of this QoS.", ASSUMED),
    _s("checkpointing.ckpt", "--ckpt", DURATION, 3600.0,
       "Checkpoint interval: lost goodput charges half of it per failure.",
       "paper: 60-minute interval assumed"),
    _s("checkpointing.restart", "--restart", DURATION, 300.0,
       "Restart cost u0 of an interruption (rescheduling, reloading).", "paper: u0 = 5 min"),
    _s("checkpointing.write", "--write", DURATION, 0.0,
       "Time to write one checkpoint, for measured run ETTR.", ASSUMED),
    _s("ettr.design_write", "--design-write", DURATION, 30.0,
       "Checkpoint write time of the expected-ETTR design space (Fig. 10).", ASSUMED),
    _s("ettr.reference_rf", "--reference-rf", POSITIVE, 6.5,
       "r_f (per 1000 node-days) of the design space where the data cannot measure one.",
       "paper: RSC-1's 6.50"),
    _s("lemons.window", "--window", DURATION, 28 * 86400.0,
       "Lemon signals count over this window before --as-of.", "paper: 28 days"),
    _s("lemons.as_of", "--as-of", TIME, None,
       "Judge lemons as of this time (default: the data's end).", ASSUMED),
    _s("lemons.merge_gap", "--lemon-merge-gap", DURATION, 3600.0,
       "Failing records of one node closer than this are one outage.", ASSUMED),
    _s("lemons.min_single_jobs", "--min-single-jobs", COUNT, 10,
       "Fewer single-node attempts leave a node's failure rate absent.", ASSUMED),
    _s("lemons.method", "--method", _choice("robust_z", "percentile"), "robust_z",
       "Threshold of each signal across a cluster's nodes.", ASSUMED),
    _s("lemons.percentile", "--percentile", FRACTION, 0.99,
       "Threshold percentile (method percentile).", ASSUMED),
    _s("lemons.z", "--z", POSITIVE, 3.5, "Threshold robust z-score (method robust_z).",
       "assumption: Iglewicz-Hoaglin 3.5"),
    _s("lemons.min_signals", "--min-signals", COUNT, 1,
       "Signals at their threshold needed to flag a node.", ASSUMED),
    _s("lemons.cap", "--cap", POSITIVE, 5.0, "Cap of one signal's part of the score.", ASSUMED),
    _s("goodput.tolerance", "--tolerance", DURATION, 60.0,
       "A job ending this close to a requeue's start on a shared node was preempted for it.",
       ASSUMED),
    _s("goodput.crash_loop_min", "--crash-loops", COUNT, 5,
       "Requeues of one job that make a crash loop.", ASSUMED),
)  # fmt: skip
BY_KEY: Mapping[str, Setting] = {s.key: s for s in SETTINGS}


def group(prefix: str) -> tuple[str, ...]:
    """The keys of one table of settings (``lemons``), in declaration order."""
    return tuple(s.key for s in SETTINGS if s.key.startswith(prefix + "."))


ATTRIBUTION = group("attribution")
CHECKPOINTING = group("checkpointing")
ANALYSIS = tuple(BY_KEY)  # everything an analysis (analyze, report) uses


@dataclass(frozen=True)
class Values:
    """The effective value of each setting, and where it came from."""

    values: Mapping[str, Any]
    origins: Mapping[str, str]

    def __getitem__(self, key: str) -> Any:
        return self.values[key]


def read_config(path: Path | None) -> tuple[dict[str, Any], str | None]:
    """The config file's settings by key, and its name; no file at the default path is none."""
    target = path if path is not None else Path(CONFIG_FILE)
    if path is None and not target.is_file():
        return {}, None
    try:
        document = tomllib.loads(target.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(f"--config {target}: cannot read: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{target}: not TOML: {exc}") from exc
    found: dict[str, Any] = {}
    for table, entries in document.items():
        if not isinstance(entries, dict):
            raise ConfigError(f"{target}: {table!r} must be a table ([{table}]) of settings")
        for name, value in entries.items():
            key = f"{table}.{name}"
            if key not in BY_KEY:
                known = ", ".join(BY_KEY)
                raise ConfigError(f"{target}: unknown setting {key!r}; known: {known}")
            found[key] = value
    return found, str(target)


def resolve(
    keys: Iterable[str],
    flags: Mapping[str, str | None],
    config: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Values:
    """Each setting of ``keys`` from its flag, environment variable, config file or default."""
    environ = os.environ if environ is None else environ
    in_file, file_name = read_config(config)
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for key in keys:
        setting = BY_KEY[key]
        flag = flags.get(key)
        if flag is not None:
            values[key], origins[key] = setting.parse(flag, setting.flag), f"flag {setting.flag}"
        elif environ.get(setting.env, "") != "":
            text = environ[setting.env]
            values[key], origins[key] = setting.parse(text, setting.env), f"env {setting.env}"
        elif key in in_file:
            text = _toml_text(in_file[key])
            values[key] = setting.parse(text, f"{file_name}: {key}")
            origins[key] = f"file {file_name}"
        else:
            values[key], origins[key] = setting.default, "default"
    return Values(values, origins)


def _toml_text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def shown(key: str, value: Any) -> str:
    """A value as people read it (``not set`` for none)."""
    return "not set" if value is None else BY_KEY[key].kind.show(value)


def analysis_settings(
    values: Values, cluster: str | None = None, taxonomy: Path | None = None
) -> Settings:
    """The analysis' Settings: each setting a command was given, the others at their default."""
    from gpurel.analysis.attribution import AttributionWindow
    from gpurel.analysis.goodput import GoodputRules
    from gpurel.analysis.lemons import LemonSettings
    from gpurel.analysis.runs import Checkpointing, RunRules
    from gpurel.analysis.summary import Settings
    from gpurel.models.lemon_rule import LemonRule

    def get(key: str) -> Any:
        return values.values.get(key, BY_KEY[key].default)

    return Settings(
        window=AttributionWindow(int(get("attribution.before")), int(get("attribution.after"))),
        rf_min_gpus=get("rates.rf_min_gpus"),
        merge_gap_s=int(get("rates.merge_gap")),
        top_nodes=get("report.top_nodes"),
        cluster=cluster,
        gpus_per_node=get("rates.gpus_per_node"),
        projection_gpus=get("rates.projection_gpus"),
        taxonomy_file=str(taxonomy) if taxonomy else None,
        run_rules=RunRules(int(get("runs.gap")), get("runs.min_hours"), get("runs.qos")),
        checkpointing=Checkpointing(
            get("checkpointing.ckpt"), get("checkpointing.restart"), get("checkpointing.write")
        ),
        lemon=LemonSettings(
            window_s=int(get("lemons.window")),
            as_of=get("lemons.as_of"),
            merge_gap_s=int(get("lemons.merge_gap")),
            min_single_jobs=get("lemons.min_single_jobs"),
            rule=LemonRule(
                get("lemons.method"),
                get("lemons.percentile"),
                get("lemons.z"),
                get("lemons.min_signals"),
                get("lemons.cap"),
            ),
        ),
        goodput_rules=GoodputRules(int(get("goodput.tolerance")), get("goodput.crash_loop_min")),
        design_write_s=get("ettr.design_write"),
        reference_rf=get("ettr.reference_rf"),
    )


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help=f"Settings file (TOML; default: ./{CONFIG_FILE} if present).",
        show_default=False,
        dir_okay=False,
    ),
]


def uses(*keys: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command the options of ``keys`` (and --config); it receives ``settings: Values``.

    A bad value exits 2 with one line naming where it came from and the accepted forms.
    """
    from gpurel.cli.common import fail  # the command layer's exit

    def wrap(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "settings"]
        added = [_parameter(BY_KEY[key]) for key in keys]
        config = inspect.Parameter(
            "config_file", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=ConfigOption
        )

        @functools.wraps(command)
        def run(**kwargs: Any) -> Any:
            flags = {key: kwargs.pop(BY_KEY[key].param) for key in keys}
            try:
                values = resolve(keys, flags, kwargs.pop("config_file"))
            except ConfigError as exc:
                raise fail(str(exc), code=2) from exc
            return command(**kwargs, settings=values)

        params = [*(p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own), *added, config]
        # typer reads the new signature, its annotations already evaluated, not the command's
        run.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in params}
        del run.__wrapped__
        return run

    return wrap


def _parameter(setting: Setting) -> inspect.Parameter:
    default = shown(setting.key, setting.default)
    about = f"default {default}; env {setting.env}; source: {setting.source}"
    option = typer.Option(setting.flag, help=f"{setting.help} ({about})", show_default=False)
    return inspect.Parameter(
        setting.param,
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[str | None, option],
    )
