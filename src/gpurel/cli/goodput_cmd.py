"""``gpurel goodput``: GPU time lost to infrastructure failures, first and second order."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.text import Text

from gpurel.absent import Absent
from gpurel.analysis.goodput import GoodputRules, LostGoodput
from gpurel.analysis.runs import Checkpointing
from gpurel.analysis.summary import Settings, goodput_json, lost_goodput
from gpurel.cli.common import (
    ClusterOption,
    EngineOption,
    JsonOption,
    TaxonomyOption,
    WarehouseOption,
    console,
    fail,
    open_warehouse,
    seconds,
)
from gpurel.cli.render import CRASH_LOOPS, GOODPUT_BUCKETS, table
from gpurel.errors import GpurelError
from gpurel.formatting import cell


def render(lost: LostGoodput | Absent) -> None:
    """The totals, the per-bucket split and the crash loops (or why there are none)."""
    if isinstance(lost, Absent):
        console.print(Text(f"Lost goodput {lost}"))
        return
    t, r = lost.totals, lost.rules
    console.print(
        f"[bold]Lost goodput[/]: {cell(t['lost_gpu_hours'])} GPU-hours: "
        f"{cell(t['first_order_gpu_hours'])} from {t['failures']:,} infrastructure failures "
        f"(min(runtime, Δt_cp/2 = {lost.ckpt_s / 120:g} min) × GPUs), "
        f"{cell(t['second_order_gpu_hours'])} from {t['preemptions']:,} preemptions for their "
        f"requeues ({cell(t['second_order_share'], '%')} second order; paper: 16%)"
    )
    if lost.by_bucket.num_rows:
        console.print(
            table(
                "Lost goodput by size of the failed job (second order: the preemptions it caused)",
                GOODPUT_BUCKETS,
                lost.by_bucket.to_pylist(),
            )
        )
    loops = f"Crash loops: jobs requeued {r.crash_loop_min}+ times after failures"
    if not lost.crash_loops.num_rows:
        console.print(f"{loops}: none")
        return
    console.print(table(loops, CRASH_LOOPS, lost.crash_loops.to_pylist()))


def goodput(
    ckpt: Annotated[str, typer.Option(help="Assumed checkpoint interval Δt_cp.")] = "60m",
    tolerance: Annotated[
        str, typer.Option(help="A preemption this close to a requeue's start is charged to it.")
    ] = "60s",
    crash_loops: Annotated[
        int, typer.Option(help="Crash loop: a job requeued this many times after failures.")
    ] = 5,
    cluster: ClusterOption = None,
    as_json: JsonOption = False,
    taxonomy: TaxonomyOption = None,
    warehouse: WarehouseOption = None,
    engine: EngineOption = None,
) -> None:
    """GPU time lost to infrastructure failures and the preemptions of their requeues (§4)."""
    try:
        settings = Settings(
            cluster=cluster,
            taxonomy_file=str(taxonomy) if taxonomy else None,
            checkpointing=Checkpointing(ckpt_s=seconds(ckpt, "--ckpt")),
            goodput_rules=GoodputRules(int(seconds(tolerance, "--tolerance")), crash_loops),
        )
    except GpurelError as exc:
        raise fail(str(exc)) from exc
    with open_warehouse(warehouse, engine) as store:
        lost = lost_goodput(store, settings)
    if as_json:
        print(json.dumps(goodput_json(lost), indent=2))
    else:
        render(lost)
