"""The report's sections, in order: each turns an ``Analysis`` into a ``Block`` (or None).

A section is one small function registered in ``SECTIONS``; a new analysis joins the report as
one more function (the ETTR and lemon-node sections have modules of their own). Sections only
select and label results: every number comes from the analysis. A section whose figures are
``Absent`` says so in one line with the reason (``not_measured``) instead of showing empty or
zero-filled tables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from matplotlib.figure import Figure

from gpurel.absent import Absent
from gpurel.analysis import lemons
from gpurel.analysis.summary import Analysis, node_days_figure
from gpurel.formatting import cell, interval, number, period
from gpurel.report import columns, figures, methods, rules
from gpurel.report.content import Block, Chart, Column, Table
from gpurel.report.ettr_sections import ettr_design, ettr_runs
from gpurel.report.lemon_sections import lemon_backtest, lemon_nodes

Section = Callable[[Analysis], Block | None]

LARGEST_FAILURES = (
    Column("job_id", "job", "text"),
    Column("attempt", "#", "int"),
    Column("name", "name", "text"),
    Column("who", "user", "text"),
    Column("n_gpus", "GPUs", "int"),
    Column("runtime_hours", "runtime", "h"),
    Column("gpu_hours", "GPU-hours"),
    Column("state", "state", "text"),
    Column("category", "cause", "text"),
    Column("evidence", "check on node", "text"),
)
FIRST_SEEN = (
    Column("marker", "▼", "int"),
    Column("check", "check", "text"),
    Column("first_seen", "first seen", "time"),
    Column("records", "records", "int"),
    Column("failing", "failing", "int"),
    Column("first_fail", "first failure", "time"),
    Column("category", "category", "text"),
    Column("node", "node", "text"),
    Column("message", "message", "text"),
)
CRASH_LOOPS = (
    Column("job_id", "job", "text"),
    Column("name", "name", "text"),
    Column("user", "user", "text"),
    Column("n_gpus", "GPUs", "int"),
    Column("requeues", "requeues", "int"),
    Column("first_failure", "first failure", "time"),
    Column("last_failure", "last failure", "time"),
    Column("preemptions", "preemptions", "int"),
    Column("preempted_gpus", "preempted GPUs", "int"),
    Column("first_order_gpu_hours", "1st order GPU-hours"),
    Column("second_order_gpu_hours", "2nd order GPU-hours"),
)


def _has_jobs(a: Analysis) -> bool:
    return bool(a.overview["job_attempts"])


def not_measured(block_id: str, title: str, missing: Absent) -> Block:
    """A section whose figures have no input: one line with the reason."""
    return Block(block_id, title, [f"Not measured: {missing.reason}."])


# --- overview ---------------------------------------------------------------------------------


def inventory(a: Analysis) -> dict[str, Any]:
    """Clusters, nodes and node-days of the analysis (no clusters and absent node-days without
    data)."""
    days = node_days_figure(a.node_days)
    clusters = a.overview["cluster_names"]
    if a.node_days is None:
        return {"clusters": clusters, "nodes": 0, "node_days": days, "method": None}
    rows = a.node_days.by_cluster.to_pylist()
    return {
        "clusters": sorted({*clusters, *(r["cluster"] for r in rows)}),
        "nodes": sum(r["nodes"] for r in rows),
        "node_days": days,
        "method": a.node_days.method,
    }


def _period_facts(a: Analysis) -> list[tuple[str, str]]:
    """The period of every rate, and the records' span where it is wider."""
    if a.node_days is None:
        return [("Period", str(Absent("no job accounting or node events ingested")))]
    p, records = a.node_days.period, a.node_days.records
    facts = [("Period", period(p.start, p.end))]
    if records is not None:
        facts.append(
            (
                "Records span",
                f"{period(records.start, records.end)}: jobs and node events outside the "
                "period, in which nodes are in service, count in the job figures but in no rate "
                "per node-day",
            )
        )
    return facts


def _nodes_facts(a: Analysis, inv: dict[str, Any]) -> list[tuple[str, str]]:
    """Nodes, GPUs and node-days, or why they are not measured."""
    days = inv["node_days"]
    if isinstance(days, Absent):
        return [("Nodes, GPUs, node-days", str(days))]
    gpn, o = a.settings.gpus_per_node, a.overview
    gpus = (
        f"{o['inventory_gpus']:,} (from the inventory)"
        if inv["method"] == "inventory" and o["inventory_gpu_nodes"] == inv["nodes"]
        else f"{inv['nodes'] * gpn:,} ({gpn} per node, a setting)"
    )
    return [
        ("Nodes", f"{inv['nodes']:,} ({inv['method']})"),
        ("GPUs", gpus),
        ("Node-days", number(days)),
    ]


def _job_facts(o: dict[str, Any]) -> list[tuple[str, str]]:
    """Job attempts and GPU-hours, or that there is no accounting."""
    if not o["job_attempts"]:
        return [("Job attempts, GPU-hours", "not measured: no job accounting ingested")]
    return [
        ("Job attempts", f"{o['job_attempts']:,} ({o['job_ids']:,} job ids)"),
        ("GPU-hours", number(o["gpu_hours"])),
    ]


def _missing(a: Analysis) -> list[str]:
    """One sentence per reason a group of figures is not measured."""
    said = []
    if not a.overview["node_events"]:
        said.append(
            "No node events were ingested: node failure episodes, failures over time and the "
            "attribution of failures to health checks are not measured."
        )
    if _has_jobs(a) and isinstance(a.rf, Absent):
        said.append(f"r_f is not measured: {a.rf.reason}.")
    return said


def overview(a: Analysis) -> Block:
    """What the warehouse holds: period, clusters, nodes, GPUs, jobs, events, rejected rows."""
    o, inv = a.overview, inventory(a)
    facts = [
        *_period_facts(a),
        ("Clusters", ", ".join(inv["clusters"]) or cell(None)),
        *_nodes_facts(a, inv),
        *_job_facts(o),
        (
            "Node events",
            f"{o['node_events']:,} ({o['failing_node_events']:,} failing)"
            if o["node_events"]
            else "none ingested",
        ),
        ("Rejected input rows", f"{o['rejected_rows']:,}"),
    ]
    paragraphs = [
        "Nodes come from the inventory where one was ingested, else from the nodes seen in "
        "jobs and node events (method in brackets); node-days are the denominator of every "
        "rate per 1000 node-days, counted over the period."
    ]
    if not _has_jobs(a):
        paragraphs.append("No job accounting was ingested: the job sections are left out.")
    paragraphs += _missing(a)
    tables = []
    if a.node_days is not None and a.node_days.by_cluster.num_rows:
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
            Table.of("Input rows rejected by ingest, and why", columns.REJECTS, a.rejects)
        )
    return Block("overview", "Overview", paragraphs, facts, tables=tables)


# --- jobs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptShares:
    """A section of job attempts per ``per``, by attempt count and by GPU time: the figure of
    paper Fig. ``fig`` and its table."""

    block_id: str
    title: str
    fig: int
    per: str  # what splits the attempts, e.g. "final state"
    columns: Sequence[Column]
    result: Callable[[Analysis], pa.Table]
    draw: Callable[[pa.Table], Figure]
    text: str

    def __call__(self, a: Analysis) -> Block | None:
        """The section, or None without job accounting."""
        if not _has_jobs(a):
            return None
        rows = self.result(a)
        chart = Chart(
            f"fig{self.fig}_{self.block_id.replace('-', '_')}",
            f"Share of job attempts per {self.per}, weighted by attempt count (blue) and by GPU "
            f"time (orange: GPUs × runtime, in GPU-hours). Paper Fig. {self.fig}.",
            lambda: self.draw(rows),
        )
        table = Table.of(f"Job attempts per {self.per}", self.columns, rows)
        return Block(self.block_id, self.title, [self.text], charts=[chart], tables=[table])


job_states = AttemptShares(
    "job-states",
    "Job states",
    3,
    "final state",
    columns.JOB_STATES,
    lambda a: a.job_states,
    figures.job_states,
    "Each row of the accounting is one job attempt (a requeued job has several). Paper, RSC-1 "
    "by count: COMPLETED 60%, FAILED 24%, PREEMPTED 10%, REQUEUED 2%, TIMEOUT 0.6%, NODE_FAIL "
    "0.1%.",
)
job_sizes = AttemptShares(
    "job-sizes",
    "Job sizes",
    6,
    "size bucket (smallest power of two ≥ the job's GPUs)",
    columns.JOB_SIZES,
    lambda a: a.job_sizes,
    figures.job_sizes,
    "Paper: over 90% of jobs are smaller than one node but use under 10% of GPU time; jobs of "
    "256+ GPUs use 66% (RSC-1) and 52% (RSC-2) of it.",
)


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
                columns.FAILURE_CAUSES,
                causes,
            )
        )
        tables.append(_largest_failures(a.largest_failures))
    else:
        text += " No attempt ended FAILED or NODE_FAIL after running."
    if isinstance(a.attribution_windows, Absent):
        text += f" No attempt is attributed to a health check: {a.attribution_windows.reason}."
    else:
        tables.append(
            Table.of(
                "Attribution coverage by window: how the attributed share moves with the window",
                columns.COVERAGE,
                a.attribution_windows,
            )
        )
    return Block("failure-causes", "Failures per cause", [text], charts=charts, tables=tables)


def _largest_failures(largest: pa.Table) -> Table:
    """The largest interrupted attempts; user and account, check and node share a cell."""
    rows = [
        r
        | {
            "who": f"{r['user']} ({r['account']})" if r["account"] else r["user"],
            "evidence": f"{r['check']} on {r['node']}" if r["check"] is not None else None,
        }
        for r in largest.to_pylist()
    ]
    which = f"The {len(rows):,} interrupted attempts with the most GPU time"
    return Table(
        f"{which} (GPU-hours = GPUs × runtime), largest first, with the attributed cause; "
        "# is the attempt of the job id (requeues), the user's account in brackets",
        LARGEST_FAILURES,
        rows,
    )


def failures_over_time(a: Analysis) -> Block | None:
    """Paper Fig. 5: episodes per week by category, marking where a check first appears."""
    seen, weekly = a.check_first_seen, a.episodes_by_week_category
    if isinstance(seen, Absent) or not seen.num_rows or isinstance(weekly, Absent):
        return None
    charts = []
    if weekly.num_rows:
        charts.append(
            Chart(
                "fig5_weekly_episodes",
                "Node failure episodes per 1000 node-days in each ISO week (the week's node-days "
                "as denominator), stacked by category. ▼ marks where a check first appears more "
                "than a week after the node events and the period begin, numbered as in the "
                "table below. Paper Fig. 5.",
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
    if not isinstance(a.episodes_by_week, Absent):
        tables.append(
            Table.of(
                "Episodes per week, all categories",
                (
                    Column("iso_week", "ISO week", "text"),
                    Column("node_days", "node-days"),
                    Column("episodes", "episodes", "int"),
                    *columns.RATES,
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
    return Table.long(
        "Checks by first appearance (▼ number in the figure; message of the first failure)",
        FIRST_SEEN,
        rows,
    )


def rf_sentence(a: Analysis) -> str:
    """r_f with its interval and how it was measured, in one sentence."""
    rf = a.rf
    if isinstance(rf, Absent):
        return f"r_f is not measured, and nothing is projected from it: {rf.reason}."
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
    measured, projection, basis = a.mttf_by_size, a.mttf_projection, a.projection_rf
    if isinstance(measured, Absent):
        return not_measured("mttf", "MTTF by job size", measured)
    label = (
        ""
        if isinstance(basis, Absent)
        else f"r_f = {number(basis.per_1000_node_days)} / 1000 node-days"
    )
    line = (
        f"No projection: {basis.reason}."
        if isinstance(basis, Absent)
        else "Line and band: the projection 1 / (nodes × r_f) at the measured r_f and its 95% "
        f"interval, {a.settings.gpus_per_node} GPUs per node."
    )
    chart = Chart(
        "fig7_mttf_by_size",
        "Log–log. Points: measured MTTF per size bucket = wallclock runtime of its attempts / "
        "infrastructure failures (hours, not GPU-weighted), with the 95% exact Poisson interval; "
        f"▲: buckets without a failure, at their lower bound. {line} Paper Fig. 7.",
        lambda: figures.mttf_by_size(
            measured, None if isinstance(projection, Absent) else projection, label
        ),
    )
    text = (
        "The measured points count every infrastructure failure (hardware, system software, "
        "unattributed NODE_FAIL); r_f counts the paper's narrower set, so the two views need "
        "not agree (the paper's do not either)."
    )
    tables = [Table.of("Measured MTTF per size bucket", columns.MTTF_BY_SIZE, measured)]
    if not isinstance(projection, Absent):
        tables.append(
            Table.of(
                f"Projected MTTF at {label} (nodes in series)",
                columns.MTTF_PROJECTION,
                projection,
            )
        )
    return Block("mttf", "MTTF by job size", [rf_sentence(a), text], charts=[chart], tables=tables)


# --- node episodes ----------------------------------------------------------------------------


def node_episodes(a: Analysis) -> Block | None:
    """Failure episodes per category with Poisson intervals, and the nodes with most episodes."""
    if isinstance(a.episode_summary, Absent):
        return None
    text = (
        "An episode is a run of failing records of one node and failure category with gaps "
        f"under {number(a.settings.merge_gap_s / 60)} min: a node failing the 5-minute check for "
        "hours counts once, and so does one fault seen by overlapping checks of its category. "
        "Episodes are counted independently of jobs."
    )
    charts = []
    tables = [
        Table.of("Episodes, all and hardware only", columns.EPISODE_SUMMARY, a.episode_summary)
    ]
    by_category = a.episodes_by_category
    if not isinstance(by_category, Absent) and by_category.num_rows:
        charts.append(
            Chart(
                "fig_node_episodes",
                "Failure episodes per 1000 node-days per category (count in brackets), with the "
                "95% exact Poisson interval; every node-day of the period weighs the same.",
                lambda: figures.episode_rates(by_category),
            )
        )
        tables.append(Table.of("Episodes per category", columns.EPISODES_BY_CATEGORY, by_category))
    if not isinstance(a.top_nodes, Absent) and a.top_nodes.num_rows:
        tables.append(
            Table("Nodes with the most episodes", columns.TOP_NODES, columns.per_node(a.top_nodes))
        )
    return Block("node-episodes", "Node failure episodes", [text], charts=charts, tables=tables)


# --- lost goodput -----------------------------------------------------------------------------


def lost_goodput(a: Analysis) -> Block | None:
    """Paper Fig. 8: GPU time lost to infrastructure failures, first and second order."""
    lost = a.lost_goodput
    if isinstance(lost, Absent):
        return not_measured("lost-goodput", "Lost goodput", lost) if _has_jobs(a) else None
    if not lost.by_bucket.num_rows:
        return None
    t, half = lost.totals, number(lost.ckpt_s / 120)
    chart = Chart(
        "fig8_lost_goodput",
        "GPU-hours lost per size bucket of the failed job, weighted by GPU time: each "
        f"infrastructure failure loses min(runtime, {half} min) × its GPUs (blue), and each job "
        "preempted for its requeue the same of its own (orange). Paper Fig. 8.",
        lambda: figures.lost_goodput(lost.by_bucket),
    )
    text = [
        f"Checkpoints assumed every {number(lost.ckpt_s / 60)} min. First order: "
        f"{rules.first_order_loss(lost.ckpt_s)}. Second order: "
        f"{rules.second_order_loss(lost.rules)}.",
        f"{number(t['lost_gpu_hours'])} GPU-hours lost: {number(t['first_order_gpu_hours'])} "
        f"from {t['failures']:,} failures and {number(t['second_order_gpu_hours'])} from "
        f"{t['preemptions']:,} preemptions ({cell(t['second_order_share'], '%')} second "
        "order; paper: 16%).",
    ]
    tables = [
        Table.of(
            "Lost goodput per size bucket of the failed job",
            columns.GOODPUT_BUCKETS,
            lost.by_bucket,
        )
    ]
    if lost.crash_loops.num_rows:
        tables.append(
            Table.long(
                f"Crash loops: {rules.crash_loops(lost.rules)}, with the preemptions their "
                "requeues caused",
                CRASH_LOOPS,
                lost.crash_loops,
            )
        )
    return Block("lost-goodput", "Lost goodput", text, charts=[chart], tables=tables)


SECTIONS: list[Section] = [
    overview,
    job_states,
    failure_causes,
    failures_over_time,
    job_sizes,
    mttf,
    ettr_runs,
    ettr_design,
    lost_goodput,
    node_episodes,
    lemon_nodes,
    methods.methods,
]


def blocks(a: Analysis, backtest: lemons.Backtest | None = None) -> list[Block]:
    """Every section that has something to show, in order; with a lemon backtest, its section
    before the methods."""
    shown = [b for b in (section(a) for section in SECTIONS) if b is not None]
    if backtest is not None:
        shown.insert(-1, lemon_backtest(backtest))
    return shown
