"""``gpurel ingest``: read files into the warehouse."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from gpurel import taxonomy as taxonomy_data
from gpurel.cli.common import (
    EngineOption,
    JsonOption,
    QuietOption,
    TaxonomyOption,
    WarehouseOption,
    bad_option,
    checked_tz,
    console,
    err_console,
    fail,
    failure,
    iso_time,
    open_warehouse,
    print_json,
)
from gpurel.cli.settings import Values, uses
from gpurel.errors import GpurelError
from gpurel.ingest import FileOutcome, ingest_file, readers
from gpurel.progress import Progress
from gpurel.sources.base import ReadOptions
from gpurel.sources.event_fields import EVENT_FIELDS, GCM_FIELDS
from gpurel.sources.job_traces import DIRLAB_FIELDS, NODE_COLUMNS, POD_COLUMNS

ACCOUNTING = ("lines", "stored", "merged", "rejected", "skipped")


@uses("rates.gpus_per_node")
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
    year: Annotated[
        int | None,
        typer.Option(
            min=1970, max=9999, help="Year of syslog dates, which print none (default: the file's)."
        ),
    ] = None,
    field_map: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="FIELD=COLUMN: read a field (time, node, check, result, message, ...) from "
            "a column of another name; repeatable.",
        ),
    ] = None,
    taxonomy: TaxonomyOption = None,
    warehouse: WarehouseOption = None,
    engine: EngineOption = None,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
    *,
    settings: Values,
) -> None:
    """Read scheduler accounting, node events and traces into the warehouse (safe to rerun)."""
    if fmt != "auto" and fmt not in readers():
        raise bad_option(f"--format: unknown format {fmt!r}; known: auto, {', '.join(readers())}")
    if delimiter is not None and len(delimiter) != 1:
        raise bad_option(f"--delimiter: one character, not {delimiter!r}")
    checked_tz(tz)
    try:
        classes = taxonomy_data.load(taxonomy)
    except GpurelError as exc:
        raise failure(exc) from exc
    options = ReadOptions(
        cluster=cluster,
        tz=tz,
        fields=tuple(f.strip() for f in fields.split(",")) if fields else None,
        delimiter=delimiter,
        inventory_nodes=nodes,
        inventory_days=days,
        trace_start=iso_time(trace_start, "--trace-start"),
        year=year,
        field_map=_field_map(field_map or []),
        gpus_per_node=settings["rates.gpus_per_node"],
        taxonomy=classes,
    )
    outcomes: list[FileOutcome] = []
    with (
        open_warehouse(warehouse, engine, write=True) as store,
        Progress(quiet=quiet, console=err_console) as progress,
    ):
        meter = progress.task("ingesting", total=_size(files), unit="bytes")
        for path in files:
            progress.step(f"ingesting {path.name}")
            end = meter.done + _size([path])
            outcome = ingest_file(store, path, replace(options, bytes_read=meter), fmt)
            outcomes.append(outcome)
            meter(max(end - meter.done, 0))  # whole-file readers report no block
            if not outcome.ok:
                err_console.print("[bold red]error:[/]", escape(outcome.error or ""))
            for note in outcome.notes:
                err_console.print("[bold]note:[/]", escape(f"{path}: {note}"))
    if as_json:
        print_json({"files": [_outcome_json(o) for o in outcomes]})
    elif any(o.ok for o in outcomes):
        console.print(_summary(outcomes))
    failed = sum(not o.ok for o in outcomes)
    if failed:
        raise fail(f"{failed} of {len(files)} files could not be read", code=2)


def _size(files: list[Path]) -> int:
    """Bytes of ``files`` (what is not a readable regular file counts as empty)."""
    return sum(path.stat().st_size for path in files if path.is_file())


def _field_map(pairs: list[str]) -> tuple[tuple[str, str], ...]:
    """``--map time=ts_utc`` → (("time", "ts_utc"),), or a clean exit naming the option."""
    known = {*EVENT_FIELDS, *GCM_FIELDS, *DIRLAB_FIELDS, *POD_COLUMNS, *NODE_COLUMNS}
    found = []
    for pair in pairs:
        field, sep, column = pair.partition("=")
        field = field.strip().lower()
        if not sep or not field or not column.strip():
            raise bad_option(f"--map: expected FIELD=COLUMN, got {pair!r}")
        if field not in known:
            fields = ", ".join(sorted(known))
            raise bad_option(f"--map: no reader has a field {field!r}; fields: {fields}")
        found.append((field, column.strip()))
    return tuple(found)


def _summary(outcomes: list[FileOutcome]) -> Table:
    """One row per file read: where each of its lines went."""
    summary = Table("file", "format", *ACCOUNTING, "tables")
    for o in outcomes:
        if o.ok:
            counts = [f"{getattr(o, name):,}" for name in ACCOUNTING]
            tables = ", ".join(f"{n} {c:,}" for n, c in o.rows.items() if c)
            summary.add_row(escape(str(o.path)), o.format, *counts, escape(tables))
    summary.caption = (
        "lines = stored + merged (a later line of the same key replaced it) + rejected "
        "(see the rejects table) + skipped (blank, header, not a record); a line naming "
        "several nodes stores one row per node"
    )
    return summary


def _outcome_json(outcome: FileOutcome) -> dict[str, object]:
    """One file's outcome as JSON: its accounting, or its error."""
    found: dict[str, object] = {"file": str(outcome.path), "format": outcome.format}
    if not outcome.ok:
        return found | {"error": outcome.error}
    found |= {name: getattr(outcome, name) for name in ACCOUNTING}
    extra = {"expanded": outcome.expanded, "tables": outcome.rows, "notes": outcome.notes}
    return found | extra
