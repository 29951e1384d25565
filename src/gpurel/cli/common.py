"""Options and helpers shared by the commands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gpurel.engines import ENV_VAR as ENGINE_ENV_VAR
from gpurel.errors import GpurelError
from gpurel.warehouse import ENV_VAR, Warehouse

console = Console()
err_console = Console(stderr=True)

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


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error for people and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


@contextmanager
def open_warehouse(path: Path | str | None, engine: str | None = None) -> Iterator[Warehouse]:
    """Open the warehouse for one command, turning gpurel errors into a clean exit."""
    try:
        warehouse = Warehouse.open(path, engine)
    except GpurelError as exc:
        raise fail(str(exc)) from exc
    try:
        yield warehouse
    except GpurelError as exc:
        raise fail(str(exc)) from exc
    finally:
        warehouse.close()


def parse_int_list(text: str, option: str) -> list[int]:
    """``1024,16384`` → [1024, 16384], with a clear error naming the option."""
    try:
        values = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError as exc:
        raise fail(f"{option}: expected comma-separated whole numbers, got {text!r}") from exc
    if not values or any(v <= 0 for v in values):
        raise fail(f"{option}: expected positive whole numbers, got {text!r}")
    return values
