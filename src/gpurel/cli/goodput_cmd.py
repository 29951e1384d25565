"""``gpurel goodput``: GPU time lost to infrastructure failures, first and second order."""

from __future__ import annotations

from rich.text import Text

from gpurel.absent import Absent
from gpurel.analysis.goodput import LostGoodput
from gpurel.analysis.summary import goodput_json, lost_goodput
from gpurel.cli.common import (
    ClusterOption,
    EngineOption,
    JsonOption,
    TaxonomyOption,
    WarehouseOption,
    console,
    open_warehouse,
    print_json,
)
from gpurel.cli.render import CRASH_LOOPS, GOODPUT_BUCKETS, table
from gpurel.cli.settings import ATTRIBUTION, Values, analysis_settings, group, uses
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


@uses(*ATTRIBUTION, "checkpointing.ckpt", *group("goodput"))
def goodput(
    cluster: ClusterOption = None,
    as_json: JsonOption = False,
    taxonomy: TaxonomyOption = None,
    warehouse: WarehouseOption = None,
    engine: EngineOption = None,
    *,
    settings: Values,
) -> None:
    """GPU time lost to infrastructure failures and the preemptions of their requeues (§4)."""
    chosen = analysis_settings(settings, cluster, taxonomy)
    with open_warehouse(warehouse, engine, write=False) as store:
        lost = lost_goodput(store, chosen)
    if as_json:
        print_json(goodput_json(lost))
    else:
        render(lost)
