"""Which figures gpurel exports, measured from one analysis of the warehouse.

``measure`` runs the analysis (``analysis.summary.analyze``, with the command's settings) and
turns its results into samples named by ``catalog``: r_f per cluster over rolling windows,
attributed job failures and failure episodes per category, lemon scores and flags per node,
lost goodput, measured run ETTR per size bucket, the collector's resume points and the
rejected rows. A figure without input becomes a ``Missing`` entry with the reason, never a 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import ibis.expr.types as ir

from gpurel.absent import Absent
from gpurel.analysis import metrics
from gpurel.analysis.goodput import LostGoodput
from gpurel.analysis.summary import NO_JOBS, Analysis, Settings, analyze
from gpurel.collect import state
from gpurel.exporter.rolling import cause_counts, rolling_rf
from gpurel.warehouse import Warehouse

NO_DATA = "no job accounting or node events ingested"
NOT_COLLECTED = "no live collection (gpurel collect slurm) has committed a window of this cluster"
ORDERS = (("first", "first_order_gpu_hours"), ("second", "second_order_gpu_hours"))


@dataclass(frozen=True)
class Sample:
    """One value of a metric (``catalog`` name) with its labels."""

    metric: str
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Missing:
    """A figure (a metric name) not measured for ``scope`` (``cluster=c1,window=7d``; empty:
    the whole warehouse), and why."""

    figure: str
    scope: str
    reason: str


@dataclass
class Snapshot:
    """The figures of one analysis, when it was made, and the collector's resume points."""

    computed: datetime
    samples: list[Sample] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    collected: dict[str, datetime] = field(default_factory=dict)  # cluster -> resume point

    def add(self, metric: str, value: float, **labels: Any) -> None:
        """Add a sample (label values as text)."""
        self.samples.append(Sample(metric, {k: str(v) for k, v in labels.items()}, float(value)))

    def absent(self, figure: str, reason: str, **scope: str) -> None:
        """Record that ``figure`` is not measured for ``scope``, and why."""
        where = ",".join(f"{k}={v}" for k, v in scope.items())
        self.missing.append(Missing(figure, where, reason))

    def values(self, metric: str) -> dict[tuple[tuple[str, str], ...], float]:
        """The samples of ``metric`` by their sorted label pairs."""
        return {
            tuple(sorted(s.labels.items())): s.value for s in self.samples if s.metric == metric
        }


def measure(warehouse: Warehouse, settings: Settings, now: datetime | None = None) -> Snapshot:
    """Every exported figure of the warehouse under ``settings``."""
    result = analyze(warehouse, settings)
    snapshot = Snapshot(now or datetime.now(UTC))
    jobs, events = warehouse.jobs(), warehouse.table("node_events")
    counts = cause_counts(jobs, events)
    failures = warehouse.derived("failures")
    end = None if result.lemons is None else result.lemons.period.end
    _rolling(snapshot, jobs, failures, counts, end, settings.rf_min_gpus)
    _job_failures(snapshot, jobs, failures, counts)
    _episodes(snapshot, warehouse, result)
    _lemons(snapshot, result)
    _goodput(snapshot, result.lost_goodput)
    _run_ettr(snapshot, result)
    _collector(snapshot, warehouse, counts)
    snapshot.add("gpurel_rejected_rows", result.overview["rejected_rows"])
    if end is not None:
        snapshot.add("gpurel_data_end_timestamp_seconds", end.timestamp())
    snapshot.add("gpurel_figures_computed_timestamp_seconds", snapshot.computed.timestamp())
    return snapshot


def _rolling(
    out: Snapshot,
    jobs: ir.Table,
    failures: ir.Table,
    counts: dict[str, dict[str, Any]],
    end: datetime | None,
    min_gpus: int,
) -> None:
    if end is None:
        out.absent("gpurel_rf_per_node_second", NO_DATA)
        return
    for found in rolling_rf(jobs, failures, counts, end, min_gpus):
        labels = {"cluster": found.cluster, "window": found.window}
        rate = found.rate
        if isinstance(rate, Absent):
            out.absent("gpurel_rf_per_node_second", rate.reason, **labels)
            continue
        per_1000 = 1000 * metrics.DAY_S
        out.add("gpurel_rf_per_node_second", rate.per_node_day / metrics.DAY_S, **labels)
        out.add("gpurel_rf_lower_per_node_second", rate.lo_per_1000_node_days / per_1000, **labels)
        out.add("gpurel_rf_upper_per_node_second", rate.hi_per_1000_node_days / per_1000, **labels)
        out.add("gpurel_rf_failures", rate.failures, **labels)
        out.add("gpurel_rf_exposure_node_seconds", rate.node_days * metrics.DAY_S, **labels)


def _job_failures(
    out: Snapshot, jobs: ir.Table, failures: ir.Table, counts: dict[str, dict[str, Any]]
) -> None:
    if not counts:
        out.absent("gpurel_job_failures", NO_DATA)
    for cluster, overview in counts.items():
        if not overview["job_attempts"]:
            out.absent("gpurel_job_failures", NO_JOBS, cluster=cluster)
            continue
        rows = metrics.job_failure_rates(
            jobs.filter(jobs.cluster == cluster), failures.filter(failures.cluster == cluster)
        ).run()
        _per_category(out, "gpurel_job_failures", "failures", cluster, rows.to_pylist())


def _per_category(
    out: Snapshot, metric: str, column: str, cluster: str, rows: Iterable[dict[str, Any]]
) -> None:
    for row in rows:
        labels = {"category": row["category"], "domain": row["domain"]}
        out.add(metric, row[column], cluster=cluster, **labels)


def _episodes(out: Snapshot, warehouse: Warehouse, result: Analysis) -> None:
    if isinstance(result.episodes_by_category, Absent) or result.node_days is None:
        why = result.episodes_by_category
        out.absent("gpurel_failure_episodes", why.reason if isinstance(why, Absent) else NO_DATA)
        return
    by = ("cluster", "category", "domain")
    rows = metrics.episode_rates(warehouse.derived("episodes"), result.node_days, by=by)
    for row in rows.to_pylist():
        _per_category(out, "gpurel_failure_episodes", "episodes", row["cluster"], [row])


def _lemons(out: Snapshot, result: Analysis) -> None:
    found = result.lemons
    if found is None:
        out.absent("gpurel_lemon_score", NO_DATA)
        return
    if not found.nodes.num_rows:
        out.absent("gpurel_lemon_score", "no node in service in the lemon window")
    unscored: set[str] = set()
    for row in found.nodes.to_pylist():
        if row["score"] is None:
            unscored.add(row["cluster"])
            continue
        labels = {"cluster": row["cluster"], "node": row["node"]}
        out.add("gpurel_lemon_score", row["score"], **labels)
        out.add("gpurel_lemon_flagged", int(row["flagged"]), **labels)
    why = "; ".join(f"{name}: {reason}" for name, reason in found.available.items() if reason)
    for cluster in sorted(unscored):
        reason = "no lemon signal has input for the nodes of this cluster"
        out.absent("gpurel_lemon_score", f"{reason} ({why})" if why else reason, cluster=cluster)


def _goodput(out: Snapshot, lost: LostGoodput | Absent) -> None:
    if isinstance(lost, Absent):
        out.absent("gpurel_lost_goodput_gpu_seconds", lost.reason)
        return
    for order, column in ORDERS:
        out.add(
            "gpurel_lost_goodput_gpu_seconds", lost.totals[column] * metrics.HOUR_S, order=order
        )


def _run_ettr(out: Snapshot, result: Analysis) -> None:
    measured = [r for r in result.run_ettr.to_pylist() if r["ettr_mean"] is not None]
    if not measured:
        rules = result.settings.run_rules
        qos = "" if rules.qos is None else f" of QoS {rules.qos}"
        reason = f"no run on GPUs{qos} with at least {rules.min_hours:g} h of running time"
        out.absent("gpurel_run_ettr_ratio", reason)
    for row in measured:
        bucket = {"size_bucket": row["bucket"]}
        out.add("gpurel_run_ettr_ratio", row["ettr_mean"], **bucket)
        if row["ettr_gpu_weighted"] is not None:
            out.add("gpurel_run_ettr_gpu_weighted_ratio", row["ettr_gpu_weighted"], **bucket)
        out.add("gpurel_run_ettr_runs", row["runs"], **bucket)


def _collector(out: Snapshot, warehouse: Warehouse, counts: dict[str, dict[str, Any]]) -> None:
    for cluster in counts:
        resumed = state.resume_time(warehouse, state.slurm_stream(cluster))
        if resumed is None:
            out.absent("gpurel_collector_last_window_end_timestamp_seconds", NOT_COLLECTED,
                       cluster=cluster)  # fmt: skip
            continue
        out.collected[cluster] = resumed
        out.add("gpurel_collector_last_window_end_timestamp_seconds", resumed.timestamp(),
                cluster=cluster)  # fmt: skip
