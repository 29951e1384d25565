"""r_f per cluster over rolling windows (7 and 28 days) that end at the data's end.

A window ``(end - length, end]`` holds the attempts that ended in it, each counted for its
runtime inside the window (an attempt that started earlier is clipped to the window's start),
and the failures of those attempts. Whether a cluster's failures have known causes (node
events or a NODE_FAIL) is judged over its whole history: a quiet week is a measurement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from gpurel.absent import Absent
from gpurel.analysis import metrics
from gpurel.analysis.lemons import within
from gpurel.analysis.summary import measurable_rf
from gpurel.schema import JobState

WINDOWS: tuple[tuple[str, int], ...] = (("7d", 7 * metrics.DAY_S), ("28d", 28 * metrics.DAY_S))


@dataclass(frozen=True)
class WindowRate:
    """r_f of one cluster over one rolling window, or why it cannot be measured."""

    cluster: str
    window: str
    rate: metrics.NodeFailureRate | Absent


def cause_counts(jobs: ir.Table, events: ir.Table) -> dict[str, dict[str, Any]]:
    """Per cluster: job attempts, node events and NODE_FAIL attempts (``summary.cause_gap``'s
    inputs)."""
    per_jobs = jobs.group_by("cluster").aggregate(
        job_attempts=jobs.count(),
        node_fail_attempts=(jobs.state == JobState.NODE_FAIL.value).cast("int64").sum(),
    )
    per_events = events.group_by("cluster").aggregate(node_events=events.count())
    counts: dict[str, dict[str, Any]] = {}
    for row in per_jobs.to_pyarrow().to_pylist():
        counts[row["cluster"]] = {
            "job_attempts": int(row["job_attempts"]),
            "node_fail_attempts": int(row["node_fail_attempts"] or 0),
            "node_events": 0,
        }
    for row in per_events.to_pyarrow().to_pylist():
        empty = {"job_attempts": 0, "node_fail_attempts": 0}
        counts.setdefault(row["cluster"], empty)["node_events"] = int(row["node_events"])
    return dict(sorted(counts.items()))


def ended_in(jobs: ir.Table, period: metrics.Period) -> ir.Table:
    """Attempts that started and ended in ``(start, end]``, their start clipped to ``start``."""
    ended = jobs.filter(jobs.start_time.notnull(), within(jobs.end_time, period))
    return ended.mutate(start_time=ibis.greatest(ended.start_time, ibis.literal(period.start)))


def rolling_rf(
    jobs: ir.Table,
    failures: ir.Table,
    counts: dict[str, dict[str, Any]],
    end: datetime,
    min_gpus: int,
) -> list[WindowRate]:
    """r_f of each cluster of ``counts`` over each window of ``WINDOWS`` ending at ``end``."""
    rates = []
    for cluster, overview in counts.items():
        mine = jobs.filter(jobs.cluster == cluster)
        theirs = failures.filter(failures.cluster == cluster)
        for name, length in WINDOWS:
            period = metrics.Period(end - timedelta(seconds=length), end)
            rate = metrics.node_failure_rate(
                ended_in(mine, period), theirs.filter(within(theirs.end_time, period)), min_gpus
            )
            rates.append(WindowRate(cluster, name, measurable_rf(rate, overview)))
    return rates
