"""Terminal rendering of an analysis: each section is a title, a table getter and columns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from rich.table import Table
from rich.text import Text

from gpurel.analysis.summary import Analysis
from gpurel.cli.common import console
from gpurel.formatting import cell

# (key in the result table, column header, kind of value: see formatting.cell)
Column = tuple[str, str, str]

SHARES: list[Column] = [
    ("jobs", "jobs", "num"),
    ("jobs_share", "share", "%"),
    ("gpu_hours", "GPU-hours", "num"),
    ("gpu_hours_share", "GPU-time share", "%"),
]
RATES: list[Column] = [
    ("per_1000_node_days", "per 1000 node-days", "num"),
    ("lo_per_1000_node_days", "95% lo", "num"),
    ("hi_per_1000_node_days", "95% hi", "num"),
]
MTTF_BAND: list[Column] = [
    ("mttf_hours", "MTTF", "h"),
    ("mttf_lo_hours", "95% lo", "h"),
    ("mttf_hi_hours", "95% hi", "h"),
]


@dataclass(frozen=True)
class Section:
    """One titled table of an analysis."""

    title: str
    rows: Callable[[Analysis], pa.Table | None]
    columns: list[Column]


def _per_node(top: pa.Table | None) -> pa.Table | None:
    """One row per node, its categories folded into one cell."""
    if top is None:
        return None
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in top.to_pylist():
        row = rows.setdefault(
            (r["cluster"], r["node"]),
            {"rank": r["rank"], "node": r["node"], "total": r["total"], "parts": []},
        )
        row["parts"].append(f"{r['category']} {r['episodes']}")
    return pa.Table.from_pylist(
        [{**r, "categories": ", ".join(r.pop("parts"))} for r in rows.values()]
    )


GOODPUT_BUCKETS: list[Column] = [
    ("label", "GPUs ≤", "text"),
    ("failures", "failures", "num"),
    ("first_order_gpu_hours", "1st order", "num"),
    ("preemptions", "preemptions", "num"),
    ("second_order_gpu_hours", "2nd order", "num"),
    ("second_order_share", "2nd order share", "%"),
]
CRASH_LOOPS: list[Column] = [
    ("job_id", "job", "text"),
    ("name", "name", "text"),
    ("n_gpus", "GPUs", "num"),
    ("requeues", "requeues", "num"),
    ("preemptions", "preemptions", "num"),
    ("preempted_gpus", "preempted GPUs", "num"),
    ("first_order_gpu_hours", "1st order GPU-h", "num"),
    ("second_order_gpu_hours", "2nd order GPU-h", "num"),
]

JOB_SECTIONS = [
    Section(
        "Job states (by count and by GPU time)",
        lambda a: a.job_states,
        [("state", "state", "text"), *SHARES],
    ),
    Section(
        "Job sizes (power-of-two GPU buckets; by count and by GPU time)",
        lambda a: a.job_sizes,
        [("label", "GPUs ≤", "text"), *SHARES],
    ),
    Section(
        "Interrupted job attempts by attributed cause",
        lambda a: a.failures_by_category,
        [
            ("category", "category", "text"),
            ("domain", "domain", "text"),
            ("failures", "attempts", "num"),
            ("failures_share", "share", "%"),
            ("failed_gpu_hours", "GPU-hours", "num"),
            *RATES,
        ],
    ),
    Section(
        "Largest interrupted attempts (by GPU-hours; attributed cause)",
        lambda a: a.largest_failures,
        [
            ("job_id", "job", "text"),
            ("attempt", "#", "num"),
            ("name", "name", "text"),
            ("user", "user", "text"),
            ("n_gpus", "GPUs", "num"),
            ("gpu_hours", "GPU-hours", "num"),
            ("state", "state", "text"),
            ("category", "cause", "text"),
        ],
    ),
    Section(
        "Attribution coverage by window (seconds before, after the job end)",
        lambda a: a.attribution_windows,
        [
            ("before_s", "before", "num"),
            ("after_s", "after", "num"),
            ("interrupted", "interrupted", "num"),
            ("attributed_share", "attributed", "%"),
            ("node_fail", "NODE_FAIL", "num"),
            ("node_fail_attributed_share", "attributed", "%"),
        ],
    ),
    Section(
        "Measured MTTF by job size (wallclock runtime / infrastructure failures)",
        lambda a: a.mttf_by_size,
        [
            ("label", "GPUs ≤", "text"),
            ("jobs", "attempts", "num"),
            ("runtime_hours", "runtime h", "num"),
            ("failures", "failures", "num"),
            *MTTF_BAND,
        ],
    ),
    Section(
        "Projected MTTF at the measured r_f (nodes in series)",
        lambda a: a.mttf_projection,
        [("gpus", "GPUs", "num"), ("nodes", "nodes", "num"), *MTTF_BAND],
    ),
    Section(
        "Measured MTTF next to the projection at the bucket's size",
        lambda a: a.mttf_vs_projection,
        [
            ("label", "GPUs ≤", "text"),
            ("failures", "failures", "num"),
            ("mttf_hours", "measured", "h"),
            ("projected_mttf_hours", "projected", "h"),
            ("projected_mttf_lo_hours", "95% lo", "h"),
            ("projected_mttf_hi_hours", "95% hi", "h"),
        ],
    ),
    Section(
        "Expected ETTR at the measured r_f (assumed Δt_cp, u0, w_cp; no queue)",
        lambda a: a.ettr_projection,
        [
            ("gpus", "GPUs", "num"),
            ("ettr", "ETTR", "num"),
            ("ettr_lo", "95% lo", "num"),
            ("ettr_hi", "95% hi", "num"),
            ("ettr_exact", "exact", "num"),
        ],
    ),
    Section(
        "Measured ETTR of job runs (by run; every interruption / infrastructure only)",
        lambda a: a.run_ettr,
        [
            ("bucket", "GPUs ≤", "num"),
            ("runs", "runs", "num"),
            ("ettr_mean", "ETTR", "num"),
            ("ettr_median", "median", "num"),
            ("ettr_attributed_mean", "attributed", "num"),
            ("ettr_expected", "expected", "num"),
        ],
    ),
    Section(
        "Lost goodput by size of the failed job (GPU-hours)",
        lambda a: a.lost_goodput.by_bucket,
        GOODPUT_BUCKETS,
    ),
    Section(
        "Crash loops (jobs requeued after failures again and again; see gpurel goodput)",
        lambda a: a.lost_goodput.crash_loops,
        CRASH_LOOPS,
    ),
]

EVENT_SECTIONS = [
    Section(
        "Node failure episodes (failing records merged per node and category)",
        lambda a: a.episode_summary,
        [("scope", "scope", "text"), ("episodes", "episodes", "num"), *RATES],
    ),
    Section(
        "Episodes per category",
        lambda a: a.episodes_by_category,
        [
            ("category", "category", "text"),
            ("domain", "domain", "text"),
            ("episodes", "episodes", "num"),
            *RATES,
        ],
    ),
    Section(
        "Nodes with the most episodes",
        lambda a: _per_node(a.top_nodes),
        [
            ("rank", "#", "num"),
            ("node", "node", "text"),
            ("total", "episodes", "num"),
            ("categories", "by category", "text"),
        ],
    ),
]

LEMONS = Section(
    "Lemon nodes (flagged: a signal at its threshold; score: Σ signal / threshold)",
    lambda a: None if a.lemons is None else a.lemons.flagged,
    [
        ("rank", "#", "num"),
        ("node", "node", "text"),
        ("score", "score", "num"),
        ("signals", "at threshold", "text"),
        ("out_count", "outages", "num"),
        ("xid_cnt", "XIDs", "num"),
        ("multi_node_node_fails", "multi-node fails", "num"),
        ("single_node_node_fails", "single-node fails", "num"),
    ],
)

REJECTS = Section(
    "Rejected input rows",
    lambda a: a.rejects,
    [
        ("source", "file", "text"),
        ("field", "field", "text"),
        ("reason", "reason", "text"),
        ("rows", "rows", "num"),
    ],
)


def table(section: Section, result: Analysis) -> Table:
    """A rich table of one section; cells are plain text (no console markup from the data)."""
    out = Table(title=section.title, title_justify="left", title_style="bold")
    for _, header, kind in section.columns:
        out.add_column(header, justify="left" if kind == "text" else "right")
    data = section.rows(result)
    for row in data.to_pylist() if data is not None else []:
        out.add_row(*(Text(cell(row.get(key), kind)) for key, _, kind in section.columns))
    return out


def _headline(result: Analysis) -> None:
    o = result.overview
    console.print(
        f"[bold]{o['job_attempts']:,}[/] job attempts ({o['job_ids']:,} job ids), "
        f"[bold]{o['gpu_hours']:,.0f}[/] GPU-hours, [bold]{o['node_events']:,}[/] node events "
        f"({o['failing_node_events']:,} failing), [bold]{o['rejected_rows']:,}[/] rejected rows"
    )
    if result.node_days is not None:
        nd = result.node_days
        console.print(
            f"period {nd.period.start:%Y-%m-%d %H:%M} – {nd.period.end:%Y-%m-%d %H:%M} UTC, "
            f"{nd.node_days:,.0f} node-days ({nd.method})"
        )


def _node_failure_rate(result: Analysis) -> None:
    rf = result.node_failure_rate
    console.print(
        f"[bold]r_f[/] (jobs > {rf.min_gpus} GPUs): {rf.failures:,} failures in "
        f"{rf.node_days:,.1f} node-days = {cell(rf.per_1000_node_days)} per 1000 node-days "
        f"(95%: {cell(rf.lo_per_1000_node_days)} – {cell(rf.hi_per_1000_node_days)})"
    )


def _node_dispersion(result: Analysis) -> None:
    d = result.node_dispersion
    verdict = "one shared rate fits" if d.shared else "nodes do not share one rate"
    console.print(
        f"[bold]per-node failures[/]: {verdict} (dispersion index {cell(d.dispersion_index)}, "
        f"p = {cell(d.p_value)}; negative binomial shape {cell(d.nb_shape)}, "
        f"p = {cell(d.lr_p_value)}; {d.nodes:,} nodes)"
    )


def render(result: Analysis) -> None:
    """Print every section of an analysis that has data."""
    _headline(result)
    if result.overview["job_attempts"]:
        for section in JOB_SECTIONS:
            console.print(table(section, result))
        _node_failure_rate(result)
        _node_dispersion(result)
    else:
        console.print("no job accounting ingested: job metrics skipped")
    if result.episode_summary is not None:
        for section in EVENT_SECTIONS:
            console.print(table(section, result))
    if result.lemons is not None:
        console.print(table(LEMONS, result))
    if result.rejects.num_rows:
        console.print(table(REJECTS, result))
