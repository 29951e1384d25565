"""What-if: what gpurel measures on a simulated cluster, and two configurations side by side.

``outcome`` analyzes one simulation with gpurel's own analysis (attribution, r_f, runs and
their measured ETTR) and adds what only the simulator knows (second-order preemptions, true
ETTR). ``compare`` runs two configurations on the same seed: the workload and the faults of
normal nodes are drawn from the same random streams, so the difference is the change's effect
rather than noise (common random numbers).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from gpurel.analysis import metrics
from gpurel.analysis.runs import Checkpointing, RunRules, runs, selected
from gpurel.analysis.summary import analyze
from gpurel.sim.calibration import headline
from gpurel.sim.config import SimConfig
from gpurel.sim.run import SimResult, simulate
from gpurel.warehouse import Warehouse

LARGE_GPUS = 512  # the paper's "large jobs" for the lemon-node result
LOSS_CAP_S = 1800  # paper: hourly checkpoints, so a failure loses min(runtime, 30 min)
MIN_RUN_HOURS = 24.0


@dataclass(frozen=True)
class Outcome:
    """The figures a what-if compares."""

    rf: float  # per 1000 node-days
    rf_lo: float
    rf_hi: float
    large_failure_share: float | None  # 512+ GPU attempts ended by infrastructure failures
    lost_first_order: float  # GPU-hours: min(runtime, 30 min) x GPUs of infra failures
    lost_second_order: float  # GPU-hours of preemptions for jobs requeued after a fault (truth)
    ettr_measured: float | None  # GPU-weighted, runs >= 24 h, gpurel's runs analysis
    ettr_true: float | None  # GPU-weighted, same runs by the simulator's truth
    headline: dict[str, float]

    def rows(self) -> dict[str, float | None]:
        """The compared figures by name."""
        return {
            "r_f per 1000 node-days": self.rf,
            f"failed share of {LARGE_GPUS}+ GPU attempts": self.large_failure_share,
            "lost goodput, first order (GPU-h)": self.lost_first_order,
            "lost goodput, second order (GPU-h)": self.lost_second_order,
            "run ETTR, measured (GPU-weighted)": self.ettr_measured,
            "run ETTR, true (GPU-weighted)": self.ettr_true,
            "utilization": self.headline["utilization"],
            "PREEMPTED share": self.headline["preempted_share"],
        }


def _scalar(expr: ir.Scalar) -> float:
    value = expr.to_pyarrow().as_py()
    return float(value) if value is not None else 0.0


def large_failure_share(jobs: ir.Table, failures: ir.Table) -> float | None:
    """Share of the attempts of 512+ GPUs that ran and ended in an infrastructure failure
    (None when no such attempt ran)."""
    big = jobs.filter(jobs.n_gpus >= LARGE_GPUS, metrics.ran(jobs))
    failed = failures.filter(failures.n_gpus >= LARGE_GPUS, metrics.is_infra_failure(failures))
    total = _scalar(big.count())
    return _scalar(failed.count()) / total if total else None


def _lost_first_order(failures: ir.Table) -> float:
    f = failures.filter(metrics.is_infra_failure(failures))
    capped = f.runtime_s.clip(upper=LOSS_CAP_S) * f.n_gpus / 3600
    return _scalar(capped.sum())


def _lost_second_order(preemptions: pa.Table) -> float:
    second = preemptions.filter(preemptions["preemptor_after_fault"])
    runtime = pc.divide(
        pc.cast(pc.subtract(second["time"], second["start_time"]), pa.int64()), 1_000_000
    )
    capped = pc.min_element_wise(runtime, LOSS_CAP_S)
    return float(pc.sum(pc.multiply(capped, second["n_gpus"])).as_py() or 0) / 3600


def checkpointing(config: SimConfig) -> Checkpointing:
    """The runs' checkpointing as their operator knows it: Δt_cp, u0 and w_cp of ``config``."""
    return Checkpointing(config.checkpoint_interval, config.u0, config.checkpoint_write)


def ettr_measured(
    warehouse: Warehouse, failures: ir.Table, ckpt: Checkpointing, min_gpus: int = 0
) -> float | None:
    """GPU-weighted measured ETTR of the runs of ``min_gpus`` or more that ran 24 h or more,
    with checkpointing ``ckpt`` (every interruption counted; None without such runs)."""
    rules = RunRules(min_hours=MIN_RUN_HOURS)
    r = selected(runs(warehouse.jobs(), failures, ckpt=ckpt), rules)
    r = r.filter(r.n_gpus >= min_gpus)
    row = r.aggregate(
        p=(r.productive_s * r.n_gpus).sum(), w=(r.wallclock_s * r.n_gpus).sum()
    ).to_pyarrow()
    p, w = row["p"][0].as_py(), row["w"][0].as_py()
    return p / w if w else None


def _ettr_true(truth_runs: pa.Table) -> float | None:
    running = pc.add(truth_runs["productive_s"], truth_runs["unproductive_s"])
    long_runs = truth_runs.filter(pc.greater_equal(running, MIN_RUN_HOURS * 3600))
    gpus = long_runs["n_gpus"]
    productive = pc.sum(pc.multiply(long_runs["productive_s"], gpus)).as_py() or 0
    wall = pc.add(
        pc.add(long_runs["queue_s"], long_runs["productive_s"]), long_runs["unproductive_s"]
    )
    total = pc.sum(pc.multiply(wall, gpus)).as_py() or 0
    return productive / total if total else None


@contextmanager
def stored(result: SimResult) -> Iterator[Warehouse]:
    """``result`` in a throwaway in-memory warehouse, closed on exit."""
    warehouse = Warehouse.in_memory()
    try:
        result.store(warehouse)
        yield warehouse
    finally:
        warehouse.close()


def outcome(result: SimResult) -> Outcome:
    """Analyze ``result`` in a throwaway warehouse and collect the what-if figures."""
    with stored(result) as warehouse:
        analysis = analyze(warehouse)
        failures = warehouse.derived("failures")
        rate = analysis.node_failure_rate
        return Outcome(
            rf=rate.per_1000_node_days,
            rf_lo=rate.lo_per_1000_node_days,
            rf_hi=rate.hi_per_1000_node_days,
            large_failure_share=large_failure_share(warehouse.jobs(), failures),
            lost_first_order=_lost_first_order(failures),
            lost_second_order=_lost_second_order(result.truth["truth_preemptions"]),
            ettr_measured=ettr_measured(warehouse, failures, checkpointing(result.config)),
            ettr_true=_ettr_true(result.truth["truth_runs"]),
            headline=headline(analysis, warehouse),
        )


def twin(result: SimResult, variant: SimConfig) -> SimResult:
    """``variant`` simulated on ``result``'s seed over the same window (the same warm-up)."""
    return simulate(variant, result.seed, warmup_s=round(result.stats["warmup_s"]))


def compare(base: SimConfig, variant: SimConfig, seed: int) -> tuple[Outcome, Outcome]:
    """Outcomes of two configurations simulated on the same seed and window."""
    first = simulate(base, seed)
    return outcome(first), outcome(twin(first, variant))
