"""Lemon signals and lost goodput on a simulated year, against the attribution they build on.

Simulates ``--preset`` (default rsc1: 2,000 nodes) for ``--days`` (default 330) into a
temporary DuckDB warehouse, or takes an existing ``--warehouse``. Then times, in this process:
attributing the failures (the ``failures`` table every job signal reads; the baseline), the
per-node signals over a 28-day window and over the whole period, the full detection (signals,
thresholds, evidence) of the last 28 days, a backtest, and lost goodput. Prints seconds and
the ratio of each to the baseline. Usage:
    uv run python bench/lemons.py [--days 330] [--scale 1.0] [--seed 0] [--warehouse FILE]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from gpurel.analysis import goodput, lemons, metrics
from gpurel.analysis.summary import Settings, attributed_failures, lemon_inputs
from gpurel.sim import preset, simulate, with_overrides
from gpurel.warehouse import Warehouse

DAY_S = 86_400


def timed(f: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = f()
    return out, time.perf_counter() - start


def simulated(path: Path, name: str, days: float, scale: float, seed: int) -> None:
    config = with_overrides(preset(name), {"days": str(days), "scale": str(scale)})
    result, took = timed(lambda: simulate(config, seed))
    warehouse = Warehouse.open(path)
    _, stored = timed(lambda: result.store(warehouse))
    counts = warehouse.counts()
    warehouse.close()
    print(
        f"simulated {name} × {scale:g}, {days:g} days in {took:.1f} s, stored in {stored:.1f} s: "
        f"{counts['nodes']:,} nodes, {counts['jobs']:,} job attempts, "
        f"{counts['node_events']:,} node events"
    )


def signals_over(inputs: lemons.Inputs, window_s: int, as_of: datetime) -> int:
    settings = lemons.LemonSettings(window_s=window_s, as_of=as_of)
    period = lemons.window(inputs, settings)
    table, _ = lemons.signals(inputs, period, settings)
    return table.num_rows


def bench(path: Path) -> None:
    warehouse = Warehouse.open(path)
    s = Settings()
    _, base = timed(lambda: attributed_failures(warehouse, s).count().execute())
    inputs = lemon_inputs(warehouse, s)  # attributes again: the failures table is replaced
    end = lemons.window(inputs, lemons.LemonSettings()).end
    start = metrics.analysis_period(inputs.jobs, inputs.events, inputs.nodes).start
    whole = int((end - start).total_seconds()) + 1
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("signals, 28-day window", lambda: signals_over(inputs, 28 * DAY_S, end)),
        ("signals, whole period", lambda: signals_over(inputs, whole, end)),
        ("detection with evidence, 28 days", lambda: lemons.find_lemons(inputs)),
        (
            "backtest: flag at end - 56 days, 56 days after",
            lambda: lemons.backtest(
                inputs,
                lemons.find_lemons(inputs, lemons.LemonSettings(as_of=end - timedelta(days=56))),
            ),
        ),
        ("lost goodput", lambda: goodput.lost_goodput(inputs.jobs, inputs.failures)),
    ]
    print(f"{'attribution (baseline)':<48} {base:7.2f} s  1.00")
    for label, step in steps:
        _, took = timed(step)
        print(f"{label:<48} {took:7.2f} s  {took / base:4.2f}")
    warehouse.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="rsc1")
    parser.add_argument("--days", type=float, default=330.0)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warehouse", type=Path, help="an existing warehouse to measure")
    args = parser.parse_args()
    if args.warehouse is not None:
        bench(args.warehouse)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        simulated(path, args.preset, args.days, args.scale, args.seed)
        bench(path)


if __name__ == "__main__":
    main()
