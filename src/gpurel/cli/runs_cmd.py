"""``gpurel runs``: job runs and their measured ETTR per job-size bucket."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from gpurel.absent import Absent
from gpurel.analysis.summary import RunEttr, Settings, measured_runs, projectable, runs_json
from gpurel.cli.common import (
    ClusterOption,
    EngineOption,
    TaxonomyOption,
    WarehouseOption,
    console,
    open_warehouse,
    print_json,
)
from gpurel.cli.render import cell
from gpurel.cli.settings import ATTRIBUTION, CHECKPOINTING, Values, analysis_settings, group, uses
from gpurel.formatting import neutral

COLUMNS = (
    "GPUs ≤",
    "runs",
    "interrupts",
    "ETTR",
    "q25–q75",
    "infra only",
    "sched. only",
    "expected",
)


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _row(r: dict[str, Any]) -> list[str]:
    return [
        cell(r["bucket"]),
        cell(r["runs"]),
        cell(r["interruptions"]),
        _ratio(r["ettr_mean"]),
        f"{_ratio(r['ettr_q25'])}–{_ratio(r['ettr_q75'])}",
        _ratio(r["ettr_infra_mean"]),
        _ratio(r["ettr_scheduler_mean"]),
        _ratio(r["ettr_expected"]),
    ]


def _render(measured: RunEttr, s: Settings) -> None:
    rules, c, rf = s.run_rules, s.checkpointing, projectable(measured.rate)
    qos = f", QoS {escape(neutral(rules.qos))}" if rules.qos else ""
    out = Table(
        title=f"Measured ETTR of job runs ≥ {rules.min_hours:g} h{qos}, by run",
        title_justify="left",
        title_style="bold",
    )
    for header in COLUMNS:
        out.add_column(header, justify="right")
    rows = measured.by_bucket.to_pylist()
    if not rows:
        console.print(f"{out.title}: none")  # the title's markup is escaped
        return
    for row in rows:
        out.add_row(*_row(row))
    console.print(out)
    expected = (
        f"no expected ETTR: r_f {rf}"
        if isinstance(rf, Absent)
        else f"expected at r_f {cell(rf.per_1000_node_days)} per 1000 node-days"
    )
    console.print(
        Text(
            "ETTR (mean, quartiles) counts every interruption, the paper's lower bound; 'infra "
            "only' only those the infrastructure caused, 'sched. only' only preemptions and "
            f"requeues. Assumed Δt_cp {c.ckpt_s / 60:g} min, u0 {c.restart_s / 60:g} min, "
            f"w_cp {c.write_s:g} s; {expected}."
        )
    )


@uses(*ATTRIBUTION, *group("runs"), *CHECKPOINTING, "rates.rf_min_gpus", "rates.gpus_per_node")
def runs(
    cluster: ClusterOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON with the per-bucket table and every run.")
    ] = False,
    taxonomy: TaxonomyOption = None,
    warehouse: WarehouseOption = None,
    engine: EngineOption = None,
    *,
    settings: Values,
) -> None:
    """Group job attempts into runs and measure their ETTR per size bucket (PAPER.md §4)."""
    chosen = analysis_settings(settings, cluster, taxonomy)
    with open_warehouse(warehouse, engine, write=False) as store:
        measured = measured_runs(store, chosen)
        if as_json:
            print_json(runs_json(measured, chosen))
            return
    _render(measured, chosen)
