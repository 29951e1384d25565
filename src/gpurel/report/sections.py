"""The report's sections, in order: each turns an ``Analysis`` into a ``Block`` (or None).

A section is one small function registered in ``SECTIONS``; a new analysis (ETTR, lost goodput,
lemon nodes) joins the report as one more function. Sections only select and label results:
every number comes from the analysis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from matplotlib.figure import Figure

from gpurel.analysis import lemons
from gpurel.analysis.summary import Analysis, Settings, ettr_projection
from gpurel.formatting import cell, interval, number
from gpurel.models.ettr import ettr_renewal, failure_rate, young_daly
from gpurel.models.failure_model import projected_mttf_hours
from gpurel.report import figures, methods
from gpurel.report.content import Block, Chart, Column, Detail, Table

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
RUN_ETTR = (
    Column("bucket", "GPUs ≤", "int"),
    Column("runs", "runs", "int"),
    Column("gpu_hours", "GPU-hours"),
    Column("counting", "counting", "text"),
    Column("interruptions", "interruptions", "int"),
    Column("mean", "mean"),
    Column("quartiles", "25th–75th pct."),
    Column("gpu_weighted", "GPU-weighted"),
)
# (column prefix in ``run_ettr``, which interruptions count, the column counting them)
RUN_ETTR_VARIANTS = (
    ("ettr", "every interruption", "interruptions"),
    ("ettr_attributed", "infrastructure only", "infra_interruptions"),
)
EXPECTED_ETTR = (
    Column("gpus", "GPUs", "int"),
    Column("ettr", "ETTR"),
    Column("ettr_lo", "95% lo"),
    Column("ettr_hi", "95% hi"),
    Column("ettr_exact", "exact form"),
    Column("linear_breaks", "linear form off by > 2%", "bool"),
)
PAPER_RF = 6.5  # failures per 1000 node-days: RSC-1, the paper's reference rate
ILLUSTRATIVE_WRITE_S = 30.0  # w_cp of the design space when the analysis assumes none
DESIGN_MINUTES = (0.5, 1440.0)  # checkpoint intervals of the design space
DESIGN_POINTS = 160  # grid points per axis
DESIGN_TABLE_MINUTES = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0)


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
        tables.append(_largest_failures(a.largest_failures))
    else:
        text += " No attempt ended FAILED or NODE_FAIL after running."
    tables.append(_coverage(a.attribution_windows))
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


# --- ETTR -------------------------------------------------------------------------------------


def _rf_measured(a: Analysis) -> bool:
    """r_f has at least one failure to measure it by (a zero rate projects nothing)."""
    return a.node_failure_rate.failures > 0


def _no_rf_reason(a: Analysis) -> str:
    rf = a.node_failure_rate
    if not rf.node_days:
        return f"no attempt of a job with more than {rf.min_gpus} GPUs ran"
    return (
        f"no failure in {number(rf.node_days)} node-days of jobs with more than {rf.min_gpus} GPUs"
    )


def _checkpointing(s: Settings) -> str:
    c = s.checkpointing
    return (
        f"Δt_cp = {number(c.ckpt_s / 60)} min, u0 = {number(c.restart_s / 60)} min, "
        f"w_cp = {number(c.write_s)} s"
    )


def _rounded(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ETTR rows with every fraction to 3 decimals: 0 rather than 6.35e-06 where runs stall."""
    return [
        {
            k: round(v, 3) if k.startswith("ettr") and isinstance(v, float) else v
            for k, v in r.items()
        }
        for r in rows
    ]


def _expected_curve(a: Analysis) -> pa.Table:
    """Expected ETTR at every power of two from half the smallest to twice the largest bucket."""
    buckets = a.run_ettr["bucket"].to_pylist()
    low, high = max(min(buckets) // 2, 1), max(buckets) * 2
    sizes = tuple(2**k for k in range(low.bit_length() - 1, high.bit_length()))
    return ettr_projection(a.node_failure_rate, sizes, a.settings)


def _run_ettr_rows(measured: pa.Table) -> list[dict[str, Any]]:
    """Two rows per bucket: every interruption counted, and infrastructure ones only."""
    rows = []
    for r in measured.to_pylist():
        for prefix, counting, count in RUN_ETTR_VARIANTS:
            rows.append(
                {k: r[k] for k in ("bucket", "runs", "gpu_hours", "ettr_expected")}
                | {
                    "counting": counting,
                    "interruptions": r[count],
                    "mean": r[f"{prefix}_mean"],
                    "quartiles": f"{cell(r[f'{prefix}_q25'])} – {cell(r[f'{prefix}_q75'])}",
                    "gpu_weighted": r[f"{prefix}_gpu_weighted"],
                }
            )
    return rows


def ettr_runs(a: Analysis) -> Block | None:
    """Paper Fig. 9: measured ETTR of job runs per size bucket against the expected ETTR."""
    measured, s = a.run_ettr, a.settings
    if not measured.num_rows:
        return None
    rules = s.run_rules
    selection = f"at least {number(rules.min_hours)} h of running time" + (
        f" and QoS {rules.qos}" if rules.qos else ""
    )
    expected = _expected_curve(a) if _rf_measured(a) else None
    label = f"r_f = {number(a.node_failure_rate.per_1000_node_days)} / 1000 node-days"
    caption = (
        f"Measured ETTR of job runs with {selection}, per size bucket of the run's largest "
        "attempt (log scale), each run weighing the same: marker = mean, bar = 25th to 75th "
        "percentile of the runs. Blue counts every interruption as a failure (the paper's "
        "lower bound), orange only those the infrastructure caused. ETTR is productive time "
        f"/ wallclock time (queue + running), a fraction; assumed {_checkpointing(s)}. "
    )
    caption += (
        "Line and band: the expected long-run ETTR at the bucket's size, (1 − λ(u0 + "
        f"Δt_cp/2)) / (1 + w_cp/Δt_cp), at {label} and its 95% interval, no queue time. "
        if expected is not None
        else "No expected ETTR: r_f is not measured. "
    ) + "Dotted: ETTR 0.9. Paper Fig. 9."
    chart = Chart(
        "fig9_ettr_by_size", caption, lambda: figures.ettr_by_size(measured, expected, label)
    )
    columns = RUN_ETTR + ((Column("ettr_expected", "expected"),) if expected is not None else ())
    tables = [
        Table(
            "Measured ETTR of job runs per size bucket (a fraction): mean and percentiles over "
            "the runs, and weighted by their GPU time",
            columns,
            _run_ettr_rows(measured),
        )
    ]
    if expected is not None:
        tables.append(
            Table(
                f"Expected long-run ETTR at {label} (assumed {_checkpointing(s)}, no queue "
                "time), with the exact renewal form",
                EXPECTED_ETTR,
                _rounded(a.ettr_projection.to_pylist()),
            )
        )
    text = (
        "A job run is one training task: the requeues of a job id, and resubmissions with the "
        f"same name, user and account submitted within {number(rules.gap_s / 60)} min of the "
        "previous end. Its wallclock time is eligible queue time plus running time; each "
        "interruption costs the restart overhead u0 and the work since the last checkpoint, "
        f"at the assumed {_checkpointing(s)}. Infrastructure "
        "interruptions are those with a hardware or system-software cause, unattributed "
        "NODE_FAILs, preemptions and requeues. Paper: measured and expected agree except for "
        "runs under 64 GPUs; runs over 1024 GPUs measured above 0.9."
    )
    rf = a.node_failure_rate
    rf_text = (
        "The expected ETTR is at r_f = "
        + interval(rf.per_1000_node_days, rf.lo_per_1000_node_days, rf.hi_per_1000_node_days)
        + " failures per 1000 node-days, measured as in the MTTF section."
        if _rf_measured(a)
        else f"r_f is not measured ({_no_rf_reason(a)}), so there is no expected ETTR."
    )
    return Block("ettr-runs", "ETTR of job runs", [text, rf_text], charts=[chart], tables=tables)


@dataclass(frozen=True)
class DesignSpace:
    """The expected-ETTR model of Fig. 10: one long run, no queue, exact renewal form."""

    rf: float  # failures per node-day
    rf_note: str
    restart_s: float
    write_s: float
    write_assumed: bool  # False: an illustrative w_cp, as the analysis assumes none
    gpus_per_node: int

    @property
    def write_note(self) -> str:
        """Where w_cp comes from, for the caption."""
        if self.write_assumed:
            return f"the assumed write time w_cp = {number(self.write_s)} s"
        return (
            f"an illustrative write time w_cp = {number(self.write_s)} s (the analysis assumes "
            "non-blocking writes, w_cp = 0, for which the optimal interval is 0)"
        )

    @property
    def write_label(self) -> str:
        """w_cp in the figure's legend."""
        return f"w_cp = {number(self.write_s)} s" + (
            "" if self.write_assumed else " (illustrative)"
        )

    def optimal_s(self, gpus: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The Young/Daly interval in seconds for jobs of ``gpus`` GPUs."""
        return young_daly(failure_rate(gpus, self.rf, self.gpus_per_node), self.write_s)

    def ettr(self, gpus: npt.ArrayLike, ckpt_s: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Expected long-run ETTR (exact renewal form), broadcast over sizes and intervals."""
        lam = failure_rate(gpus, self.rf, self.gpus_per_node)
        return ettr_renewal(lam, ckpt_s, self.restart_s, self.write_s)


def design_space(a: Analysis) -> DesignSpace:
    """The design space at the measured r_f (else the paper's) and the assumed write time
    (else an illustrative one): a zero w_cp puts the optimal interval at 0."""
    rf, c = a.node_failure_rate, a.settings.checkpointing
    if _rf_measured(a):
        rate = rf.per_node_day
        rate_note = f"the measured r_f = {number(rf.per_1000_node_days)} per 1000 node-days"
    else:
        rate = PAPER_RF / 1000
        rate_note = (
            f"r_f = {PAPER_RF} per 1000 node-days, the paper's RSC-1 rate: this cluster's r_f "
            f"is not measurable ({_no_rf_reason(a)})"
        )
    write = c.write_s if c.write_s > 0 else ILLUSTRATIVE_WRITE_S
    return DesignSpace(rate, rate_note, c.restart_s, write, c.write_s > 0, a.settings.gpus_per_node)


def _design_figure(space: DesignSpace, s: Settings) -> Figure:
    """Fig. 10 on a grid of intervals and whole-node job sizes, both spaced evenly in log."""
    minutes = np.geomspace(*DESIGN_MINUTES, DESIGN_POINTS)
    top = max((*s.projection_gpus, 16 * s.gpus_per_node)) / s.gpus_per_node
    gpus = np.unique(np.round(np.geomspace(1, top, DESIGN_POINTS))) * s.gpus_per_node  # whole nodes
    return figures.ettr_design_space(
        minutes,
        gpus,
        space.ettr(gpus[:, None], minutes[None, :] * 60),
        space.optimal_s(gpus) / 60,
        s.checkpointing.ckpt_s / 60,
        space.write_label,
    )


def _design_table(space: DesignSpace, s: Settings) -> Table:
    """ETTR at the projection sizes: at the Young/Daly interval and at fixed intervals."""
    gpus = np.asarray(s.projection_gpus, dtype=np.float64)
    assumed = s.checkpointing.ckpt_s / 60
    minutes = sorted({*DESIGN_TABLE_MINUTES, assumed})
    optimal = space.optimal_s(gpus)
    values = {
        "gpus": gpus,
        "mttf_hours": projected_mttf_hours(gpus, space.rf, s.gpus_per_node),
        "optimal_min": optimal / 60,
        "ettr_optimal": space.ettr(gpus, optimal),
    } | {f"ettr_{m:g}": space.ettr(gpus, m * 60) for m in minutes}
    rows = _rounded([{k: float(v[i]) for k, v in values.items()} for i in range(len(gpus))])
    at = [
        Column(f"ettr_{m:g}", f"{number(m)} min" + (" (assumed)" if m == assumed else ""))
        for m in minutes
    ]
    return Table(
        "Expected long-run ETTR (exact form, a fraction) at the projection sizes: MTTF, the "
        "Young/Daly interval and the ETTR there, and the ETTR at fixed checkpoint intervals",
        (
            Column("gpus", "GPUs", "int"),
            Column("mttf_hours", "MTTF", "h"),
            Column("optimal_min", "Young/Daly (min)"),
            Column("ettr_optimal", "ETTR there"),
            *at,
        ),
        rows,
    )


def ettr_design(a: Analysis) -> Block | None:
    """Paper Fig. 10: expected ETTR over checkpoint interval and job size, with ETTR 0.9."""
    if not (a.run_ettr.num_rows or _rf_measured(a)):
        return None
    s, space = a.settings, design_space(a)
    caption = (
        "Expected long-run ETTR of one training run (a model, so no weighting; a fraction of "
        "wallclock time) over the checkpoint interval Δt_cp (minutes, log scale) and the job "
        f"size (GPUs, log scale; {s.gpus_per_node} per node, nodes in series), at "
        f"{space.rf_note}, u0 = {number(space.restart_s / 60)} min, {space.write_note}, no "
        "queue time. Exact renewal form of gpurel's ETTR model (Poisson failures, rollback to "
        "the last checkpoint, no linearisation). Black: the ETTR 0.9 contour; red dashed: the "
        "Young/Daly optimal interval √(2 w_cp / λ) per size; white: the assumed interval. "
        "Paper Fig. 10."
    )
    chart = Chart("fig10_ettr_design_space", caption, lambda: _design_figure(space, s))
    text = (
        "What does a job of a given size need to spend at least 90% of its wallclock time "
        "training? Shorter checkpoint intervals lose less work per failure but pay the "
        "checkpoint write more often; the Young/Daly interval balances the two. Paper, at "
        "6.5 per 1000 node-days: a 16,000-GPU job reaches 0.7 with 60-min and 0.93 with 5-min "
        "checkpoints (u0 = 5 min, non-blocking writes)."
    )
    return Block(
        "ettr-design",
        "ETTR design space",
        [text],
        charts=[chart],
        tables=[_design_table(space, s)],
    )


# --- node episodes ----------------------------------------------------------------------------


def node_episodes(a: Analysis) -> Block | None:
    """Failure episodes per category with Poisson intervals, and the nodes with most episodes."""
    if a.episode_summary is None:
        return None
    text = (
        "An episode is a run of failing records of one node and failure category with gaps "
        f"under {number(a.settings.merge_gap_s / 60)} min: a node failing the 5-minute check for "
        "hours counts once, and so does one fault seen by overlapping checks of its category. "
        "Episodes are counted independently of jobs."
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


# --- lost goodput -----------------------------------------------------------------------------

GOODPUT_BUCKETS = (
    Column("label", "GPUs ≤", "text"),
    Column("failures", "failures", "int"),
    Column("first_order_gpu_hours", "1st order GPU-hours"),
    Column("preemptions", "preemptions", "int"),
    Column("preempted_gpus", "preempted GPUs", "int"),
    Column("second_order_gpu_hours", "2nd order GPU-hours"),
    Column("second_order_share", "2nd order share", "%"),
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


def lost_goodput(a: Analysis) -> Block | None:
    """Paper Fig. 8: GPU time lost to infrastructure failures, first and second order."""
    lost = a.lost_goodput
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
        f"Assuming checkpoints every {number(lost.ckpt_s / 60)} min, an attempt ended by an "
        f"infrastructure failure loses min(runtime, {half} min) × GPUs. When the failed job is "
        "requeued, a PREEMPTED attempt that ended within "
        f"{lost.rules.tolerance_s} s of the requeue's start on one of its nodes was preempted "
        "for it: its loss is second order, charged to the failed job.",
        f"{number(t['lost_gpu_hours'])} GPU-hours lost: {number(t['first_order_gpu_hours'])} "
        f"from {t['failures']:,} failures and {number(t['second_order_gpu_hours'])} from "
        f"{t['preemptions']:,} preemptions ({cell(t['second_order_share'], '%')} second "
        "order; paper: 16%).",
    ]
    tables = [
        Table.of("Lost goodput per size bucket of the failed job", GOODPUT_BUCKETS, lost.by_bucket)
    ]
    if lost.crash_loops.num_rows:
        tables.append(
            Table.of(
                f"Crash loops: jobs requeued {lost.rules.crash_loop_min} or more times after "
                "infrastructure failures, with the preemptions their requeues caused",
                CRASH_LOOPS,
                lost.crash_loops,
                collapsed=lost.crash_loops.num_rows > LONG_TABLE_ROWS,
            )
        )
    return Block("lost-goodput", "Lost goodput", text, charts=[chart], tables=tables)


# --- lemon nodes ------------------------------------------------------------------------------

LEMON_THRESHOLDS = (
    Column("signal", "signal", "text"),
    Column("meaning", "counts", "text"),
    Column("absent_reason", "absent because", "text"),
    Column("floor", "floor"),
    Column("threshold", "threshold"),
    Column("firing", "nodes at or above", "int"),
)
LEMON_EVIDENCE = (
    Column("node", "node", "text"),
    Column("signal", "signal", "text"),
    Column("time", "when (UTC)", "time"),
    Column("what", "what", "text"),
)


def _lemon_rule(found: lemons.Lemons) -> str:
    rule = found.settings.rule
    how = (
        f"median + {number(rule.z)} × a robust scale (modified z-score)"
        if rule.method == "robust_z"
        else f"the {number(rule.percentile * 100)}th percentile"
    )
    return (
        f"Each signal's threshold is {how} of its values across the nodes, never below its "
        f"floor; a node is flagged when at least {rule.min_signals} signal(s) reach their "
        "thresholds, and ranked by its score, the sum of value / threshold over the signals "
        f"(each term at most {number(rule.cap)})."
    )


def lemon_nodes(a: Analysis) -> Block | None:
    """Paper Fig. 11: the lemon signals across nodes with their thresholds; the flagged nodes
    with their evidence and what to do about them."""
    found = a.lemons
    if found is None or not found.nodes.num_rows:
        return None
    p, available = found.period, [n for n, why in found.available.items() if why is None]
    chart = Chart(
        "fig11_lemon_signals",
        "Per signal, the share of nodes with at most a given value (CDF across the "
        f"{found.nodes.num_rows:,} nodes, each node weighing the same, zoomed to the upper "
        "tail), the threshold (dashed) and the flagged nodes (red). Paper Fig. 11.",
        lambda: figures.lemon_signals(found.nodes, found.thresholds),
    )
    text = [
        "Lemon nodes fail jobs again and again yet pass the health checks and the repair flow. "
        f"Signals over {p.start:%Y-%m-%d %H:%M} – {p.end:%Y-%m-%d %H:%M} UTC: "
        f"{', '.join(available) or 'none'}; signals whose input is missing are absent, not 0.",
        _lemon_rule(found),
        f"{found.flagged.num_rows:,} of {found.nodes.num_rows:,} nodes flagged.",
    ]
    flagged = Table.of(
        "Flagged nodes, highest score first",
        (
            Column("rank", "#", "int"),
            Column("cluster", "cluster", "text"),
            Column("node", "node", "text"),
            Column("score", "score"),
            Column("signals", "signals at threshold", "text"),
            *(Column(n, n) for n in available),
        ),
        found.flagged,
    )
    evidence = lemons.evidence_rows(found)
    tables = [
        Table.of("Signal thresholds", LEMON_THRESHOLDS, found.thresholds),
        flagged,
        Table(
            "Evidence of the flagged nodes: outages, XID records, tickets, failed jobs and "
            "exclusions",
            LEMON_EVIDENCE,
            evidence,
            collapsed=len(evidence) > LONG_TABLE_ROWS,
        ),
    ]
    facts = [(f"Exclude ({c})", hosts) for c, hosts in lemons.exclude_lists(found).items()]
    drains = [c for commands in lemons.drain_commands(found).values() for c in commands]
    details = [Detail("Drain commands (review first; gpurel never runs them)", "\n".join(drains))]
    return Block(
        "lemon-nodes",
        "Lemon nodes",
        text,
        facts,
        charts=[chart],
        tables=tables,
        details=details if drains else (),
    )


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


def blocks(a: Analysis) -> list[Block]:
    """Every section that has something to show, in order."""
    return [b for b in (section(a) for section in SECTIONS) if b is not None]
