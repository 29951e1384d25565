"""``gpurel mttf``: project the MTTF of jobs of given sizes."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gpurel.absent import Absent
from gpurel.analysis.summary import Settings, measured_rf
from gpurel.cli.common import (
    EngineOption,
    GpusPerNodeOption,
    WarehouseOption,
    console,
    fail,
    open_warehouse,
    parse_int_list,
)
from gpurel.models.failure_model import projected_mttf_hours
from gpurel.units import format_hours


def _warehouse_rf(
    warehouse: WarehouseOption, engine: EngineOption, cluster: str | None, min_gpus: int
) -> float:
    with open_warehouse(warehouse, engine) as store:
        rate = measured_rf(store, Settings(cluster=cluster, rf_min_gpus=min_gpus))
    if isinstance(rate, Absent):
        raise fail(f"r_f is not measured: {rate.reason}; pass --rf")
    console.print(
        f"measured r_f: {rate.failures} failures in {rate.node_days:,.1f} node-days "
        f"(95%: {rate.lo_per_1000_node_days:.3g} – {rate.hi_per_1000_node_days:.3g})"
    )
    return rate.per_1000_node_days


def mttf(
    gpus: Annotated[str, typer.Option(help="Job sizes in GPUs, comma-separated.")],
    rf: Annotated[
        float | None,
        typer.Option(
            help="r_f, failures per 1000 node-days (default: measured from the warehouse)."
        ),
    ] = None,
    gpus_per_node: GpusPerNodeOption = 8,
    cluster: Annotated[str | None, typer.Option(help="Measure r_f on this cluster only.")] = None,
    rf_min_gpus: Annotated[int, typer.Option(help="r_f counts jobs above this many GPUs.")] = 128,
    warehouse: WarehouseOption = None,
    engine: EngineOption = None,
) -> None:
    """MTTF of a job on N GPUs with nodes in series: 1 / (N_nodes × r_f)."""
    sizes = parse_int_list(gpus, "--gpus")
    if rf is None:
        rf = _warehouse_rf(warehouse, engine, cluster, rf_min_gpus)
    if rf <= 0:
        raise fail("--rf must be positive (failures per 1000 node-days)")
    hours = projected_mttf_hours(sizes, rf / 1000.0, gpus_per_node=gpus_per_node)
    table = Table(
        "GPUs", "nodes", "MTTF", title=f"Projected MTTF at r_f = {rf:.3g} / 1000 node-days"
    )
    for size, value in zip(sizes, hours, strict=True):
        table.add_row(f"{size:,}", f"{-(-size // gpus_per_node):,}", format_hours(float(value)))
    console.print(table)
