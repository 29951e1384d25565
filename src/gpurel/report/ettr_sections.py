"""The ETTR sections: measured ETTR of job runs against the model (paper Fig. 9) and the
model's design space over checkpoint interval and job size (paper Fig. 10)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from matplotlib.figure import Figure

from gpurel.absent import Absent
from gpurel.analysis.metrics import NodeFailureRate
from gpurel.analysis.summary import Analysis, Settings, ettr_projection
from gpurel.formatting import cell, interval, number
from gpurel.models.ettr import ettr_renewal, failure_rate, young_daly
from gpurel.models.failure_model import projected_mttf_hours
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
DESIGN_MINUTES = (0.5, 1440.0)  # checkpoint intervals of the design space
DESIGN_POINTS = 160  # grid points per axis
DESIGN_TABLE_MINUTES = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0)


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
    rf, c = a.projection_rf, a.settings.checkpointing
    if isinstance(rf, Absent):
        reference = a.settings.reference_rf
        rate = reference / 1000
        rate_note = (
            f"the reference r_f = {number(reference)} per 1000 node-days (setting "
            f"ettr.reference_rf; the paper's RSC-1: 6.5): this cluster's r_f is not measurable "
            f"({rf.reason})"
        )
    else:
        rate = rf.per_node_day
        rate_note = f"the measured r_f = {number(rf.per_1000_node_days)} per 1000 node-days"
    write = c.write_s if c.write_s > 0 else a.settings.design_write_s
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
    if not a.run_ettr.num_rows and isinstance(a.projection_rf, Absent):
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
