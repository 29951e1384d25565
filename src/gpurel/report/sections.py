"""The report's sections, in order: each turns an ``Analysis`` into a ``Block`` (or None).

A section is one small function registered in ``SECTIONS``; a new analysis (ETTR, lost goodput,
lemon nodes) joins the report as one more function. Sections only select and label results:
every number comes from the analysis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from gpurel.analysis.summary import Analysis
from gpurel.formatting import cell, interval, number
from gpurel.report import figures, methods
from gpurel.report.content import Block, Chart, Column, Table

Section = Callable[[Analysis], Block | None]
LONG_TABLE_ROWS = 15  # longer tables start folded

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


def _has_jobs(a: Analysis) -> bool:
    return bool(a.overview["job_attempts"])


# --- overview ---------------------------------------------------------------------------------


def _period(a: Analysis) -> str:
    if a.node_days is None:
        return cell(None)
    p = a.node_days.period
    days = (p.end - p.start).total_seconds() / 86_400
    return f"{p.start:%Y-%m-%d %H:%M} – {p.end:%Y-%m-%d %H:%M} UTC ({number(days)} days)"


def inventory(a: Analysis) -> dict[str, Any]:
    """Clusters, nodes and node-days of the analysis (empty values without data)."""
    if a.node_days is None:
        return {"clusters": [], "nodes": 0, "node_days": 0.0, "method": None}
    rows = a.node_days.by_cluster.to_pylist()
    return {
        "clusters": sorted({r["cluster"] for r in rows}),
        "nodes": sum(r["nodes"] for r in rows),
        "node_days": a.node_days.node_days,
        "method": a.node_days.method,
    }


def overview(a: Analysis) -> Block:
    """What the warehouse holds: period, clusters, nodes, GPUs, jobs, events, rejected rows."""
    o, inv, s = a.overview, inventory(a), a.settings
    facts = [
        ("Period", _period(a)),
        ("Clusters", ", ".join(inv["clusters"]) or cell(None)),
        ("Nodes", f"{inv['nodes']:,} ({inv['method'] or 'none'})"),
        ("GPUs", f"{inv['nodes'] * s.gpus_per_node:,} ({s.gpus_per_node} per node, a setting)"),
        ("Node-days", number(inv["node_days"])),
        ("Job attempts", f"{o['job_attempts']:,} ({o['job_ids']:,} job ids)"),
        ("GPU-hours", number(o["gpu_hours"])),
        ("Node events", f"{o['node_events']:,} ({o['failing_node_events']:,} failing)"),
        ("Rejected input rows", f"{o['rejected_rows']:,}"),
    ]
    paragraphs = [
        "Nodes come from the inventory where one was ingested, else from the nodes seen in "
        "jobs and node events (method in brackets); node-days are the denominator of every "
        "rate per 1000 node-days."
    ]
    if not _has_jobs(a):
        paragraphs.append("No job accounting was ingested: the job sections are left out.")
    tables = []
    if a.node_days is not None:
        tables.append(
            Table.of(
                "Nodes and node-days per cluster",
                (
                    Column("cluster", "cluster", "text"),
                    Column("method", "node source", "text"),
                    Column("nodes", "nodes", "int"),
                    Column("node_days", "node-days"),
                ),
                a.node_days.by_cluster,
            )
        )
    if a.rejects.num_rows:
        tables.append(
            Table.of(
                "Input rows rejected by ingest, and why",
                (
                    Column("source", "file", "text"),
                    Column("field", "field", "text"),
                    Column("reason", "reason", "text"),
                    Column("rows", "rows", "int"),
                ),
                a.rejects,
            )
        )
    return Block("overview", "Overview", paragraphs, facts, tables=tables)


# --- jobs -------------------------------------------------------------------------------------


def job_states(a: Analysis) -> Block | None:
    """Paper Fig. 3: final states by attempt count and by GPU time."""
    if not _has_jobs(a):
        return None
    chart = Chart(
        "fig3_job_states",
        "Share of job attempts per final Slurm state, weighted by attempt count (blue) and by "
        "GPU time (orange: GPUs × runtime, in GPU-hours). Paper Fig. 3.",
        lambda: figures.job_states(a.job_states),
    )
    table = Table.of(
        "Job attempts per final state", (Column("state", "state", "text"), *SHARES), a.job_states
    )
    text = (
        "Each row of the accounting is one job attempt (a requeued job has several). Paper, "
        "RSC-1 by count: COMPLETED 60%, FAILED 24%, PREEMPTED 10%, REQUEUED 2%, TIMEOUT 0.6%, "
        "NODE_FAIL 0.1%."
    )
    return Block("job-states", "Job states", [text], charts=[chart], tables=[table])


def failure_causes(a: Analysis) -> Block | None:
    """Paper Fig. 4: interrupted attempts by attributed cause; attribution coverage by window."""
    if not _has_jobs(a):
        return None
    w = a.settings.window
    text = (
        "An attempt that ran and ended FAILED or NODE_FAIL is attributed to a failing health "
        f"check on one of its nodes within [end − {w.before_s} s, end + {w.after_s} s]; among "
        "several candidates the priority order of the methods section picks one. Without a "
        "candidate, a NODE_FAIL is 'unattributed' and a FAILED attempt 'none' (presumed user)."
    )
    charts, tables = [], []
    causes = a.failures_by_category
    if causes.num_rows:
        charts.append(
            Chart(
                "fig4_failure_causes",
                "Interrupted attempts per attributed cause category, weighted by attempt count "
                "(blue) and by the GPU time of those attempts (orange, GPU-hours). Paper Fig. 4.",
                lambda: figures.failure_causes(causes),
            )
        )
        tables.append(
            Table.of(
                "Interrupted attempts per cause (rate per 1000 job node-days, 95% interval)",
                (
                    Column("category", "category", "text"),
                    Column("domain", "domain", "text"),
                    Column("failures", "attempts", "int"),
                    Column("failures_share", "share", "%"),
                    Column("failed_gpu_hours", "GPU-hours"),
                    Column("failed_gpu_hours_share", "GPU-time share", "%"),
                    *RATES,
                ),
                causes,
            )
        )
    else:
        text += " No attempt ended FAILED or NODE_FAIL after running."
    tables.append(_coverage(a.attribution_windows))
    return Block("failure-causes", "Failures per cause", [text], charts=charts, tables=tables)


def _coverage(windows: pa.Table) -> Table:
    return Table.of(
        "Attribution coverage by window: how the attributed share moves with the window",
        (
            Column("before_s", "before end (s)", "int"),
            Column("after_s", "after end (s)", "int"),
            Column("interrupted", "interrupted", "int"),
            Column("attributed_share", "attributed", "%"),
            Column("node_fail", "NODE_FAIL", "int"),
            Column("node_fail_attributed_share", "NODE_FAIL attributed", "%"),
        ),
        windows,
    )


def failures_over_time(a: Analysis) -> Block | None:
    """Paper Fig. 5: episodes per week by category, marking where a check first appears."""
    seen = a.check_first_seen
    if not seen.num_rows:
        return None
    weekly = a.episodes_by_week_category
    charts = []
    if weekly is not None and weekly.num_rows:
        charts.append(
            Chart(
                "fig5_weekly_episodes",
                "Node failure episodes per 1000 node-days in each ISO week (the week's node-days "
                "as denominator), stacked by category. ▼ marks where a check first appears after "
                "the first week, numbered as in the table below. Paper Fig. 5.",
                lambda: figures.weekly_episodes(weekly, seen),
            )
        )
    text = (
        "New checks reveal new failure modes, so a rate that jumps where a check appears may "
        "be a new measurement rather than a new fault. A check's first appearance is its first "
        "record of any result; for sources that record only failures (traces, drain reasons) "
        "that is its first failure."
    )
    tables = [_first_seen_table(seen)]
    if a.episodes_by_week is not None:
        tables.append(
            Table.of(
                "Episodes per week, all categories",
                (
                    Column("iso_week", "ISO week", "text"),
                    Column("node_days", "node-days"),
                    Column("episodes", "episodes", "int"),
                    *RATES,
                ),
                a.episodes_by_week,
                collapsed=True,
            )
        )
    return Block("over-time", "Failures over time", [text], charts=charts, tables=tables)


def _first_seen_table(seen: pa.Table) -> Table:
    rows, marker = [], 0
    for row in seen.to_pylist():
        if row["new"]:
            marker += 1
        rows.append(row | {"marker": marker if row["new"] else None})
    return Table(
        "Checks by first appearance (▼ number in the figure; message of the first failure)",
        (
            Column("marker", "▼", "int"),
            Column("check", "check", "text"),
            Column("first_seen", "first seen", "time"),
            Column("records", "records", "int"),
            Column("failing", "failing", "int"),
            Column("first_fail", "first failure", "time"),
            Column("category", "category", "text"),
            Column("node", "node", "text"),
            Column("message", "message", "text"),
        ),
        rows,
        collapsed=len(rows) > LONG_TABLE_ROWS,
    )


def job_sizes(a: Analysis) -> Block | None:
    """Paper Fig. 6: job sizes by attempt count and by GPU time."""
    if not _has_jobs(a):
        return None
    chart = Chart(
        "fig6_job_sizes",
        "Job attempts per size bucket (smallest power of two ≥ the job's GPUs), weighted by "
        "attempt count (blue) and by GPU time (orange, GPU-hours). Paper Fig. 6.",
        lambda: figures.job_sizes(a.job_sizes),
    )
    table = Table.of(
        "Job attempts per size bucket", (Column("label", "GPUs ≤", "text"), *SHARES), a.job_sizes
    )
    text = (
        "Paper: over 90% of jobs are smaller than one node but use under 10% of GPU time; "
        "jobs of 256+ GPUs use 66% (RSC-1) and 52% (RSC-2) of it."
    )
    return Block("job-sizes", "Job sizes", [text], charts=[chart], tables=[table])


def rf_sentence(a: Analysis) -> str:
    """r_f with its interval and how it was measured, in one sentence."""
    rf = a.node_failure_rate
    if not rf.node_days:
        return (
            f"r_f is not measured: no attempt of a job with more than {rf.min_gpus} GPUs ran, "
            "so there is no projection."
        )
    value = interval(rf.per_1000_node_days, rf.lo_per_1000_node_days, rf.hi_per_1000_node_days)
    return (
        f"r_f = {value} failures per 1000 node-days: {rf.failures:,} failures in "
        f"{number(rf.node_days)} node-days of attempts of jobs with more than {rf.min_gpus} GPUs "
        "(NODE_FAIL, or FAILED with a high-severity attributed cause). Paper: 6.50 (RSC-1), "
        "2.34 (RSC-2)."
    )


def mttf(a: Analysis) -> Block | None:
    """Paper Fig. 7: measured MTTF per job size against the projection at measured r_f."""
    if not _has_jobs(a):
        return None
    rf = a.node_failure_rate
    label = f"r_f = {number(rf.per_1000_node_days)} / 1000 node-days"
    chart = Chart(
        "fig7_mttf_by_size",
        "Log–log. Points: measured MTTF per size bucket = wallclock runtime of its attempts / "
        "infrastructure failures (hours, not GPU-weighted), with the 95% exact Poisson interval; "
        "▲: buckets without a failure, at their lower bound. Line and band: the projection "
        f"1 / (nodes × r_f) at the measured r_f and its 95% interval, {a.settings.gpus_per_node}"
        " GPUs per node. Paper Fig. 7.",
        lambda: figures.mttf_by_size(a.mttf_by_size, a.mttf_projection, label),
    )
    text = (
        "The measured points count every infrastructure failure (hardware, system software, "
        "unattributed NODE_FAIL); r_f counts the paper's narrower set, so the two views need "
        "not agree (the paper's do not either)."
    )
    tables = [
        Table.of(
            "Measured MTTF per size bucket",
            (
                Column("label", "GPUs ≤", "text"),
                Column("jobs", "attempts", "int"),
                Column("runtime_hours", "runtime (h)"),
                Column("failures", "failures", "int"),
                *MTTF_BAND,
            ),
            a.mttf_by_size,
        ),
        Table.of(
            f"Projected MTTF at {label} (nodes in series)",
            (Column("gpus", "GPUs", "int"), Column("nodes", "nodes", "int"), *MTTF_BAND),
            a.mttf_projection,
        ),
    ]
    return Block("mttf", "MTTF by job size", [rf_sentence(a), text], charts=[chart], tables=tables)


# --- node episodes ----------------------------------------------------------------------------


def node_episodes(a: Analysis) -> Block | None:
    """Failure episodes per category with Poisson intervals, and the nodes with most episodes."""
    if a.episode_summary is None:
        return None
    text = (
        "An episode is a run of failing records of one node and check with gaps under "
        f"{number(a.settings.merge_gap_s / 60)} min: a node failing the 5-minute check for hours "
        "counts once. Episodes are counted independently of jobs."
    )
    charts, tables = (
        [],
        [
            Table.of(
                "Episodes, all and hardware only",
                (Column("scope", "scope", "text"), Column("episodes", "episodes", "int"), *RATES),
                a.episode_summary,
            )
        ],
    )
    by_category = a.episodes_by_category
    if by_category is not None and by_category.num_rows:
        charts.append(
            Chart(
                "fig_node_episodes",
                "Failure episodes per 1000 node-days per category (count in brackets), with the "
                "95% exact Poisson interval; every node-day of the period weighs the same.",
                lambda: figures.episode_rates(by_category),
            )
        )
        tables.append(
            Table.of(
                "Episodes per category",
                (
                    Column("category", "category", "text"),
                    Column("domain", "domain", "text"),
                    Column("episodes", "episodes", "int"),
                    *RATES,
                ),
                by_category,
            )
        )
    if a.top_nodes is not None and a.top_nodes.num_rows:
        tables.append(_top_nodes(a.top_nodes))
    return Block("node-episodes", "Node failure episodes", [text], charts=charts, tables=tables)


def _top_nodes(top: pa.Table) -> Table:
    """One row per node, its categories folded into one cell."""
    nodes: dict[tuple[str, str], dict[str, Any]] = {}
    for r in top.to_pylist():
        row = nodes.setdefault(
            (r["cluster"], r["node"]),
            {k: r[k] for k in ("rank", "cluster", "node", "total")} | {"categories": []},
        )
        row["categories"].append(f"{r['category']} {r['episodes']}")
    rows = [r | {"categories": ", ".join(r["categories"])} for r in nodes.values()]
    return Table(
        "Nodes with the most episodes",
        (
            Column("rank", "#", "int"),
            Column("cluster", "cluster", "text"),
            Column("node", "node", "text"),
            Column("total", "episodes", "int"),
            Column("categories", "by category", "text"),
        ),
        rows,
    )


SECTIONS: list[Section] = [
    overview,
    job_states,
    failure_causes,
    failures_over_time,
    job_sizes,
    mttf,
    node_episodes,
    methods.methods,
]


def blocks(a: Analysis) -> list[Block]:
    """Every section that has something to show, in order."""
    return [b for b in (section(a) for section in SECTIONS) if b is not None]
