"""Failures and exposure per node, in the engine: the input of ``models.dispersion``.

Per (cluster, node):

- ``node_days``: the runtime in days of every attempt that ran on the node (the exposure of the
  node to killing a job, the per-node analogue of r_f's job node-days);
- ``failures``: the attempts counted by r_f (``metrics.is_rf_failure``: NODE_FAIL, or FAILED
  with a high-severity cause) charged to one node: the node of the chosen cause, or, for a
  NODE_FAIL without a cause on a node, the attempt's only node. Such NODE_FAILs of multi-node
  attempts cannot be charged to a node; ``NodeFailures.unassigned`` counts them.

``min_gpus`` restricts both to attempts with more GPUs (0: every attempt). Nodes that ran
attempts but never failed are kept with 0 failures: they are half of the evidence.

``node_episodes`` is the same per-node input from the node events alone, for warehouses
without job failures to charge: failure episodes (``metrics.episodes``) starting in the period
per node, with the node's days in service in the period (``metrics.node_spans``) as exposure.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from gpurel.analysis.attribution import JOB_KEY, first_node, ran, seconds_between
from gpurel.analysis.metrics import (
    DAY_S,
    Period,
    exact_sum,
    is_rf_failure,
    node_spans,
    union_all,
)
from gpurel.analysis.stacking import Query, sorted_by


@dataclass(frozen=True)
class NodeFailures:
    """Per-node failures and node-days, and the failures no single node can be charged with."""

    per_node: pa.Table  # cluster, node, failures, node_days
    unassigned: int


def with_charged_node(failures: ir.Table, jobs: ir.Table) -> ir.Table:
    """``failures`` of the attempts in ``jobs`` with ``width`` (the attempt's node count) and
    ``charged``: the node of the cause, else the attempt's only node (null if it had several)."""
    only = jobs.select(*JOB_KEY, only=first_node(jobs.nodes), width=jobs.nodes.length())
    f = failures.join(only, list(JOB_KEY))
    single = ibis.cases((f.width == 1, f.only), else_=ibis.null("string"))
    return f.mutate(charged=f.node.fill_null(single))


def node_failures(jobs: ir.Table, failures: ir.Table, min_gpus: int = 0) -> Query[NodeFailures]:
    """Failures and node-days of every node that ran an attempt (see the module docstring)."""
    ran_jobs = jobs.filter(ran(jobs), jobs.n_gpus.fill_null(0) >= min_gpus)
    runtime_us = ran_jobs.end_time.delta(ran_jobs.start_time, unit="microsecond")
    on_node = ran_jobs.select("cluster", node=ran_jobs.nodes, us=runtime_us).unnest("node")
    exposure = on_node.group_by("cluster", "node").aggregate(
        node_days=on_node.us.sum() / (DAY_S * 1_000_000)  # integer sum: exact in any order
    )
    f = with_charged_node(failures.filter(is_rf_failure(failures)), ran_jobs)
    per_node = f.group_by("cluster", node="charged").aggregate(failures=f.count())
    j = exposure.left_join(per_node.filter(per_node.node.notnull()), ["cluster", "node"])
    charged = j.select("cluster", "node", failures=j.failures.fill_null(0), node_days=j.node_days)
    unassigned = per_node.filter(per_node.node.isnull()).mutate(node_days=ibis.null("float64"))
    return Query(union_all(charged, unassigned), _charged_and_unassigned)


def _charged_and_unassigned(rows: pa.Table) -> NodeFailures:
    none = pc.is_null(rows["node"])
    table = sorted_by(rows.filter(pc.invert(none)), ["cluster", "node"])
    return NodeFailures(table, int(pc.sum(rows.filter(none)["failures"]).as_py() or 0))


def node_episodes(
    eps: ir.Table, jobs: ir.Table, events: ir.Table, nodes: ir.Table, period: Period
) -> Query[pa.Table]:
    """Failure episodes and node-days in service of every node in ``period`` (cluster, node,
    failures, node_days): the per-node input of the dispersion test from node events."""
    spans = node_spans(jobs, events, nodes, period)
    start = ibis.greatest(spans.start, ibis.literal(period.start))
    end = ibis.least(spans.end, ibis.literal(period.end))
    days = spans.select("cluster", "node", s=start, e=end)
    days = days.filter(days.e > days.s)
    exposure = days.group_by("cluster", "node").aggregate(
        node_days=exact_sum(seconds_between(days.s, days.e) / DAY_S)
    )
    e = eps.filter(eps.start >= period.start, eps.start <= period.end)
    counts = e.group_by("cluster", "node").aggregate(failures=e.count())
    j = exposure.left_join(counts, ["cluster", "node"])
    table = j.select("cluster", "node", failures=j.failures.fill_null(0), node_days=j.node_days)
    return Query(table, lambda t: sorted_by(t, ["cluster", "node"]))
