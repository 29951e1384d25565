"""The ETTR sections: measured ETTR of job runs against the model (paper Fig. 9) and the
model's design space over checkpoint interval and job size (paper Fig. 10)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from matplotlib.figure import Figure

from gpurel.absent import Absent
from gpurel.analysis.design import ASSUMED_WRITE, Design
from gpurel.analysis.metrics import NodeFailureRate
from gpurel.analysis.summary import Analysis, Settings, ettr_projection
from gpurel.formatting import cell, interval, number
from gpurel.report import figures
from gpurel.report.columns import EXPECTED_ETTR
from gpurel.report.content import Block, Chart, Column, Table

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
    ("ettr_infra", "infrastructure only", "infra_interruptions"),
    ("ettr_scheduler", "preemptions and requeues only", "scheduler_interruptions"),
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


def _expected_curve(a: Analysis, rate: NodeFailureRate) -> pa.Table:
    """Expected ETTR at every power of two from half the smallest to twice the largest bucket."""
    buckets = a.run_ettr["bucket"].to_pylist()
    low, high = max(min(buckets) // 2, 1), max(buckets) * 2
    sizes = tuple(2**k for k in range(low.bit_length() - 1, high.bit_length()))
    return ettr_projection(rate, sizes, a.settings)


def _run_ettr_rows(measured: pa.Table) -> list[dict[str, Any]]:
    """A row per bucket and variant: every interruption counted, infrastructure ones only, and
    preemptions and requeues only (a variant without values, e.g. without causes, is left
    out)."""
    rows = []
    for r in measured.to_pylist():
        for prefix, counting, count in RUN_ETTR_VARIANTS:
            if r[f"{prefix}_mean"] is None:
                continue
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
    basis = a.projection_rf
    expected = None if isinstance(basis, Absent) else _expected_curve(a, basis)
    label = (
        ""
        if isinstance(basis, Absent)
        else f"r_f = {number(basis.per_1000_node_days)} / 1000 node-days"
    )
    infra = (
        "orange only those the infrastructure caused"
        if isinstance(a.infra_failures, dict)
        else f"no infrastructure-only series ({a.infra_failures.reason})"
    )
    caption = (
        f"Measured ETTR of job runs with {selection}, per size bucket of the run's largest "
        "attempt (log scale; the number of runs on the top axis), each run weighing the same: "
        "marker = mean, bar = 25th to 75th percentile of the runs. Blue counts every "
        f"interruption as a failure (the paper's lower bound), {infra}, green only preemptions "
        "and requeues (the scheduler took the nodes). ETTR is productive time / wallclock time "
        f"(queue + running), a fraction; assumed {_checkpointing(s)}. "
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
    if not isinstance(a.ettr_projection, Absent):
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
        "interruptions are those with a hardware or system-software cause and unattributed "
        "NODE_FAILs; preemptions and requeues are counted apart. Paper: measured and expected "
        "agree except for runs under 64 GPUs; runs over 1024 GPUs measured above 0.9."
    )
    rf_text = (
        f"There is no expected ETTR: {basis.reason}."
        if isinstance(basis, Absent)
        else "The expected ETTR is at r_f = "
        + interval(
            basis.per_1000_node_days, basis.lo_per_1000_node_days, basis.hi_per_1000_node_days
        )
        + " failures per 1000 node-days, measured as in the MTTF section."
    )
    return Block("ettr-runs", "ETTR of job runs", [text, rf_text], charts=[chart], tables=tables)


def _rf_note(d: Design) -> str:
    """Which r_f the design space is at, for the caption."""
    rf = number(d.rf_per_1000_node_days)
    if isinstance(d.measured_rf, Absent):
        return (
            f"the reference r_f = {rf} per 1000 node-days (setting {d.rf_source}; the paper's "
            f"RSC-1: 6.5): this cluster's r_f is not measurable ({d.measured_rf.reason})"
        )
    return f"the measured r_f = {rf} per 1000 node-days"


def _write_note(d: Design) -> str:
    """Where w_cp comes from, for the caption."""
    write = number(d.space.write_s)
    if d.write_source == ASSUMED_WRITE:
        return f"the assumed write time w_cp = {write} s"
    return (
        f"an illustrative write time w_cp = {write} s (setting {d.write_source}; the analysis "
        "assumes non-blocking writes, w_cp = 0, for which the optimal interval is 0)"
    )


def _write_label(d: Design) -> str:
    """w_cp in the figure's legend."""
    illustrative = "" if d.write_source == ASSUMED_WRITE else " (illustrative)"
    return f"w_cp = {number(d.space.write_s)} s{illustrative}"


def _design_figure(d: Design) -> Figure:
    """Fig. 10 on the analysis' grid of intervals and whole-node job sizes."""
    space = d.space
    return figures.ettr_design_space(
        space.intervals_min,
        space.gpus,
        space.ettr,
        space.young_daly_min,
        d.assumed_ckpt_s / 60,
        _write_label(d),
    )


def _design_table(d: Design) -> Table:
    """ETTR at the projection sizes: at the Young/Daly interval and at fixed intervals."""
    space, assumed = d.space, d.assumed_ckpt_s / 60
    rows = _rounded(
        [
            {
                "gpus": row.gpus,
                "mttf_hours": row.mttf_hours,
                "optimal_min": row.young_daly_min,
                "ettr_optimal": row.ettr_young_daly,
            }
            | {f"ettr_{m:g}": v for m, v in zip(space.table_minutes, row.ettr_at, strict=True)}
            for row in space.table
        ]
    )
    at = [
        Column(f"ettr_{m:g}", f"{number(m)} min" + (" (assumed)" if m == assumed else ""))
        for m in space.table_minutes
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
    d = a.ettr_design
    if isinstance(d, Absent):
        return None
    caption = (
        "Expected long-run ETTR of one training run (a model, so no weighting; a fraction of "
        "wallclock time) over the checkpoint interval Δt_cp (minutes, log scale) and the job "
        f"size (GPUs, log scale; {d.space.gpus_per_node} per node, nodes in series), at "
        f"{_rf_note(d)}, u0 = {number(d.space.restart_s / 60)} min, {_write_note(d)}, no "
        "queue time. Exact renewal form of gpurel's ETTR model (Poisson failures, rollback to "
        "the last checkpoint, no linearisation). Black: the ETTR 0.9 contour; red dashed: the "
        "Young/Daly optimal interval √(2 w_cp / λ) per size; white: the assumed interval. "
        "Paper Fig. 10."
    )
    chart = Chart("fig10_ettr_design_space", caption, lambda: _design_figure(d))
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
        tables=[_design_table(d)],
    )
