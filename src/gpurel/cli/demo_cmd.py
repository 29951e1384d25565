"""``gpurel demo``: simulate a month of an RSC-1-like cluster, ingest, analyze, report.

The simulator writes real-format files (``sacct --parsable2`` and GCM health-check JSON lines)
that go through the same readers as a user's files; the analysis never sees the truth.
``--week`` runs the hand-made example week of ``gpurel.demo`` instead (known answers).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Annotated

import ibis
import typer
from rich.markup import escape

from gpurel import demo as example_week
from gpurel.analysis.summary import analyze
from gpurel.cli.common import console, err_console, fail, failure, open_warehouse
from gpurel.cli.render import render
from gpurel.cli.settings import ANALYSIS, Values, analysis_settings, uses
from gpurel.errors import GpurelError
from gpurel.ingest import FileOutcome, ingest
from gpurel.report import build_report
from gpurel.sim.config import preset
from gpurel.sim.run import simulate
from gpurel.sources.base import ReadOptions
from gpurel.warehouse import Warehouse

PRESET = "rsc1"
MARKER = ".gpurel-demo"  # the file that says a directory is a demo's own


def _fresh(directory: Path) -> Path:
    """An empty demo directory: a new one, an empty one, or an earlier demo's (replaced).

    Any other directory is refused: the demo never deletes what it did not create.
    """
    if directory.is_symlink() or (directory.exists() and not directory.is_dir()):
        raise fail(f"--dir {directory}: not a directory the demo made; choose another", code=2)
    if directory.exists() and any(directory.iterdir()):
        if not (directory / MARKER).is_file():
            raise fail(
                f"--dir {directory}: not empty and not an earlier demo's directory "
                f"(no {MARKER} file); choose a new or empty directory",
                code=2,
            )
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MARKER).write_text("made by gpurel demo; the next demo here replaces it\n")
    return directory


def _simulated(directory: Path, days: float, seed: int) -> list[FileOutcome]:
    """Simulate, write real-format files, ingest them through the readers, keep the truth."""
    config = dataclasses.replace(preset(PRESET), days=days)
    console.print(
        f"simulating {days:g} days of {config.cluster} ({config.effective_nodes:,} nodes), "
        f"seed {seed} …",
        highlight=False,
    )
    result = simulate(config, seed)
    files = [directory / "sacct.txt", directory / "health.jsonl"]
    result.write_sacct(files[0], "UTC")
    result.write_gcm(files[1])
    store = Warehouse.open(directory / "gpurel.duckdb")
    try:
        outcomes = ingest(store, files, ReadOptions(cluster=config.cluster, tz="UTC"))
        store.write("nodes", result.tables["nodes"])  # the inventory: node-days' denominator
        for name, table in result.truth.items():
            store.materialize(name, ibis.memtable(table))
    finally:
        store.close()
    return outcomes


def _print(outcomes: list[FileOutcome]) -> None:
    for outcome in outcomes:
        if not outcome.ok:
            err_console.print("[bold red]error:[/]", escape(outcome.error or ""))
            continue
        tables = ", ".join(f"{name} {rows:,}" for name, rows in outcome.rows.items() if rows)
        console.print(
            escape(f"ingested {outcome.path.name} ({outcome.format}): {tables}; ")
            + f"{outcome.rejected:,} rejected",
            highlight=False,
        )
    if not all(outcome.ok for outcome in outcomes):
        raise fail("the demo files could not all be read", code=2)


@uses(*ANALYSIS)
def demo(
    directory: Annotated[
        Path,
        typer.Option(
            "--dir",
            help="Directory for the demo's files: new, empty, or an earlier demo's (replaced).",
        ),
    ] = Path("demo"),
    days: Annotated[float, typer.Option(help="Simulated days.")] = 30.0,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same demo.")] = 0,
    week: Annotated[
        bool, typer.Option("--week", help="The hand-made example week instead of a simulation.")
    ] = False,
    *,
    settings: Values,
) -> None:
    """Simulate a month of an RSC-1-like cluster, analyze it, write report.html."""
    try:
        target = _fresh(directory)
        warehouse = target / "gpurel.duckdb"
        outcomes = example_week.run(warehouse) if week else _simulated(target, days, seed)
    except GpurelError as exc:
        raise failure(exc) from exc
    except OSError as exc:
        raise fail(f"{directory}: cannot write the demo: {exc}") from exc
    _print(outcomes)
    console.print(escape(f"warehouse: {warehouse}\n"), highlight=False)
    with open_warehouse(warehouse, write=False) as store:
        result = analyze(store, analysis_settings(settings))
    render(result)
    try:
        path = build_report(result, target / "report.html")
    except OSError as exc:
        raise fail(f"cannot write the report: {exc}") from exc
    console.print(escape(f"\nreport: {path}"), highlight=False)
