"""Options and helpers shared by the commands."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gpurel.errors import GpurelError
from gpurel.warehouse import ENV_VAR, Warehouse

console = Console()
err_console = Console(stderr=True)

WarehouseOption = Annotated[
    Path | None,
    typer.Option(
        "--warehouse",
        "-w",
        help=f"DuckDB warehouse file (default: ${ENV_VAR} or ./gpurel.duckdb).",
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
def open_warehouse(path: Path | None) -> Iterator[Warehouse]:
    """Open the warehouse for one command, turning gpurel errors into a clean exit."""
    try:
        warehouse = Warehouse.open(path)
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
