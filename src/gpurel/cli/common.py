"""Options and helpers shared by the commands."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from gpurel.env_names import ENGINE as ENGINE_ENV_VAR
from gpurel.env_names import WAREHOUSE as ENV_VAR
from gpurel.errors import ConfigError, GpurelError
from gpurel.units import parse_duration

if TYPE_CHECKING:
    from gpurel.warehouse import Warehouse

console = Console()
err_console = Console(stderr=True)
PIPE_WIDTH = 160  # columns of the tables gpurel writes to a file or a pipe


def widen_when_piped() -> None:
    """Output to a file or a pipe gets PIPE_WIDTH columns, not rich's 80; a terminal its own
    width ($COLUMNS wins over both). Set at the start of every command."""
    for out in (console, err_console):
        piped = not out.is_terminal and "COLUMNS" not in os.environ
        out.width = PIPE_WIDTH if piped else shutil.get_terminal_size().columns


# an array json.dumps(indent=2) spreads over lines whose items are all numbers or null (a line
# holding only such an item is an array item: strings and object members start with a quote)
_NUMBER = r"(?:-?(?:\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|Infinity)|NaN|null)"
_NUMBER_ARRAY = re.compile(rf"\[\n(?: *{_NUMBER},\n)* *{_NUMBER}\n *\]")


def json_text(doc: Any, default: Callable[[Any], Any] | None = None) -> str:
    """``doc`` as JSON indented by two, except that an array of numbers (and nulls) stays on
    one line: a grid prints a row a line. ``default``: as for ``json.dumps``."""

    def one_line(match: re.Match[str]) -> str:
        items = match.group().splitlines()[1:-1]
        return "[" + ", ".join(item.strip().rstrip(",") for item in items) + "]"

    return _NUMBER_ARRAY.sub(one_line, json.dumps(doc, indent=2, default=default))


def print_json(doc: Any, default: Callable[[Any], Any] | None = None) -> None:
    """Print ``doc`` on stdout as ``json_text`` writes it: the ``--json`` output of a command."""
    print(json_text(doc, default))


WarehouseOption = Annotated[
    str | None,
    typer.Option(
        "--warehouse",
        "-w",
        help=(
            "A DuckDB file (.duckdb), a Parquet warehouse directory, or an Ibis URL "
            f"(duckdb:///x.duckdb, pyspark://) (default: ${ENV_VAR} or ./gpurel.duckdb)."
        ),
        show_default=False,
    ),
]

EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help=(
            "Engine that queries a Parquet warehouse: duckdb or spark "
            f"(default: ${ENGINE_ENV_VAR} or duckdb)."
        ),
        show_default=False,
    ),
]


TaxonomyOption = Annotated[
    Path | None,
    typer.Option(
        "--taxonomy",
        help="TOML file extending or overriding the shipped failure taxonomy.",
        exists=True,
        dir_okay=False,
    ),
]

ClusterOption = Annotated[str | None, typer.Option(help="Only this cluster.")]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]
QuietOption = Annotated[
    bool,
    typer.Option(
        "--quiet", "-q", help="Draw no progress on stderr (drawn only on a terminal anyway)."
    ),
]
GpusPerNodeOption = Annotated[int, typer.Option(help="GPUs per node.")]
BeforeOption = Annotated[str, typer.Option(help="Attribution window before the job end.")]
AfterOption = Annotated[str, typer.Option(help="Attribution window after the job end.")]
RfMinGpusOption = Annotated[
    int, typer.Option(help="r_f counts jobs with more GPUs than this (paper: 128).")
]


NO_WAREHOUSE_EXIT = 2  # a read command pointed at a warehouse that does not exist


USAGE_EXIT = 2  # a bad option, setting or config entry: nothing was done


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error for people and return the Exit to raise.

    ``message`` is plain text, never markup; it stays one line (the terminal wraps it).
    """
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def failure(exc: GpurelError) -> typer.Exit:
    """``fail`` for a gpurel error: exit 2 for a bad option or setting, else 1."""
    return fail(str(exc), USAGE_EXIT if isinstance(exc, ConfigError) else 1)


def bad_option(message: str) -> typer.Exit:
    """``fail`` for an option value that cannot be used (exit 2)."""
    return fail(message, USAGE_EXIT)


def _checked(option: str, check: Callable[[str | None], object], value: str | None) -> None:
    """A clean exit 2 naming ``option`` when ``check(value)`` raises a ConfigError."""
    try:
        check(value)
    except ConfigError as exc:
        raise bad_option(f"{option}: {exc}") from exc


def checked_tz(tz: str | None) -> str | None:
    """``--tz`` when it is an IANA name or a fixed offset, else a clean exit 2."""
    from gpurel.sources.slurm_values import resolve_zone

    _checked("--tz", resolve_zone, tz)
    return tz


def checked_engine(engine: str | None) -> str | None:
    """``--engine`` when gpurel knows it, else a clean exit 2 (also where it goes unused)."""
    from gpurel.engines import choose

    _checked("--engine", choose, engine)
    return engine


@contextmanager
def open_warehouse(
    path: Path | str | None, engine: str | None = None, *, write: bool | None = None
) -> Iterator[Warehouse]:
    """Open the warehouse for one command, turning gpurel errors into a clean exit.

    ``write=False``: a command that only reads; the warehouse must exist (else exit 2), and
    any number of readers share it. ``write=True``: a command that stores; it takes the
    writer lock at once, so a second writer stops before reading its input. ``None`` opens
    for writing and locks a Parquet directory at the first write.
    """
    from gpurel.warehouse import NoWarehouse, Warehouse

    try:
        warehouse = Warehouse.open(path, engine, read_only=write is False)
    except NoWarehouse as exc:
        raise fail(str(exc), code=NO_WAREHOUSE_EXIT) from exc
    except GpurelError as exc:
        raise failure(exc) from exc
    try:
        if write:
            warehouse.claim()
        yield warehouse
    except GpurelError as exc:
        raise failure(exc) from exc
    finally:
        warehouse.close()


def seconds(text: str, option: str) -> float:
    """A duration option in seconds, or a clean exit naming the option."""
    try:
        return parse_duration(text)
    except GpurelError as exc:
        raise bad_option(f"{option}: {exc}") from exc


def iso_time(text: str | None, option: str) -> datetime | None:
    """An ISO date/time option (naive means UTC; None if not given), or a clean exit."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise bad_option(f"{option}: not an ISO date/time: {text!r}") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def utc_time(text: str | None, option: str) -> datetime | None:
    """``iso_time`` in UTC."""
    value = iso_time(text, option)
    return None if value is None else value.astimezone(UTC)


def parse_int_list(text: str, option: str) -> list[int]:
    """``1024,16384`` → [1024, 16384], with a clear error naming the option."""
    try:
        values = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError as exc:
        raise bad_option(f"{option}: expected comma-separated whole numbers, got {text!r}") from exc
    if not values or any(v <= 0 for v in values):
        raise bad_option(f"{option}: expected positive whole numbers, got {text!r}")
    return values
