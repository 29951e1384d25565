"""Lost goodput from infrastructure failures, first and second order, and crash loops
(PAPER.md §4), in the engine.

**First order.** Every attempt that ran and ended in an infrastructure failure
(``metrics.is_infra_failure``: NODE_FAIL without a cause in the user domain, or FAILED or
NODE_FAIL with a hardware or system-software cause; the paper's "hardware cause", read as the
infrastructure's, as for MTTF and the ETTR of runs) loses the work since its last checkpoint:
min(runtime, Δt_cp / 2) x its GPUs (the paper: 30 min with hourly checkpoints). Jobs without
GPUs lose no GPU time and are left out.

**Second order.** When such a job is requeued, its next attempt (same job id) may preempt
others to get nodes. A PREEMPTED attempt is charged to the failed job when it ended within
``tolerance_s`` (default 60 s) of the start of the failed job's next attempt and shares a node
with it; it loses min(runtime, Δt_cp / 2) x its GPUs too. A preemption that matches several
requeues is charged once, to the closest in time (then the lowest job key).

Both are reported per size bucket of the failed job (``metrics.size_bucket``): the loss its
failures caused, and the preemptions they caused. The paper found 16% of the hardware-caused
loss in second-order preemptions.

**Crash loops.** Job ids requeued at least ``crash_loop_min`` times (default 5) after
infrastructure failures (failed attempts followed by another attempt of the same id), with
the preemptions their requeues caused and the GPU-hours both lost (the paper: a 1024-GPU job
requeued 35 times causing 548 preemptions).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from gpurel.analysis.attribution import JOB_KEY, ran, runtime_s, seconds_between
from gpurel.analysis.metrics import HOUR_S, exact_sum, is_infra_failure, size_bucket
from gpurel.analysis.stacking import fetch_together, sorted_by
from gpurel.errors import ConfigError
from gpurel.schema import JobState

FAILED_KEY = tuple(f"failed_{k}" for k in JOB_KEY)


@dataclass(frozen=True)
class GoodputRules:
    """How preemptions are matched to requeues, and what counts as a crash loop."""

    tolerance_s: int = 60
    crash_loop_min: int = 5

    def __post_init__(self) -> None:
        if self.tolerance_s < 0 or self.crash_loop_min < 1:
            raise ConfigError("lost goodput: tolerance >= 0 s and crash loops of >= 1 requeue")


@dataclass
class LostGoodput:
    """The totals, the per-bucket split and the crash loops."""

    ckpt_s: float
    rules: GoodputRules
    totals: dict[str, Any]
    by_bucket: pa.Table
    crash_loops: pa.Table


def lost_gpu_hours(t: ir.Table, ckpt_s: float) -> ir.FloatingValue:
    """min(runtime, Δt_cp / 2) x GPUs, in GPU-hours."""
    lost_s = ibis.least(runtime_s(t), ckpt_s / 2)
    return lost_s * t.n_gpus.fill_null(0) / HOUR_S


def first_order(jobs: ir.Table, failures: ir.Table, ckpt_s: float) -> ir.Table:
    """Infrastructure failures with their loss and the start and nodes of their next attempt."""
    f = failures.filter(is_infra_failure(failures), failures.n_gpus.fill_null(0) > 0)
    f = f.select(
        *JOB_KEY, "n_gpus", "start_time", "end_time", lost_gpu_hours=lost_gpu_hours(f, ckpt_s)
    )
    nxt = jobs.filter(jobs.start_time.notnull()).select(
        n_cluster="cluster",
        n_job_id="job_id",
        n_attempt=(jobs.attempt - 1).cast("int32"),
        requeue_start="start_time",
        requeue_nodes="nodes",
    )
    j = f.left_join(
        nxt,
        [f.cluster == nxt.n_cluster, f.job_id == nxt.n_job_id, f.attempt == nxt.n_attempt],
    )
    return j.drop("n_cluster", "n_job_id", "n_attempt")


def second_order(jobs: ir.Table, first: ir.Table, ckpt_s: float, rules: GoodputRules) -> ir.Table:
    """PREEMPTED attempts charged to a requeue (see the module docstring), with their loss."""
    requeues = first.filter(first.requeue_start.notnull())
    r = requeues.select(
        **{f: k for f, k in zip(FAILED_KEY, JOB_KEY, strict=True)},
        failed_gpus="n_gpus",
        requeue_start="requeue_start",
        node="requeue_nodes",
    ).unnest("node")
    victims = jobs.filter(jobs.state == JobState.PREEMPTED.value, ran(jobs))
    v = victims.select(*JOB_KEY, "n_gpus", "start_time", "end_time", v_node="nodes").unnest(
        "v_node"
    )
    tolerance = ibis.interval(seconds=rules.tolerance_s)
    pairs = r.join(
        v,
        [
            r.failed_cluster == v.cluster,
            r.node == v.v_node,
            v.end_time >= r.requeue_start - tolerance,
            v.end_time <= r.requeue_start + tolerance,
        ],
    )
    pairs = pairs.select(
        *JOB_KEY,
        *FAILED_KEY,
        "failed_gpus",
        "n_gpus",
        "start_time",
        "end_time",
        offset_s=seconds_between(pairs.requeue_start, pairs.end_time).abs(),
    ).distinct()
    victim = [pairs[k] for k in JOB_KEY]
    order = [pairs.offset_s, *(pairs[k] for k in FAILED_KEY)]
    pairs = pairs.mutate(pick=ibis.row_number().over(group_by=victim, order_by=order))
    chosen = pairs.filter(pairs.pick == 0).drop("pick")
    return chosen.mutate(lost_gpu_hours=lost_gpu_hours(chosen, ckpt_s))


def by_bucket(first: ir.Table, second: ir.Table) -> ir.Table:
    """Failures, preemptions and both orders of loss per size bucket of the failed job."""
    f = first.group_by(bucket=size_bucket(first.n_gpus)).aggregate(
        failures=first.count(), first_order_gpu_hours=exact_sum(first.lost_gpu_hours)
    )
    s = second.group_by(s_bucket=size_bucket(second.failed_gpus)).aggregate(
        preemptions=second.count(),
        preempted_gpus=second.n_gpus.fill_null(0).sum(),
        second_order_gpu_hours=exact_sum(second.lost_gpu_hours),
    )
    j = f.left_join(s, f.bucket == s.s_bucket)
    second_hours = j.second_order_gpu_hours.fill_null(0.0)
    lost = j.first_order_gpu_hours + second_hours
    return j.select(
        "bucket",
        label=j.bucket.cast("string"),
        failures=j.failures,
        first_order_gpu_hours=j.first_order_gpu_hours,
        preemptions=j.preemptions.fill_null(0),
        preempted_gpus=j.preempted_gpus.fill_null(0),
        second_order_gpu_hours=second_hours,
        lost_gpu_hours=lost,
        second_order_share=second_hours / lost.nullif(0),
    )


def _totals(by_bucket: pa.Table) -> dict[str, Any]:
    sums = {
        name: sum(by_bucket[name].to_pylist())
        for name in ("failures", "preemptions", "first_order_gpu_hours", "second_order_gpu_hours")
    }
    lost = sums["first_order_gpu_hours"] + sums["second_order_gpu_hours"]
    return sums | {
        "lost_gpu_hours": lost,
        "second_order_share": sums["second_order_gpu_hours"] / lost if lost else None,
    }


def crash_loops(jobs: ir.Table, first: ir.Table, second: ir.Table, min_requeues: int) -> ir.Table:
    """Job ids requeued at least ``min_requeues`` times after infrastructure failures."""
    per_job = first.group_by("cluster", "job_id").aggregate(
        failures=first.count(),
        requeues=first.requeue_start.notnull().cast("int64").sum(),
        n_gpus=first.n_gpus.max(),
        first_failure=first.end_time.min(),
        last_failure=first.end_time.max(),
        first_order_gpu_hours=exact_sum(first.lost_gpu_hours),
    )
    loops = per_job.filter(per_job.requeues >= min_requeues)
    caused = second.group_by(c_cluster="failed_cluster", c_job_id="failed_job_id").aggregate(
        preemptions=second.count(),
        preempted_gpus=second.n_gpus.fill_null(0).sum(),
        second_order_gpu_hours=exact_sum(second.lost_gpu_hours),
    )
    who = jobs.group_by(w_cluster="cluster", w_job_id="job_id").aggregate(
        name=jobs.name.max(), user=jobs.user.max()
    )
    j = loops.left_join(
        caused, [loops.cluster == caused.c_cluster, loops.job_id == caused.c_job_id]
    )
    j = j.left_join(who, [j.cluster == who.w_cluster, j.job_id == who.w_job_id])
    return j.select(
        "cluster",
        "job_id",
        "name",
        "user",
        "n_gpus",
        "failures",
        "requeues",
        "first_failure",
        "last_failure",
        preemptions=j.preemptions.fill_null(0),
        preempted_gpus=j.preempted_gpus.fill_null(0),
        first_order_gpu_hours=j.first_order_gpu_hours,
        second_order_gpu_hours=j.second_order_gpu_hours.fill_null(0.0),
    )


def lost_goodput(
    jobs: ir.Table, failures: ir.Table, ckpt_s: float = 3600.0, rules: GoodputRules | None = None
) -> LostGoodput:
    """First- and second-order lost goodput per size bucket, and the crash loops (one engine
    query for both tables)."""
    r = rules or GoodputRules()
    first = first_order(jobs, failures, ckpt_s)
    second = second_order(jobs, first, ckpt_s, r)
    buckets, loops = fetch_together(
        by_bucket(first, second), crash_loops(jobs, first, second, r.crash_loop_min)
    )
    buckets = sorted_by(buckets, ["bucket"])
    loops = sorted_by(
        loops, [("preemptions", "descending"), ("requeues", "descending"), "cluster", "job_id"]
    )
    return LostGoodput(ckpt_s, r, _totals(buckets), buckets, loops)


def to_doc(lost: LostGoodput) -> dict[str, Any]:
    """The lost goodput as a mapping (tables and times still to convert)."""
    return {
        "ckpt_s": lost.ckpt_s,
        "rules": asdict(lost.rules),
        "totals": lost.totals,
        "by_bucket": lost.by_bucket,
        "crash_loops": lost.crash_loops,
    }
