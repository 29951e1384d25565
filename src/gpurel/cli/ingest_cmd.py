"""``gpurel ingest``: read files into the warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from gpurel import taxonomy as taxonomy_data
from gpurel.cli.common import (
    EngineOption,
    TaxonomyOption,
    WarehouseOption,
    console,
    err_console,
    fail,
    iso_time,
    open_warehouse,
)
from gpurel.errors import GpurelError
from gpurel.ingest import ingest_file, readers
from gpurel.sources.base import ReadOptions


def ingest(
    files: Annotated[list[Path], typer.Argument(help="Input files (sacct, events, traces).")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="Input format, or 'auto' to detect it.")
    ] = "auto",
    tz: Annotated[
        str | None,
        typer.Option(help="Time zone of local times without offset (default: this machine's)."),
    ] = None,
    cluster: Annotated[
        str, typer.Option(help="Cluster name for inputs that carry none.")
    ] = "default",
    fields: Annotated[
        str | None,
        typer.Option(help="sacct field names, comma-separated, for files without header."),
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="Field delimiter (default: detect).")
    ] = None,
    nodes: Annotated[
        int | None, typer.Option(help="Node inventory size, for traces listing only faulty nodes.")
    ] = None,
    days: Annotated[float | None, typer.Option(help="Days covered, for such traces.")] = None,
    trace_start: Annotated[
        str | None, typer.Option(help="Wallclock of day 0 for traces with relative times (ISO).")
    ] = None,
    gpus_per_node: Annotated[int, typer.Option(help="GPUs per node in inventories.")] = 8,
    taxonomy: TaxonomyOption = None,
    warehouse: WarehouseOption = None,
    engine: EngineOption = None,
) -> None:
    """Read scheduler accounting, node events and traces into the warehouse (safe to rerun)."""
    if fmt != "auto" and fmt not in readers():
        raise fail(f"--format: unknown format {fmt!r}; known: auto, {', '.join(readers())}")
    try:
        classes = taxonomy_data.load(taxonomy)
    except GpurelError as exc:
        raise fail(str(exc)) from exc
    options = ReadOptions(
        cluster=cluster,
        tz=tz,
        fields=tuple(f.strip() for f in fields.split(",")) if fields else None,
        delimiter=delimiter,
        inventory_nodes=nodes,
        inventory_days=days,
        trace_start=iso_time(trace_start, "--trace-start"),
        gpus_per_node=gpus_per_node,
        taxonomy=classes,
    )
    summary = Table("file", "format", "kept", "rejected", "tables")
    failed = 0
    with (
        open_warehouse(warehouse, engine) as store,
        Progress(console=err_console, transient=True) as bar,
    ):
        task = bar.add_task("ingesting", total=len(files))
        for path in files:
            bar.update(task, description=f"ingesting {path.name}")
            outcome = ingest_file(store, path, options, fmt)
            bar.advance(task)
            if not outcome.ok:
                failed += 1
                err_console.print(f"[bold red]error:[/] {outcome.error}", highlight=False)
                continue
            err_console.print(f"{path}: format {outcome.format}", highlight=False)
            tables = ", ".join(f"{n} {c}" for n, c in outcome.rows.items() if c)
            kept = sum(outcome.rows.values())
            summary.add_row(str(path), outcome.format, str(kept), str(outcome.rejected), tables)
    console.print(summary)
    if failed:
        raise fail(f"{failed} of {len(files)} files could not be read", code=2)
