"""Job runs and their measured ETTR (PAPER.md §4, §5 and the paper's Fig. 9), in the engine.

**Runs.** Only attempts that ran (start set, end after start) take part. A run is a chain of
jobs forming one training task:

1. every attempt of one (cluster, job_id) belongs to the same run (requeues);
2. jobs of one (cluster, name, user, account) are taken in order of their first start; a job
   continues the run of the job just before it when it started no earlier than that job's last
   end (runs are sequential) and was submitted no later than ``gap_s`` (default 1 h) after it
   (resubmissions, dependency chains and throttled arrays submitted ahead of time qualify);
   otherwise it starts a new run. Jobs without a name or user never chain; a missing account
   matches a missing account. Array tasks and het-job parts are jobs like any other: running
   side by side they are separate runs, one after another they chain by rule 2.

A run's id is ``cluster:job_id`` of its first job; its GPUs the largest attempt's; its QoS the
first attempt's.

**Measured ETTR** (assumed checkpoint interval Δt_cp, restart overhead u0, write time w_cp;
defaults 60 min, 5 min, 0):

- Q: per attempt, start − max(submit, eligible, previous attempt's end in the run), at least 0
  (a null eligible time falls back to submit; an attempt cannot queue while its predecessor
  still runs, which also keeps requeues and early-submitted chains from counting twice).
- Running time: the attempts' runtimes. W = Q + running time.
- Interruption: an attempt ending FAILED, NODE_FAIL, PREEMPTED or REQUEUED that is followed by
  another attempt of the run. The run's last attempt is never one, whatever its state; an
  attempt ending otherwise (COMPLETED, TIMEOUT, CANCELLED, ...) and followed by another is a
  planned continuation that saved its state.
- U per attempt: the restart overhead min(u0, runtime) when the previous attempt was an
  interruption; w_cp per completed checkpoint (every Δt_cp of work after the restart, a cycle
  of Δt_cp + w_cp); and, when the attempt is an interruption, the exact time since its last
  completed checkpoint ((runtime − restart) mod (Δt_cp + w_cp)), lost and redone.
- R = W − Q − U, ETTR = R / W (never negative: U never exceeds an attempt's runtime).

Three variants, one run grouping:

- ``ettr``: every interruption counts (the paper's lower bound);
- ``ettr_infra``: an interruption counts only when the infrastructure caused it: FAILED or
  NODE_FAIL attempts with an infrastructure cause in the ``failures`` table of
  ``attribution.attribute`` (``metrics.is_infra_failure``: hardware or system-software domain,
  or an unattributed NODE_FAIL);
- ``ettr_scheduler``: an interruption counts only when the scheduler took the nodes: PREEMPTED
  or REQUEUED attempts (preemptions, requeues).

An interruption a variant does not count is not the cluster's loss in that view: it charges
neither lost work nor a restart, as if the job had chosen to stop there.

``ettr_by_bucket`` keeps GPU runs with at least ``min_hours`` of running time (default 24 h)
and, optionally, of one QoS, and reports per size bucket (``metrics.size_bucket`` of the run's
GPUs) the mean, quartiles and GPU-time-weighted ETTR of each variant.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from gpurel.analysis.attribution import ran
from gpurel.analysis.metrics import HOUR_S, exact_sum, is_infra_failure, size_bucket
from gpurel.errors import ConfigError
from gpurel.schema import JobState

INTERRUPTION_STATES = tuple(
    s.value for s in (JobState.FAILED, JobState.NODE_FAIL, JobState.PREEMPTED, JobState.REQUEUED)
)
SCHEDULER_STATES = (JobState.PREEMPTED.value, JobState.REQUEUED.value)
CHAIN_KEY = ("cluster", "name", "user", "account")
RUN_KEY = ("cluster", "run_id")
US = 1_000_000  # durations are summed in whole microseconds: exact, in any row order
_VARIANTS = ("", "_infra", "_scheduler")


@dataclass(frozen=True)
class RunRules:
    """How attempts chain into runs and which runs the measured table keeps."""

    gap_s: int = 3600
    min_hours: float = 24.0
    qos: str | None = None


@dataclass(frozen=True)
class Checkpointing:
    """Assumed checkpointing of every run: interval, restart overhead and write time (s)."""

    ckpt_s: float = 3600.0
    restart_s: float = 300.0
    write_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.ckpt_s > 0 or self.restart_s < 0 or self.write_s < 0:
            raise ConfigError(
                "checkpointing: the interval must be positive, restart and write times >= 0"
            )

    def micros(self) -> tuple[int, int, int]:
        """(Δt_cp, u0, w_cp) in whole microseconds, the unit of the engine-side arithmetic."""
        return round(self.ckpt_s * US), round(self.restart_s * US), round(self.write_s * US)


def _job_level(attempts: ir.Table) -> ir.Table:
    """One row per (cluster, job_id): chain key, first submit and start, last end."""
    a = attempts
    return a.group_by("cluster", "job_id").aggregate(
        name=a.name.max(),
        user=a.user.max(),
        account=a.account.max().fill_null(""),
        first_submit=a.submit_time.fill_null(a.start_time).min(),
        first_start=a.start_time.min(),
        last_end=a.end_time.max(),
    )


def _chain_window(
    j: ir.Table, *extra: str, **frame: object
) -> ibis.expr.builders.LegacyWindowBuilder:
    """A window over the jobs of one chain key (and ``extra`` columns), in start order."""
    keys = [j[k] for k in (*CHAIN_KEY, *extra)]
    return ibis.window(group_by=keys, order_by=[j.first_start, j.job_id], **frame)


def run_ids(attempts: ir.Table, gap_s: int = 3600) -> ir.Table:
    """(cluster, job_id, run_id) for every job of ``attempts``, by the chaining rules."""
    j = _job_level(attempts)
    prev_end = j.last_end.lag().over(_chain_window(j))
    new = (
        j.name.isnull()
        | j.user.isnull()
        | prev_end.isnull()
        | (j.first_start < prev_end)
        | (j.first_submit > prev_end + ibis.interval(seconds=gap_s))
    )
    j = j.mutate(new=new.cast("int64"))
    j = j.mutate(seq=j.new.sum().over(_chain_window(j, rows=(None, 0))))
    first_job = j.job_id.first().over(_chain_window(j, "seq"))
    return j.select("cluster", "job_id", run_id=j.cluster.concat(":", first_job))


def _attempts(jobs: ir.Table) -> ir.Table:
    ran_jobs = jobs.filter(ran(jobs))
    return ran_jobs.select(
        "cluster",
        "job_id",
        "attempt",
        "name",
        "user",
        "account",
        "qos",
        "n_gpus",
        "submit_time",
        "eligible_time",
        "start_time",
        "end_time",
        "state",
        runtime_us=_micros(ran_jobs.start_time, ran_jobs.end_time),
    )


def _micros(start: ir.TimestampValue, end: ir.TimestampValue) -> ir.IntegerValue:
    return end.delta(start, unit="microsecond")


def _queue_us(a: ir.Table, prev_end: ir.TimestampValue) -> ir.IntegerValue:
    """Eligible queue time of each attempt (see the module docstring)."""
    submit = a.submit_time.fill_null(a.start_time)
    since = ibis.greatest(submit, a.eligible_time.fill_null(submit), prev_end.fill_null(submit))
    return ibis.greatest(_micros(since, a.start_time), 0)


def _unproductive_us(
    a: ir.Table, interrupted: ir.BooleanValue, restarting: ir.BooleanValue, c: Checkpointing
) -> ir.IntegerValue:
    """U of each attempt: restart overhead, blocking writes, and the lost tail if interrupted."""
    ckpt, u0, write = c.micros()
    restart = ibis.cases((restarting, ibis.least(a.runtime_us, u0)), else_=0)
    worked = a.runtime_us - restart
    checkpoints = worked // (ckpt + write)
    lost = ibis.cases((interrupted, worked - checkpoints * (ckpt + write)), else_=0)
    return restart + checkpoints * write + lost


def attempts_in_runs(
    jobs: ir.Table, failures: ir.Table, gap_s: int = 3600, ckpt: Checkpointing | None = None
) -> ir.Table:
    """Attempts that ran with their run, queue time, interruption flags and U of both variants."""
    c = ckpt or Checkpointing()
    a = _attempts(jobs)
    ids = run_ids(a, gap_s)
    a = a.join(ids, ["cluster", "job_id"])
    f = failures.select("cluster", "job_id", "attempt", infra=is_infra_failure(failures))
    a = a.left_join(f, ["cluster", "job_id", "attempt"]).drop(
        "cluster_right", "job_id_right", "attempt_right"
    )
    w = ibis.window(group_by=[a.cluster, a.run_id], order_by=[a.start_time, a.job_id, a.attempt])
    last = a.start_time.lead().over(w).isnull()
    interrupting = a.state.isin(INTERRUPTION_STATES) & ~last
    a = a.mutate(
        queue_us=_queue_us(a, a.end_time.lag().over(w)),
        interruption=interrupting,
        infra_interruption=interrupting & a.infra.fill_null(False),
        scheduler_interruption=interrupting & a.state.isin(SCHEDULER_STATES),
        run_qos=a.qos.first().over(w),
    )
    flags = {
        "": a.interruption,
        "_infra": a.infra_interruption,
        "_scheduler": a.scheduler_interruption,
    }
    return a.mutate(
        **{
            f"unproductive{v}_us": _unproductive_us(a, flag, flag.lag().over(w).fill_null(False), c)
            for v, flag in flags.items()
        }
    )


def _job_keys(a: ir.Table) -> ir.ArrayValue:
    """``job_id#attempt`` of a run's attempts in start order.

    Sorted structs rather than an ordered ``collect``, which Spark cannot do.
    """
    key = a.job_id.concat("#", a.attempt.cast("string"))
    entry = ibis.struct(
        {"start": a.start_time, "job_id": a.job_id, "attempt": a.attempt, "key": key}
    )
    return entry.collect().sort().map(lambda e: e.key)


def runs(
    jobs: ir.Table, failures: ir.Table, gap_s: int = 3600, ckpt: Checkpointing | None = None
) -> ir.Table:
    """One row per job run with its attempts, W, Q, U, R and ETTR (both variants)."""
    a = attempts_in_runs(jobs, failures, gap_s, ckpt)
    r = a.group_by(*RUN_KEY).aggregate(
        attempts=a.count(),
        jobs=a.job_id.nunique(),
        job_keys=_job_keys(a),
        n_gpus=a.n_gpus.max(),
        qos=a.run_qos.max(),
        first_submit=a.submit_time.fill_null(a.start_time).min(),
        last_end=a.end_time.max(),
        interruptions=a.interruption.cast("int64").sum(),
        infra_interruptions=a.infra_interruption.cast("int64").sum(),
        scheduler_interruptions=a.scheduler_interruption.cast("int64").sum(),
        queue_us=a.queue_us.sum(),
        running_us=a.runtime_us.sum(),
        **{f"unproductive{v}_us": a[f"unproductive{v}_us"].sum() for v in _VARIANTS},
    )
    r = r.mutate(wallclock_us=r.queue_us + r.running_us)
    productive = {v: r.running_us - r[f"unproductive{v}_us"] for v in _VARIANTS}
    seconds = ("queue", "running", "wallclock", *(f"unproductive{v}" for v in _VARIANTS))
    return r.mutate(
        **{f"{name}_s": r[f"{name}_us"] / US for name in seconds},
        **{f"productive{v}_s": p / US for v, p in productive.items()},
        **{f"ettr{v}": p / r.wallclock_us for v, p in productive.items()},
    ).drop(*(f"{name}_us" for name in seconds))


def selected(run_table: ir.Table, rules: RunRules) -> ir.Table:
    """Runs with at least ``rules.min_hours`` of running time (and of ``rules.qos``, if set)."""
    keep = run_table.running_s >= rules.min_hours * HOUR_S
    if rules.qos is not None:
        keep &= run_table.qos == rules.qos
    return run_table.filter(keep)


def ettr_by_bucket(run_table: ir.Table, rules: RunRules | None = None) -> pa.Table:
    """Measured ETTR per size bucket of the selected runs: mean, quartiles, GPU-time weighted."""
    r = selected(run_table, rules or RunRules())
    r = r.filter(r.n_gpus > 0).mutate(bucket=size_bucket(r.n_gpus), gpus=r.n_gpus)
    stats: dict[str, ir.Value] = {}
    for v in _VARIANTS:
        e = r[f"ettr{v}"]
        stats |= {
            f"ettr{v}_mean": exact_sum(e) / e.count(),
            f"ettr{v}_q25": e.quantile(0.25),
            f"ettr{v}_median": e.quantile(0.5),
            f"ettr{v}_q75": e.quantile(0.75),
            f"ettr{v}_gpu_weighted": exact_sum(r[f"productive{v}_s"] * r.gpus)
            / exact_sum(r.wallclock_s * r.gpus).nullif(0),
        }
    t = r.group_by("bucket").aggregate(
        runs=r.count(),
        gpu_hours=exact_sum(r.running_s * r.gpus) / HOUR_S,
        interruptions=r.interruptions.sum(),
        infra_interruptions=r.infra_interruptions.sum(),
        scheduler_interruptions=r.scheduler_interruptions.sum(),
        **stats,
    )
    return t.order_by("bucket").to_pyarrow()
