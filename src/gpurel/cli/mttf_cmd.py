"""``gpurel mttf``: project the MTTF of jobs of given sizes."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gpurel.cli.common import console, fail, parse_int_list
from gpurel.models.failure_model import projected_mttf_hours
from gpurel.units import format_hours


def mttf(
    gpus: Annotated[str, typer.Option(help="Job sizes in GPUs, comma-separated.")],
    rf: Annotated[
        float, typer.Option(help="Node failure rate r_f, failures per 1000 node-days.")
    ],
    gpus_per_node: Annotated[int, typer.Option(help="GPUs per node.")] = 8,
) -> None:
    """MTTF of a job on N GPUs with nodes in series: 1 / (N_nodes × r_f)."""
    sizes = parse_int_list(gpus, "--gpus")
    if rf <= 0:
        raise fail("--rf must be positive (failures per 1000 node-days)")
    hours = projected_mttf_hours(sizes, rf / 1000.0, gpus_per_node=gpus_per_node)
    table = Table("GPUs", "nodes", "MTTF", title=f"Projected MTTF at r_f = {rf:g} / 1000 node-days")
    for size, value in zip(sizes, hours, strict=True):
        table.add_row(f"{size:,}", f"{-(-size // gpus_per_node):,}", format_hours(float(value)))
    console.print(table)
