"""Terminal rendering of an analysis: each section is a title, a table getter and columns
(the report's columns of ``report.columns`` wherever the terminal shows the same table).

A table without input is not printed: one line per reason names the tables it leaves out. Text
from the data goes into tables as plain text (never rich markup) with bidirectional controls
neutralised (``formatting.cell``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from rich.table import Table
from rich.text import Text

from gpurel.absent import Absent
from gpurel.analysis.summary import Analysis, node_days_figure
from gpurel.cli.common import console
from gpurel.formatting import cell, period
from gpurel.report import columns
from gpurel.report.content import Column

# narrower than the report's (an 80-column terminal), also for ``gpurel goodput``
GOODPUT_BUCKETS: list[Column] = [
    Column("label", "GPUs ≤", "text"),
    Column("failures", "failures", "int"),
    Column("first_order_gpu_hours", "1st order"),
    Column("preemptions", "preemptions", "int"),
    Column("second_order_gpu_hours", "2nd order"),
    Column("second_order_share", "2nd order share", "%"),
]
CRASH_LOOPS: list[Column] = [
    Column("job_id", "job", "text"),
    Column("name", "name", "text"),
    Column("n_gpus", "GPUs", "int"),
    Column("requeues", "requeues", "int"),
    Column("preemptions", "preemptions", "int"),
    Column("preempted_gpus", "preempted GPUs", "int"),
    Column("first_order_gpu_hours", "1st order GPU-h"),
    Column("second_order_gpu_hours", "2nd order GPU-h"),
]


@dataclass(frozen=True)
class Section:
    """One titled table of an analysis."""

    title: str
    rows: Callable[[Analysis], pa.Table | Absent]
    columns: Sequence[Column]

    @property
    def name(self) -> str:
        """The title without its explanation in brackets."""
        return self.title.split(" (")[0]


def _top_nodes(a: Analysis) -> pa.Table | Absent:
    t = a.top_nodes
    return t if isinstance(t, Absent) else pa.Table.from_pylist(columns.per_node(t))


def _goodput(a: Analysis, part: Callable[[Any], pa.Table]) -> pa.Table | Absent:
    lost = a.lost_goodput
    return lost if isinstance(lost, Absent) else part(lost)


JOB_SECTIONS = [
    Section("Job states (by count and by GPU time)", lambda a: a.job_states, columns.JOB_STATES),
    Section(
        "Job sizes (power-of-two GPU buckets; by count and by GPU time)",
        lambda a: a.job_sizes,
        columns.JOB_SIZES,
    ),
    Section(
        "Interrupted job attempts by attributed cause",
        lambda a: a.failures_by_category,
        [
            *columns.CAUSE,
            Column("failures", "attempts", "int"),
            Column("failures_share", "share", "%"),
            Column("failed_gpu_hours", "GPU-hours"),
            *columns.RATES,
        ],
    ),
    Section(
        "Largest interrupted attempts (by GPU-hours; attributed cause)",
        lambda a: a.largest_failures,
        [
            Column("job_id", "job", "text"),
            Column("attempt", "#", "int"),
            Column("name", "name", "text"),
            Column("user", "user", "text"),
            Column("n_gpus", "GPUs", "int"),
            Column("gpu_hours", "GPU-hours"),
            Column("state", "state", "text"),
            Column("category", "cause", "text"),
        ],
    ),
    Section(
        "Attribution coverage by window (seconds before, after the job end)",
        lambda a: a.attribution_windows,
        columns.COVERAGE,
    ),
    Section(
        "Measured MTTF by job size (wallclock runtime / infrastructure failures)",
        lambda a: a.mttf_by_size,
        columns.MTTF_BY_SIZE,
    ),
    Section(
        "Projected MTTF at the measured r_f (nodes in series)",
        lambda a: a.mttf_projection,
        columns.MTTF_PROJECTION,
    ),
    Section(
        "Measured MTTF next to the projection at the bucket's size",
        lambda a: a.mttf_vs_projection,
        [
            Column("label", "GPUs ≤", "text"),
            Column("failures", "failures", "int"),
            Column("mttf_hours", "measured", "h"),
            Column("projected_mttf_hours", "projected", "h"),
            Column("projected_mttf_lo_hours", "95% lo", "h"),
            Column("projected_mttf_hi_hours", "95% hi", "h"),
        ],
    ),
    Section(
        "Expected ETTR at the measured r_f (assumed Δt_cp, u0, w_cp; no queue)",
        lambda a: a.ettr_projection,
        columns.EXPECTED_ETTR,
    ),
    Section(
        "Measured ETTR of job runs (by run; every interruption / infrastructure only / "
        "preemptions and requeues only)",
        lambda a: a.run_ettr,
        [
            Column("bucket", "GPUs ≤", "int"),
            Column("runs", "runs", "int"),
            Column("ettr_mean", "ETTR"),
            Column("ettr_median", "median"),
            Column("ettr_infra_mean", "infra only"),
            Column("ettr_scheduler_mean", "sched. only"),
            Column("ettr_expected", "expected"),
        ],
    ),
    Section(
        "Lost goodput by size of the failed job (GPU-hours)",
        lambda a: _goodput(a, lambda lost: lost.by_bucket),
        GOODPUT_BUCKETS,
    ),
    Section(
        "Crash loops (jobs requeued after failures again and again; see gpurel goodput)",
        lambda a: _goodput(a, lambda lost: lost.crash_loops),
        CRASH_LOOPS,
    ),
]

EVENT_SECTIONS = [
    Section(
        "Node failure episodes (failing records merged per node and category)",
        lambda a: a.episode_summary,
        columns.EPISODE_SUMMARY,
    ),
    Section(
        "Episodes per category", lambda a: a.episodes_by_category, columns.EPISODES_BY_CATEGORY
    ),
    Section("Nodes with the most episodes", _top_nodes, columns.TOP_NODES),
]

LEMONS = Section(
    "Lemon nodes (flagged: a signal at its cluster's threshold; score: Σ signal / threshold)",
    lambda a: (
        Absent("no job accounting or node events ingested")
        if a.lemons is None
        else a.lemons.flagged
    ),
    [
        Column("rank", "#", "int"),
        Column("cluster", "cluster", "text"),
        Column("node", "node", "text"),
        Column("score", "score"),
        Column("signals", "at threshold", "text"),
        Column("out_count", "outages"),
        Column("xid_cnt", "XIDs"),
        Column("multi_node_node_fails", "multi-node fails"),
        Column("single_node_node_fails", "single-node fails"),
    ],
)

REJECTS = Section("Rejected input rows", lambda a: a.rejects, columns.REJECTS)


def column_style(numeric: bool) -> dict[str, Any]:
    """Numbers right-aligned; text left-aligned and folded (never cut short) when narrow."""
    return {"justify": "right"} if numeric else {"justify": "left", "overflow": "fold"}


def table(title: str, cols: Sequence[Column], rows: Sequence[dict[str, Any]]) -> Table:
    """A titled rich table of result rows; cells are plain text (no markup from the data)."""
    out = Table(title=title, title_justify="left", title_style="bold")
    for c in cols:
        out.add_column(c.header, **column_style(c.numeric))
    for row in rows:
        out.add_row(*(Text(cell(row.get(c.key), c.kind)) for c in cols))
    return out


def _print(sections: Sequence[Section], result: Analysis) -> None:
    """Each section's table; an empty one as one line; those without input as one line per
    reason."""
    missing: dict[str, list[str]] = {}
    for section in sections:
        data = section.rows(result)
        if isinstance(data, Absent):
            missing.setdefault(data.reason, []).append(section.name)
        elif not data.num_rows:
            console.print(Text(f"{section.name}: none"))
        else:
            console.print(table(section.title, section.columns, data.to_pylist()))
    for reason, names in missing.items():
        console.print(Text(f"not measured ({reason}): {'; '.join(names)}"))


def _headline(result: Analysis) -> None:
    o = result.overview
    jobs = (
        f"[bold]{o['job_attempts']:,}[/] job attempts ({o['job_ids']:,} job ids), "
        f"[bold]{o['gpu_hours']:,.0f}[/] GPU-hours"
        if o["job_attempts"]
        else "no job accounting ingested"
    )
    events = (
        f"[bold]{o['node_events']:,}[/] node events ({o['failing_node_events']:,} failing)"
        if o["node_events"]
        else "no node events ingested"
    )
    console.print(f"{jobs}, {events}, [bold]{o['rejected_rows']:,}[/] rejected rows")
    nd = result.node_days
    if nd is not None:
        days = node_days_figure(nd)
        node_days = str(days) if isinstance(days, Absent) else f"{days:,.0f} ({nd.method})"
        console.print(
            Text(f"period {period(nd.period.start, nd.period.end)}, node-days {node_days}")
        )
        if nd.records is not None:
            console.print(
                Text(
                    f"job and event records span {period(nd.records.start, nd.records.end)}: "
                    "wider than the node-days"
                )
            )


def _node_failure_rate(result: Analysis) -> None:
    rf = result.rf
    if isinstance(rf, Absent):
        console.print(Text(f"r_f {rf}"))
        return
    console.print(
        f"[bold]r_f[/] (jobs > {rf.min_gpus} GPUs): {rf.failures:,} failures in "
        f"{rf.node_days:,.1f} node-days = {cell(rf.per_1000_node_days)} per 1000 node-days "
        f"(95%: {cell(rf.lo_per_1000_node_days)} – {cell(rf.hi_per_1000_node_days)})"
    )


def _node_dispersion(result: Analysis) -> None:
    d = result.node_dispersion
    if isinstance(d, Absent):
        console.print(Text(f"per-node failures: {d.reason}"))
        return
    t = d.test
    verdict = "one shared rate fits" if t.shared else "nodes do not share one rate"
    console.print(
        Text(
            f"per-node failures: {verdict} (dispersion index {cell(t.dispersion_index)}, "
            f"p = {cell(t.p_value)}; negative binomial shape {cell(t.nb_shape)}, "
            f"p = {cell(t.lr_p_value)}; {t.nodes:,} nodes); tested: {d.tested}"
        )
    )


def render(result: Analysis) -> None:
    """Print every section of an analysis that has data, and one line for what is missing."""
    _headline(result)
    if result.overview["job_attempts"]:
        _print(JOB_SECTIONS, result)
        _node_failure_rate(result)
    else:
        console.print("job metrics skipped: no job accounting ingested")
    if result.overview["job_attempts"] or result.overview["node_events"]:
        _node_dispersion(result)
    _print([*EVENT_SECTIONS, LEMONS], result)
    if result.rejects.num_rows:
        _print([REJECTS], result)
