"""Reliability metrics, computed in the engine; only small aggregates come back (PAPER.md §4).

Inputs are Ibis tables with the canonical schemas (``jobs`` with its ``attempt`` column), and the
derived ``failures`` table of ``attribution.attribute``. Conventions:

- Every ``jobs`` row is one job attempt and counts once "by job count".
- Runtime is ``end_time - start_time``, 0 when the attempt did not run (no start, no end, or
  an end not after the start). GPU-hours = ``n_gpus`` x runtime; job node-days = ``n_nodes`` x
  runtime in days (null ``n_gpus`` / ``n_nodes`` count as 0).
- Size buckets are powers of two of ``n_gpus``: a job is in the smallest bucket ``2**k >=
  n_gpus`` (8 GPUs in bucket 8, 9 in bucket 16); jobs without GPUs are in bucket 0, "cpu".
- Rates are per 1000 node-days with an exact Poisson (Garwood) interval; a rate with no
  exposure is null.
- What counts as a failure differs by metric, on purpose (PAPER.md §4):
  * ``node_failure_rate`` (r_f, the paper's procedure): attempts of jobs above the GPU
    threshold that ended NODE_FAIL, or FAILED with a high-severity attributed cause;
  * ``mttf_by_size``: *infrastructure failures*: attempts whose attributed cause is in the
    hardware or system-software domain, plus NODE_FAILs without a cause in a known domain
    (unattributed, or attributed only to a domain-"unknown" record such as a lost
    heartbeat); a NODE_FAIL attributed to a user-domain record is not counted;
  * ``job_failure_rates``: every interrupted attempt, broken down by its category
    (including "none" and "unattributed");
  * episodes: failing node events, independent of jobs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from gpurel.analysis.attribution import ran, runtime_s, seconds_between
from gpurel.analysis.stacking import Query, sorted_by
from gpurel.errors import ConfigError, GpurelError
from gpurel.models.failure_model import mttf_interval, poisson_interval
from gpurel.schema import TIME, Domain, JobState, Result, Severity

DAY_S = 86_400
HOUR_S = 3_600
WEEK = timedelta(weeks=1)
EPOCH_MONDAY = datetime(1970, 1, 5, tzinfo=UTC)  # ISO weeks start on Monday
_WEEK_US = int(WEEK.total_seconds()) * 1_000_000
_MAX_BUCKET_EXP = 30
INFRA_DOMAINS = (Domain.HARDWARE.value, Domain.SYSTEM_SOFTWARE.value)
EXACT = dt.Decimal(38, 9)  # sums of hours and days: exact and deterministic on every engine
RATE_COLUMNS = ("per_1000_node_days", "lo_per_1000_node_days", "hi_per_1000_node_days")


# --- per-attempt expressions ------------------------------------------------------------------


def exact_sum(values: ir.NumericColumn) -> ir.FloatingScalar:
    """Sum through a wide decimal: exact, so the result never depends on thread order."""
    return values.cast(EXACT).sum().cast("float64")


def gpu_hours(jobs: ir.Table) -> ir.FloatingValue:
    """GPU-hours of each attempt: n_gpus x runtime."""
    return runtime_s(jobs) * jobs.n_gpus.fill_null(0) / HOUR_S


def job_node_days(jobs: ir.Table) -> ir.FloatingValue:
    """Node-days of each attempt: n_nodes x runtime in days."""
    return runtime_s(jobs) * jobs.n_nodes.fill_null(0) / DAY_S


def size_bucket(n_gpus: ir.IntegerValue) -> ir.IntegerValue:
    """Smallest power of two >= ``n_gpus``; 0 for jobs without GPUs (0 or null)."""
    n = n_gpus.fill_null(0)
    powers = (2**e for e in range(_MAX_BUCKET_EXP + 1))
    return ibis.cases((n <= 0, 0), *((n <= p, p) for p in powers))


def _bucket_label(bucket: ir.IntegerValue) -> ir.StringValue:
    return ibis.cases((bucket == 0, "cpu"), else_=bucket.cast("string"))


def is_infra_failure(failures: ir.Table) -> ir.BooleanValue:
    """Infrastructure failure as counted by ``mttf_by_size`` (see the module docstring)."""
    node_fail = failures.state == JobState.NODE_FAIL.value
    unknown = failures.domain == Domain.UNKNOWN.value
    return failures.domain.isin(INFRA_DOMAINS) | (node_fail & unknown)


def is_rf_failure(failures: ir.Table) -> ir.BooleanValue:
    """Failure as counted by the paper's r_f: NODE_FAIL, or FAILED with a high-severity cause."""
    high = (failures.severity == Severity.HIGH.value).fill_null(False)
    return (failures.state == JobState.NODE_FAIL.value) | (
        (failures.state == JobState.FAILED.value) & high
    )


# --- small-table helpers ----------------------------------------------------------------------


def _with_shares(t: ir.Table, columns: Sequence[str]) -> ir.Table:
    return t.mutate(**{f"{c}_share": t[c] / exact_sum(t[c]).over().nullif(0) for c in columns})


def union_all(*tables: ir.Table) -> ir.Table:
    """UNION ALL of tables with the same columns that may differ in nullability."""
    return ibis.union(
        *(t.cast({c: t[c].type().copy(nullable=True) for c in t.columns}) for t in tables)
    )


def one_row(*aggregates: ir.Table) -> dict[str, Any]:
    """The values of one-row aggregates side by side, computed by one engine query."""
    joined = aggregates[0]
    for other in aggregates[1:]:
        joined = joined.cross_join(other)
    row: dict[str, Any] = joined.to_pyarrow().to_pylist()[0]
    return row


def _none_if_inf(x: float) -> float | None:
    return None if math.isinf(x) else x


def _with_rates(
    t: pa.Table, count: str, exposure: str = "node_days", conf: float = 0.95
) -> pa.Table:
    """Append the rate per 1000 units of ``exposure`` and its exact Poisson interval."""
    pairs = zip(t[count].to_pylist(), t[exposure].to_pylist(), strict=True)
    rates = [poisson_interval(int(k), float(x or 0), conf) for k, x in pairs]
    return _append_columns(t, RATE_COLUMNS, [[v * 1000 for v in r] for r in rates])


def _append_columns(
    t: pa.Table, names: Sequence[str], rows: Sequence[Sequence[float | None]]
) -> pa.Table:
    """Append float columns ``names`` from per-row value tuples (NaN becomes null)."""
    for i, name in enumerate(names):
        values = pa.array([r[i] for r in rows], pa.float64(), from_pandas=True)
        t = t.append_column(name, values)
    return t


# --- job mix ----------------------------------------------------------------------------------


def _mix(jobs: ir.Table, key: str, value: ir.Value) -> ir.Table:
    t = jobs.mutate(**{key: value}, gpu_hours=gpu_hours(jobs))
    agg = t.group_by(key).aggregate(jobs=t.count(), gpu_hours=exact_sum(t.gpu_hours))
    return _with_shares(agg, ("jobs", "gpu_hours"))


def job_states(jobs: ir.Table) -> Query[pa.Table]:
    """Attempts and GPU-hours per final state, with shares (most frequent first)."""
    return Query(
        _mix(jobs, "state", jobs.state), lambda t: sorted_by(t, [("jobs", "descending"), "state"])
    )


def size_distribution(jobs: ir.Table) -> Query[pa.Table]:
    """Attempts and GPU-hours per power-of-two size bucket, with shares."""
    t = _mix(jobs, "bucket", size_bucket(jobs.n_gpus))
    return Query(t.mutate(label=_bucket_label(t.bucket)), lambda t: sorted_by(t, ["bucket"]))


# --- node-days --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """The analysis period, ``[start, end]`` in UTC (events at the very end count)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ConfigError("analysis period: times must be time-zone aware (UTC)")
        if self.end < self.start:
            raise ConfigError(f"analysis period: end {self.end} before start {self.start}")


@dataclass(frozen=True)
class NodeDays:
    """The node-days denominator of failure rates.

    ``period`` is the span in which node-days accrue: from the earliest to the latest moment a
    node is in service (inventory spans clipped to the records' span; observed nodes count over
    the whole span). Jobs or events outside it (e.g. jobs started before the inventory's first
    day) are in ``records``. ``method`` says where node-days come from: "inventory" (in-service
    spans of ``nodes``, clipped to the period), "observed" (distinct nodes seen in jobs and
    events x the period length, used for clusters without inventory rows) or "mixed" (clusters
    differ; see ``by_cluster``).
    """

    period: Period  # where node-days accrue: every rate's period, the one people are shown
    method: str
    node_days: float
    by_cluster: pa.Table  # cluster, method, nodes, node_days
    by_week: pa.Table  # week_start, iso_week, node_days (weeks clipped to the period)
    records: Period | None = None  # the span of every record, when wider than ``period``


def analysis_period(jobs: ir.Table, events: ir.Table, nodes: ir.Table | None = None) -> Period:
    """From the earliest to the latest job start/end, event time or inventory in-service bound."""
    parts = [
        jobs.select(t=jobs.start_time),
        jobs.select(t=jobs.end_time),
        events.select(t=events.time),
    ]
    if nodes is not None:
        parts += [nodes.select(t=nodes.in_service_start), nodes.select(t=nodes.in_service_end)]
    times = union_all(*parts)
    row = times.aggregate(start=times.t.min(), end=times.t.max()).to_pyarrow().to_pylist()[0]
    if row["start"] is None:
        raise GpurelError("no job or event times to define the analysis period; give one")
    return Period(row["start"], row["end"])


def node_spans(
    jobs: ir.Table, events: ir.Table, nodes: ir.Table, period: Period, *, own_spans: bool = True
) -> ir.Table:
    """(cluster, node, method, start, end) of node-days: the inventory's in-service spans, and
    for clusters without inventory every node seen in jobs or events over its cluster's own
    span of records (clusters observed in different years each count their own), or over the
    whole period when not ``own_spans``."""
    start, end = ibis.literal(period.start), ibis.literal(period.end)
    inventory = nodes.select(
        "cluster",
        "node",
        method=ibis.literal("inventory"),
        start=nodes.in_service_start.fill_null(start),
        end=nodes.in_service_end.fill_null(end),
    )
    seen = union_all(
        jobs.select("cluster", node=jobs.nodes).unnest("node"),
        events.select("cluster", "node"),
    ).distinct()
    times = union_all(
        jobs.select("cluster", t=jobs.start_time),
        jobs.select("cluster", t=jobs.end_time),
        events.select("cluster", t=events.time),
    )
    spans = times.group_by("cluster").aggregate(first=times.t.min(), last=times.t.max())
    unlisted = seen.anti_join(nodes.select("cluster").distinct(), "cluster")
    if not own_spans:
        spans = spans.mutate(first=start, last=end)
    observed = unlisted.join(spans, "cluster").select(
        "cluster",
        "node",
        method=ibis.literal("observed"),
        start=spans.first.fill_null(start),
        end=spans.last.fill_null(end),
    )
    return union_all(inventory, observed)


def _weeks(period: Period) -> pa.Table:
    """The ISO weeks that overlap the period, each clipped to it."""
    monday = EPOCH_MONDAY + WEEK * ((period.start - EPOCH_MONDAY) // WEEK)
    rows: dict[str, list[Any]] = {"week_start": [], "iso_week": [], "w_start": [], "w_end": []}
    while monday < period.end:
        iso = monday.isocalendar()
        rows["week_start"].append(monday)
        rows["iso_week"].append(f"{iso.year}-W{iso.week:02d}")
        rows["w_start"].append(max(monday, period.start))
        rows["w_end"].append(min(monday + WEEK, period.end))
        monday += WEEK
    schema = pa.schema(
        [("week_start", TIME), ("iso_week", pa.string()), ("w_start", TIME), ("w_end", TIME)]
    )
    return pa.table(rows, schema=schema)


def node_days(
    jobs: ir.Table,
    events: ir.Table,
    nodes: ir.Table,
    period: Period | None = None,
    *,
    records: Period | None = None,
) -> NodeDays:
    """Node-days in the period, per cluster and per ISO week. Without a period, the data's
    (``analysis_period``, or ``records`` where the caller has it) and each observed cluster
    over its own records; a period given is the observation window of every observed
    cluster."""
    records = period or records or analysis_period(jobs, events, nodes)
    spans = node_spans(jobs, events, nodes, records, own_spans=period is None)
    period = _in_service(spans, records)
    weeks = ibis.memtable(_weeks(period))
    j = spans.join(weeks, [spans.start < weeks.w_end, spans.end > weeks.w_start])
    overlap = seconds_between(ibis.greatest(j.start, j.w_start), ibis.least(j.end, j.w_end))
    j = j.mutate(node_days=overlap / DAY_S)
    by_cluster, by_week = _per_cluster_and_week(j)
    methods = set(by_cluster["method"].to_pylist())
    method = methods.pop() if len(methods) == 1 else ("mixed" if methods else "observed")
    total = float(sum(by_cluster["node_days"].to_pylist()))
    wider = records if records != period else None
    return NodeDays(period, method, total, by_cluster, by_week, wider)


def _per_cluster_and_week(j: ir.Table) -> tuple[pa.Table, pa.Table]:
    """Node-days (and nodes) per (cluster, method) and node-days per week of the node spans
    cut by week ``j``, in one engine query: the two groupings stacked in one union."""
    per_cluster = j.group_by("cluster", "method").aggregate(
        nodes=j.node.nunique(), node_days=exact_sum(j.node_days)
    )
    per_week = j.group_by("week_start", "iso_week").aggregate(node_days=exact_sum(j.node_days))
    columns = ("cluster", "method", "nodes", "week_start", "iso_week", "node_days")
    types = {c: t for part in (per_cluster, per_week) for c, t in part.schema().items()}

    def stacked(part: ir.Table, weekly: bool) -> ir.Table:
        values = {c: part[c] if c in part.columns else ibis.null(types[c]) for c in columns}
        return part.select(**values, weekly=ibis.literal(weekly))

    both = union_all(stacked(per_cluster, False), stacked(per_week, True)).to_pyarrow()
    weekly = pc.field("weekly")
    cluster = both.filter(~weekly).sort_by("cluster")
    week = both.filter(weekly).sort_by("week_start")
    return cluster.select([*columns[:3], "node_days"]), week.select(list(columns[3:]))


def _in_service(spans: ir.Table, records: Period) -> Period:
    """The part of ``records`` in which some node of ``spans`` is in service (all of it when
    no node is known)."""
    start = ibis.greatest(spans.start, ibis.literal(records.start))
    end = ibis.least(spans.end, ibis.literal(records.end))
    clipped = spans.select(s=start, e=end)
    clipped = clipped.filter(clipped.e > clipped.s)
    row = clipped.aggregate(s=clipped.s.min(), e=clipped.e.max()).to_pyarrow().to_pylist()[0]
    return records if row["s"] is None else Period(row["s"], row["e"])


# --- failure episodes -------------------------------------------------------------------------

EPISODE_KEY = ("cluster", "node", "category", "domain")


def _by_record(t: ir.Table, **frame: Any) -> ir.Value:
    """A window over the failing records of one (cluster, node, category, domain)."""
    return ibis.window(group_by=[t[k] for k in EPISODE_KEY], **frame)


def episodes(events: ir.Table, merge_gap_s: int = 3600) -> ir.Table:
    """Failure episodes: failing records of one (cluster, node, category) merged across gaps.

    A record spans ``[time, end_time]`` (just ``time`` without ``end_time``). Records are taken
    in time order; one starting more than ``merge_gap_s`` after the latest end so far starts a
    new episode, so a node failing the 5-minute check for hours is one episode, and so is one
    fault seen by overlapping checks of one category (GCM's check and Slurm's drain reason;
    PAPER.md §2: overlapping checks catch the same fault 37-57% of the time). Records of one
    check that map to different categories (e.g. XID codes) are kept apart. Columns: the key,
    ``check`` (the first record's), ``checks`` (distinct checks), ``start``, ``end``,
    ``records``.
    """
    f = events.filter(events.result == Result.FAIL.value)
    f = f.select(
        *EPISODE_KEY,
        "check",
        "time",
        span_end=ibis.greatest(f.time, f.end_time.fill_null(f.time)),
    )
    f = f.mutate(seq=ibis.row_number().over(_by_record(f, order_by=[f.time, f.span_end])))
    latest = f.span_end.max().over(_by_record(f, order_by=f.seq, rows=(None, -1)))
    gap = ibis.interval(seconds=merge_gap_s)
    f = f.mutate(new=ibis.cases((latest.isnull() | (f.time > latest + gap), 1), else_=0))
    f = f.mutate(episode=f.new.sum().over(_by_record(f, order_by=f.seq, rows=(None, 0))))
    f = f.mutate(first_check=ibis.cases((f.new == 1, f.check), else_=ibis.null("string")))
    return f.group_by(*EPISODE_KEY, "episode").aggregate(
        check=f.first_check.max(),
        checks=f.check.nunique(),
        start=f.time.min(),
        end=f.span_end.max(),
        records=f.count(),
    )


def _in_period(eps: ir.Table, period: Period) -> ir.Table:
    return eps.filter(eps.start >= period.start, eps.start <= period.end)


def episode_counts(eps: ir.Table, period: Period) -> pa.Table:
    """Episodes starting in the period per ``week`` (ISO weeks since ``EPOCH_MONDAY``),
    cluster, category and domain: one engine query, which every episode rate sums up."""
    e = _in_period(eps, period)
    week = e.start.delta(ibis.literal(EPOCH_MONDAY), unit="microsecond") // _WEEK_US
    e = e.mutate(week=week)
    by = ["week", "cluster", "category", "domain"]
    return e.aggregate(episodes=e.count(), by=by).to_pyarrow()


def _summed(eps: ir.Table | pa.Table, period: Period, by: Sequence[str]) -> pa.Table:
    """Episodes per group ``by`` (no group: one row), from the episodes or their counts."""
    counts = eps if isinstance(eps, pa.Table) else episode_counts(eps, period)
    summed = counts.group_by(list(by)).aggregate([("episodes", "sum")])
    total = pc.fill_null(summed["episodes_sum"], 0).cast(pa.int64())
    return summed.select(list(by)).append_column("episodes", total)


def episode_rates(
    eps: ir.Table | pa.Table,
    exposure: NodeDays,
    by: Sequence[str] = ("category", "domain"),
    conf: float = 0.95,
) -> pa.Table:
    """Episodes starting in the period per group, per 1000 node-days (``by=()``: one total row).

    ``eps``: the episodes, or their ``episode_counts`` in the period."""
    counts = _summed(eps, exposure.period, by)
    counts = counts.append_column("node_days", pa.array([exposure.node_days] * len(counts)))
    t = _with_rates(counts, "episodes", conf=conf)
    return t.sort_by([("episodes", "descending"), *((k, "ascending") for k in by)])


def episode_summary(eps: ir.Table | pa.Table, exposure: NodeDays, conf: float = 0.95) -> pa.Table:
    """Overall and hardware-only episode rates (``scope`` "all" / "hardware"); ``eps``: the
    episodes, or their ``episode_counts`` in the period."""
    by_domain = _summed(eps, exposure.period, ("domain",)).to_pylist()
    counts = pa.table(
        {
            "scope": ["all", "hardware"],
            "episodes": [
                sum(r["episodes"] for r in by_domain),
                sum(r["episodes"] for r in by_domain if r["domain"] == Domain.HARDWARE.value),
            ],
            "node_days": [exposure.node_days] * 2,
        }
    )
    return _with_rates(counts, "episodes", conf=conf)


def weekly_episode_rates(
    eps: ir.Table | pa.Table, exposure: NodeDays, by: Sequence[str] = (), conf: float = 0.95
) -> pa.Table:
    """Episodes per ISO week (and group), with that week's node-days; empty weeks count 0.

    ``eps``: the episodes, or their ``episode_counts`` in the period."""
    counts = _summed(eps, exposure.period, ["week", *by]).to_pylist()
    found = {(EPOCH_MONDAY + WEEK * r["week"], *(r[k] for k in by)): r["episodes"] for r in counts}
    groups = sorted({k[1:] for k in found}) if by else [()]
    rows = [
        {"week_start": w["week_start"], "iso_week": w["iso_week"]}
        | dict(zip(by, g, strict=True))
        | {"episodes": found.get((w["week_start"], *g), 0), "node_days": w["node_days"]}
        for w in exposure.by_week.to_pylist()
        for g in groups
    ]
    schema = pa.schema(
        [("week_start", TIME), ("iso_week", pa.string())]
        + [(k, pa.string()) for k in by]
        + [("episodes", pa.int64()), ("node_days", pa.float64())]
    )
    return _with_rates(pa.Table.from_pylist(rows, schema=schema), "episodes", conf=conf)


def top_nodes(eps: ir.Table, n: int = 10) -> Query[pa.Table]:
    """The ``n`` nodes with the most episodes, one row per (node, category) with its count."""
    per_node = eps.group_by("cluster", "node").aggregate(total=eps.count())
    ranked = per_node.mutate(
        rank=ibis.row_number().over(
            order_by=[ibis.desc(per_node.total), per_node.cluster, per_node.node]
        )
        + 1
    )
    top = ranked.filter(ranked["rank"] <= n)
    per_cat = eps.group_by("cluster", "node", "category").aggregate(episodes=eps.count())
    j = top.join(per_cat, ["cluster", "node"])
    return Query(j, lambda t: sorted_by(t, ["rank", ("episodes", "descending"), "category"]))


# --- job failures -----------------------------------------------------------------------------


def job_failure_rates(jobs: ir.Table, failures: ir.Table, conf: float = 0.95) -> Query[pa.Table]:
    """Interrupted attempts per cause category, per 1000 job node-days and per GPU-hour.

    Exposure is the runtime of every attempt in ``jobs``: job node-days (runtime-days x
    n_nodes) and GPU-hours. ``failed_gpu_hours`` is the GPU time of the interrupted attempts.
    """
    exposure = jobs.aggregate(
        job_node_days=exact_sum(job_node_days(jobs)), job_gpu_hours=exact_sum(gpu_hours(jobs))
    )
    f = failures.mutate(failed_gpu_hours=gpu_hours(failures))
    counts = f.group_by("category", "domain").aggregate(
        failures=f.count(), failed_gpu_hours=exact_sum(f.failed_gpu_hours)
    )
    t = _with_shares(counts, ("failures", "failed_gpu_hours")).cross_join(exposure)
    t = t.mutate(per_gpu_hour=t.failures / t.job_gpu_hours.nullif(0))

    def finish(rows: pa.Table) -> pa.Table:
        ordered = sorted_by(rows, [("failures", "descending"), "category"])
        return _with_rates(ordered, "failures", "job_node_days", conf)

    return Query(t, finish)


# --- r_f and MTTF -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeFailureRate:
    """r_f by the paper's procedure, with an exact Poisson interval (per 1000 node-days)."""

    min_gpus: int
    failures: int
    node_days: float
    per_node_day: float
    per_1000_node_days: float
    lo_per_1000_node_days: float
    hi_per_1000_node_days: float


def node_failure_rate(
    jobs: ir.Table, failures: ir.Table, min_gpus: int = 128, conf: float = 0.95
) -> NodeFailureRate:
    """r_f from attempts of jobs with more than ``min_gpus`` GPUs.

    Failures: those attempts that ran and ended NODE_FAIL, or FAILED with a high-severity
    attributed cause. Exposure: runtime-days x n_nodes over all those attempts that ran,
    whatever their state.
    """
    big = jobs.filter(jobs.n_gpus > min_gpus, ran(jobs))
    exposure = big.aggregate(node_days=exact_sum(job_node_days(big)))
    f = failures.filter(failures.n_gpus > min_gpus, is_rf_failure(failures))
    row = exposure.cross_join(f.aggregate(failures=f.count())).to_pyarrow().to_pylist()[0]
    k, x = int(row["failures"]), float(row["node_days"] or 0.0)
    rate, lo, hi = poisson_interval(k, x, conf)
    return NodeFailureRate(min_gpus, k, x, rate, rate * 1000, lo * 1000, hi * 1000)


def mttf_by_size(jobs: ir.Table, failures: ir.Table, conf: float = 0.95) -> Query[pa.Table]:
    """Measured MTTF per size bucket: job runtime in the bucket / infrastructure failures.

    Runtime is wall-clock (not GPU-weighted) over the attempts that ran; failures are
    ``is_infra_failure``. The interval comes from the exact Poisson interval of the failure
    count; with no failure the MTTF and its upper bound are null (unbounded).
    """
    ran_jobs = jobs.filter(ran(jobs))
    runtime = ran_jobs.group_by(bucket=size_bucket(ran_jobs.n_gpus)).aggregate(
        jobs=ran_jobs.count(), runtime_hours=exact_sum(runtime_s(ran_jobs)) / HOUR_S
    )
    f = failures.filter(is_infra_failure(failures))
    counts = f.group_by(f_bucket=size_bucket(f.n_gpus)).aggregate(failures=f.count())
    j = runtime.left_join(counts, runtime.bucket == counts.f_bucket)
    j = j.select(
        "bucket",
        label=_bucket_label(j.bucket),
        jobs=j.jobs,
        runtime_hours=j.runtime_hours,
        failures=j.failures.fill_null(0),
    )

    def finish(rows: pa.Table) -> pa.Table:
        t = sorted_by(rows, ["bucket"])
        pairs = zip(t["failures"].to_pylist(), t["runtime_hours"].to_pylist(), strict=True)
        mttfs = [[_none_if_inf(v) for v in mttf_interval(k, h, conf)] for k, h in pairs]
        return _append_columns(t, ("mttf_hours", "mttf_lo_hours", "mttf_hi_hours"), mttfs)

    return Query(j, finish)


def infra_failure_share(jobs: ir.Table, failures: ir.Table) -> Query[dict[str, Any]]:
    """Attempts and GPU-hours ended by infrastructure failures, and their shares of all.

    Infrastructure failures as ``metrics.is_infra_failure`` (the MTTF count). Keys:
    ``attempts``, ``gpu_hours``, ``infra_attempts``, ``infra_gpu_hours``, ``attempt_share``,
    ``gpu_hours_share`` (shares null without attempts or GPU time).
    """
    total = jobs.aggregate(attempts=jobs.count(), gpu_hours=exact_sum(gpu_hours(jobs)))
    infra = failures.filter(is_infra_failure(failures))
    hit = infra.aggregate(infra_attempts=infra.count(), infra_gpu_hours=exact_sum(gpu_hours(infra)))
    return Query(total.cross_join(hit), _shares)


def _shares(rows: pa.Table) -> dict[str, Any]:
    row = rows.to_pylist()[0]
    attempts, hours = int(row["attempts"]), float(row["gpu_hours"] or 0.0)
    infra_attempts, infra_hours = int(row["infra_attempts"]), float(row["infra_gpu_hours"] or 0.0)
    return {
        "attempts": attempts,
        "gpu_hours": hours,
        "infra_attempts": infra_attempts,
        "infra_gpu_hours": infra_hours,
        "attempt_share": infra_attempts / attempts if attempts else None,
        "gpu_hours_share": infra_hours / hours if hours else None,
    }


def largest_failures(jobs: ir.Table, failures: ir.Table, n: int = 20) -> Query[pa.Table]:
    """The ``n`` interrupted attempts with the most GPU time, with who ran them and the cause."""
    key = ("cluster", "job_id", "attempt")
    who = jobs.select(*key, "name", "user", "account", "partition")
    f = failures.mutate(gpu_hours=gpu_hours(failures), runtime_hours=failures.runtime_s / HOUR_S)
    top = f.order_by(ibis.desc("gpu_hours"), *key).limit(n)
    j = top.left_join(who, list(key))
    columns = ("name", "user", "account", "partition", "n_gpus", "end_time", "runtime_hours")
    selected = j.select(*key, *columns, "gpu_hours", "state", "category", "domain", "check", "node")
    return Query(selected, lambda t: sorted_by(t, [("gpu_hours", "descending"), *key]))
