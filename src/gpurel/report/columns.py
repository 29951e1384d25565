"""The columns of the analysis' main result tables as the report shows them; the terminal
(``cli.render``) reuses those it shows alike."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from gpurel.report.content import Column

SHARES = (
    Column("jobs", "attempts", "int"),
    Column("jobs_share", "share", "%"),
    Column("gpu_hours", "GPU-hours"),
    Column("gpu_hours_share", "GPU-time share", "%"),
)
RATES = (
    Column("per_1000_node_days", "per 1000 node-days"),
    Column("lo_per_1000_node_days", "95% lo"),
    Column("hi_per_1000_node_days", "95% hi"),
)
MTTF_BAND = (
    Column("mttf_hours", "MTTF", "h"),
    Column("mttf_lo_hours", "95% lo", "h"),
    Column("mttf_hi_hours", "95% hi", "h"),
)
CAUSE = (Column("category", "category", "text"), Column("domain", "domain", "text"))
JOB_STATES = (Column("state", "state", "text"), *SHARES)
JOB_SIZES = (Column("label", "GPUs ≤", "text"), *SHARES)
FAILURE_CAUSES = (
    *CAUSE,
    Column("failures", "attempts", "int"),
    Column("failures_share", "share", "%"),
    Column("failed_gpu_hours", "GPU-hours"),
    Column("failed_gpu_hours_share", "GPU-time share", "%"),
    *RATES,
)
COVERAGE = (
    Column("before_s", "before end (s)", "int"),
    Column("after_s", "after end (s)", "int"),
    Column("interrupted", "interrupted", "int"),
    Column("attributed_share", "attributed", "%"),
    Column("node_fail", "NODE_FAIL", "int"),
    Column("node_fail_attributed_share", "NODE_FAIL attributed", "%"),
)
MTTF_BY_SIZE = (
    Column("label", "GPUs ≤", "text"),
    Column("jobs", "attempts", "int"),
    Column("runtime_hours", "runtime (h)"),
    Column("failures", "failures", "int"),
    *MTTF_BAND,
)
MTTF_PROJECTION = (Column("gpus", "GPUs", "int"), Column("nodes", "nodes", "int"), *MTTF_BAND)
EXPECTED_ETTR = (
    Column("gpus", "GPUs", "int"),
    Column("ettr", "ETTR"),
    Column("ettr_lo", "95% lo"),
    Column("ettr_hi", "95% hi"),
    Column("ettr_exact", "exact form"),
    Column("linear_breaks", "linear form off by > 2%", "bool"),
)
GOODPUT_BUCKETS = (
    Column("label", "GPUs ≤", "text"),
    Column("failures", "failures", "int"),
    Column("first_order_gpu_hours", "1st order GPU-hours"),
    Column("preemptions", "preemptions", "int"),
    Column("preempted_gpus", "preempted GPUs", "int"),
    Column("second_order_gpu_hours", "2nd order GPU-hours"),
    Column("second_order_share", "2nd order share", "%"),
)
EPISODE_SUMMARY = (Column("scope", "scope", "text"), Column("episodes", "episodes", "int"), *RATES)
EPISODES_BY_CATEGORY = (*CAUSE, Column("episodes", "episodes", "int"), *RATES)
TOP_NODES = (
    Column("rank", "#", "int"),
    Column("cluster", "cluster", "text"),
    Column("node", "node", "text"),
    Column("total", "episodes", "int"),
    Column("categories", "by category", "text"),
)
REJECTS = (
    Column("source", "file", "text"),
    Column("field", "field", "text"),
    Column("reason", "reason", "text"),
    Column("rows", "rows", "int"),
)


def per_node(top: pa.Table) -> list[dict[str, Any]]:
    """The nodes with the most episodes (``metrics.top_nodes``), one row per node with its
    categories folded into one cell, as ``TOP_NODES`` shows them."""
    nodes: dict[tuple[str, str], dict[str, Any]] = {}
    for r in top.to_pylist():
        row = nodes.setdefault(
            (r["cluster"], r["node"]),
            {k: r[k] for k in ("rank", "cluster", "node", "total")} | {"categories": []},
        )
        row["categories"].append(f"{r['category']} {r['episodes']}")
    return [r | {"categories": ", ".join(r["categories"])} for r in nodes.values()]
