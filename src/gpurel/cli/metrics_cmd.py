"""``gpurel metrics``: the current figures in the Prometheus text format, once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from gpurel.cli.common import (
    EngineOption,
    TaxonomyOption,
    WarehouseOption,
    failure,
    open_warehouse,
)
from gpurel.cli.settings import ANALYSIS, Values, analysis_settings, uses
from gpurel.errors import GpurelError

OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help=(
            "Write to this file atomically (e.g. node_exporter's textfile collector "
            "directory, a name ending in .prom) instead of stdout."
        ),
        dir_okay=False,
        show_default=False,
    ),
]


@uses(*ANALYSIS)
def metrics_command(
    output: OutputOption = None,
    taxonomy: TaxonomyOption = None,
    warehouse: WarehouseOption = None,
    engine: EngineOption = None,
    *,
    settings: Values,
) -> None:
    """Write the current figures in the Prometheus text format (stdout, or a textfile).

    r_f per cluster over 7 and 28 days, job failures and failure episodes per category, lemon
    scores, lost goodput, run ETTR, the collector's lag and the rejected rows; a figure
    without input is listed in gpurel_figure_absent_info with the reason, never exported as 0.
    """
    from gpurel.exporter.figures import measure
    from gpurel.exporter.textfile import exposition, write_textfile

    chosen = analysis_settings(settings, None, taxonomy)
    with open_warehouse(warehouse, engine, write=False) as store:
        snapshot = measure(store, chosen)
    now = datetime.now(UTC)
    if output is None:
        print(exposition(snapshot, now), end="")
        return
    try:
        write_textfile(output, snapshot, now)
    except GpurelError as exc:
        raise failure(exc) from exc
