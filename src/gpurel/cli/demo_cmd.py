"""``gpurel demo``: ingest the built-in demo cluster and analyze it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gpurel import demo as demo_data
from gpurel.analysis.summary import analyze
from gpurel.cli.common import console, err_console, fail, open_warehouse
from gpurel.cli.render import render
from gpurel.errors import GpurelError


def demo(
    warehouse: Annotated[
        Path,
        typer.Option("--warehouse", "-w", help="DuckDB file for the demo; replaced if it exists."),
    ] = Path("demo.duckdb"),
) -> None:
    """Run gpurel on a built-in week of a 40-node demo cluster with known failures."""
    try:
        outcomes = demo_data.run(warehouse)
    except GpurelError as exc:
        raise fail(str(exc)) from exc
    except OSError as exc:
        raise fail(f"{warehouse}: cannot replace the old demo warehouse: {exc}") from exc
    for outcome in outcomes:
        if not outcome.ok:
            err_console.print(f"[bold red]error:[/] {outcome.error}", highlight=False)
            continue
        tables = ", ".join(f"{name} {rows:,}" for name, rows in outcome.rows.items() if rows)
        console.print(
            f"ingested {outcome.path.name} ({outcome.format}): {tables}; "
            f"{outcome.rejected:,} rejected",
            highlight=False,
        )
    if not all(outcome.ok for outcome in outcomes):
        raise fail("the demo files could not all be read", code=2)
    console.print(f"warehouse: {warehouse}\n", highlight=False)
    with open_warehouse(warehouse) as store:
        render(analyze(store))
