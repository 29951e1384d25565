"""``simulate(config, seed)``: draw the workload and faults, run the engine, build the tables."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from gpurel.sim import faults, workload, writers
from gpurel.sim.config import DAY, SimConfig
from gpurel.sim.engine import Engine
from gpurel.sim.output import Builder, Window
from gpurel.warehouse import Warehouse


@dataclass
class SimResult:
    """One simulation: its canonical tables, its ground truth and how long it took."""

    config: SimConfig
    seed: int
    tables: dict[str, pa.Table]  # jobs, node_events, nodes
    truth: dict[str, pa.Table]  # truth_* tables
    stats: dict[str, float] = field(default_factory=dict)

    def store(self, warehouse: Warehouse) -> None:
        """Write the canonical tables (upsert) and replace the ``truth_*`` side tables (kept by
        a DuckDB file and a Parquet warehouse alike)."""
        for name, table in self.tables.items():
            warehouse.write(name, table)
        for name, table in self.truth.items():
            warehouse.replace_side(name, table)

    def write_sacct(self, path: Path, tz: str = "UTC") -> None:
        """The jobs as ``sacct --parsable2`` text, local times in ``tz``."""
        writers.write_sacct(self.tables["jobs"], path, tz)

    def write_gcm(self, path: Path) -> None:
        """The failing health-check records as GCM JSON lines."""
        writers.write_gcm(self.tables["node_events"], path)


def horizon_days(config: SimConfig, warmup_s: int | None = None) -> float:
    """Days the engine simulates: the longest warm-up and the measured days. The workload
    and faults are drawn over the longest warm-up whatever the actual one, so that a twin
    with a given warm-up draws exactly the same (common random numbers)."""
    return max(config.warmup_max_days * DAY, warmup_s or 0) / DAY + config.days


def simulate(
    config: SimConfig,
    seed: int = 0,
    warmup_s: int | None = None,
    days_done: Callable[[float], None] | None = None,
) -> SimResult:
    """Simulate ``config`` with ``seed``: same inputs, same tables. The warm-up lasts until
    the cluster is stationary, or ``warmup_s`` seconds when given (to compare two
    configurations over the same window). ``days_done`` is told of each simulated day
    (``horizon_days`` in all)."""
    config.validate()
    began = time.perf_counter()
    work_seed, fault_seed, loop_seed = np.random.SeedSequence(seed).spawn(3)
    # the workload and faults are drawn over the longest possible warm-up whatever the actual
    # one, so that a twin with a given warm-up draws exactly the same (common random numbers)
    horizon = round(horizon_days(config, warmup_s) * DAY)
    work = workload.draw(work_seed, config, horizon)
    plan = faults.draw(fault_seed, config, horizon)
    seed_loop = int(loop_seed.generate_state(1)[0])
    engine = Engine(config, work, plan, seed_loop, horizon, warmup_s)
    gc.disable()  # millions of small containers and no cycles: the collector only costs time
    try:
        journal = engine.run(days_done)
    finally:
        gc.enable()
    simulated = time.perf_counter()
    window = Window.of(config, engine.window_begin, engine.horizon)
    tables, truth = Builder(config, journal, work, plan, engine.health, window).build()
    stats = {
        "job_ids": float(len(journal.gpus)),
        "attempts": float(len(journal.a_job)),  # warm-up included
        "attempts_stored": float(tables["jobs"].num_rows),  # those of the window after it
        "events": float(engine.events),
        "epilog_false_positives": float(engine.epilog_failures),  # warm-up included
        "warmup_s": float(engine.window_begin),
        "warmup_stationary": float(engine.stationary),
        "simulate_s": simulated - began,
        "output_s": time.perf_counter() - simulated,
    }
    transient = engine.steady.truncation()
    if transient is not None:
        stats["transient_days"] = float(transient)  # MSER: where the start-up transient ended
    return SimResult(config, seed, tables, truth, stats)
