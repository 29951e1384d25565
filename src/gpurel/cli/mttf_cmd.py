"""``gpurel mttf``: project the MTTF of jobs of given sizes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from gpurel.absent import Absent
from gpurel.cli.common import (
    EngineOption,
    WarehouseOption,
    checked_engine,
    console,
    fail,
    open_warehouse,
    parse_int_list,
)
from gpurel.cli.settings import ATTRIBUTION, Values, analysis_settings, uses
from gpurel.units import format_hours

if TYPE_CHECKING:
    from gpurel.analysis.summary import Settings


def _warehouse_rf(warehouse: WarehouseOption, engine: EngineOption, settings: Settings) -> float:
    from gpurel.analysis.summary import measured_rf

    with open_warehouse(warehouse, engine, write=False) as store:
        rate = measured_rf(store, settings)
    if isinstance(rate, Absent):
        raise fail(f"r_f is not measured: {rate.reason}; pass --rf")
    console.print(
        f"measured r_f: {rate.failures} failures in {rate.node_days:,.1f} node-days "
        f"(95%: {rate.lo_per_1000_node_days:.3g} – {rate.hi_per_1000_node_days:.3g})"
    )
    return rate.per_1000_node_days


@uses(*ATTRIBUTION, "rates.rf_min_gpus", "rates.gpus_per_node")
def mttf(
    gpus: Annotated[str, typer.Option(help="Job sizes in GPUs, comma-separated.")],
    rf: Annotated[
        float | None,
        typer.Option(
            help="r_f, failures per 1000 node-days (default: measured from the warehouse)."
        ),
    ] = None,
    cluster: Annotated[str | None, typer.Option(help="Measure r_f on this cluster only.")] = None,
    warehouse: WarehouseOption = None,
    engine: EngineOption = None,
    *,
    settings: Values,
) -> None:
    """MTTF of a job on N GPUs with nodes in series: 1 / (N_nodes × r_f)."""
    from gpurel.models.failure_model import projected_mttf_hours

    sizes = parse_int_list(gpus, "--gpus")
    checked_engine(engine)
    gpus_per_node = settings["rates.gpus_per_node"]
    if rf is None:
        rf = _warehouse_rf(warehouse, engine, analysis_settings(settings, cluster))
    if rf <= 0:
        raise fail("--rf must be positive (failures per 1000 node-days)", code=2)
    hours = projected_mttf_hours(sizes, rf / 1000.0, gpus_per_node=gpus_per_node)
    table = Table(
        "GPUs", "nodes", "MTTF", title=f"Projected MTTF at r_f = {rf:.3g} / 1000 node-days"
    )
    for size, value in zip(sizes, hours, strict=True):
        table.add_row(f"{size:,}", f"{-(-size // gpus_per_node):,}", format_hours(float(value)))
    console.print(table)
