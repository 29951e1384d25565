"""The paper's figures against a simulation, split by whether a parameter was tuned to them.

*Calibration* figures (``calibration.PAPER``) each name the parameters tuned to reproduce
them; matching them shows the tuning held. *Validation* figures (``VALIDATION``) had nothing
tuned to them: matching them is evidence the model is right. Every figure is measured by
gpurel's own analysis of the simulated warehouse; only the lemon accuracy needs the truth
(the paper's follow-up test). A figure that cannot be measured (no run that large at this
scale, no crash loop, no lemon flagged) is ``Absent`` with the reason and never passes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa

from gpurel.absent import Absent
from gpurel.analysis.attribution import AttributionWindow, attribute
from gpurel.analysis.summary import Analysis, Settings, analyze, attributed_failures
from gpurel.sim.calibration import PAPER, Target, headline
from gpurel.sim.config import SimConfig, with_overrides
from gpurel.sim.run import SimResult, simulate
from gpurel.sim.whatif import (
    LARGE_GPUS,
    checkpointing,
    ettr_measured,
    large_failure_share,
    stored,
    twin,
)
from gpurel.warehouse import Warehouse

LARGEST_CAUSES = ("ib_link", "filesystem_mount", "gpu_memory", "pcie")  # paper §2
XL_RUN_GPUS = 1024  # paper §5: runs above 1024 GPUs measured above 0.9
NO_LEMONS = {"lemon_rate_multiplier": "1"}

Measured = float | Absent

VALIDATION: dict[str, Target] = {
    "large_failure_share": Target(
        0.14, 0.14, 0.05, f"{LARGE_GPUS}+ GPU attempts ended by infrastructure failures"
    ),
    "xl_run_ettr": Target(
        0.90,
        0.90,
        0.0,
        f"run ETTR, runs > {XL_RUN_GPUS} GPUs, >= 24 h (paper: > 0.9)",
        bound="above",
    ),
    "second_order_share": Target(
        0.16, 0.16, 0.06, "second-order preemptions, share of lost goodput"
    ),
    "crash_loop_requeues": Target(
        35, 35, 2.0, "worst crash loop: requeues after infrastructure failures", bound="factor"
    ),
    "crash_loop_preemptions": Target(
        548, 548, 3.0, "worst crash loop: preemptions its requeues caused", bound="factor"
    ),
    "mttf_8_gpu_days": Target(47.7, None, 2.0, "MTTF of 8-GPU jobs, days", bound="factor"),
    "mttf_1024_gpu_hours": Target(7.9, None, 2.0, "MTTF of 1024-GPU jobs, hours", bound="factor"),
    "lemon_share": Target(
        0.012, 0.016, 2.0, "lemon nodes flagged, share of nodes (paper: 24 / 16)", bound="factor"
    ),
    "lemon_accuracy": Target(
        0.85, 0.85, 0.0, "flagged lemons that are lemons (paper: > 85%)", bound="above"
    ),
}


@dataclass(frozen=True)
class Row:
    """One figure of the validation table."""

    key: str
    table: str  # "calibration" or "validation"
    label: str
    tuned: str  # parameters tuned to the figure ("" for a validation figure)
    paper: float | None
    simulated: Measured
    tolerance: str
    passed: bool | None  # None: not judged (absent measurement or no paper value)
    note: str  # why it was not judged

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: an absent measurement is null with its reason."""
        value = self.simulated
        return {
            "key": self.key,
            "table": self.table,
            "figure": self.label,
            "tuned": self.tuned or None,
            "paper": self.paper,
            "simulated": None if isinstance(value, Absent) else value,
            "absent": value.reason if isinstance(value, Absent) else None,
            "tolerance": self.tolerance,
            "pass": self.passed,
            "note": self.note or None,
        }


def judged(key: str, table: str, target: Target, cluster: str, value: Measured) -> Row:
    """The row of ``key``: passed only when measured, with a paper value, within tolerance."""
    paper = getattr(target, cluster, None)
    note, passed = "", None
    if isinstance(value, Absent):
        note = f"not measured: {value.reason}"
    elif paper is None:
        note = f"the paper gives no {cluster.upper()} value"
    elif math.isnan(value):
        value = Absent("no input to measure it")
        note = f"not measured: {value.reason}"
    else:
        passed = target.allows(cluster, value)
    return Row(
        key, table, target.label, target.tuned, paper, value, target.describe(), passed, note
    )


# --- the validation figures, as gpurel's analysis measures them ------------------------------


def _second_order_share(analysis: Analysis) -> Measured:
    lost = analysis.lost_goodput
    if isinstance(lost, Absent):
        return lost
    share = lost.totals.get("second_order_share")
    return Absent("no infrastructure failure lost goodput") if share is None else float(share)


def _crash_loop(analysis: Analysis) -> dict[str, Measured]:
    lost = analysis.lost_goodput
    if isinstance(lost, Absent):
        return {"crash_loop_requeues": lost, "crash_loop_preemptions": lost}
    loops = lost.crash_loops
    if loops.num_rows == 0:
        none = Absent(f"no job requeued {lost.rules.crash_loop_min}+ times after failures")
        return {"crash_loop_requeues": none, "crash_loop_preemptions": none}
    return {
        "crash_loop_requeues": float(max(loops["requeues"].to_pylist())),
        "crash_loop_preemptions": float(max(loops["preemptions"].to_pylist())),
    }


def _mttf(analysis: Analysis, bucket: int, unit_hours: float) -> Measured:
    table = analysis.mttf_by_size
    if isinstance(table, Absent):
        return table
    for row in table.to_pylist():
        if row["bucket"] == bucket:
            if row["mttf_hours"] is None:
                return Absent(f"no infrastructure failure of a {bucket}-GPU job")
            return float(row["mttf_hours"]) / unit_hours
    return Absent(f"no {bucket}-GPU job ran")


def _lemons(analysis: Analysis, truth_nodes: pa.Table) -> dict[str, Measured]:
    found = analysis.lemons
    if found is None:
        none = Absent("the lemon analysis had no input")
        return {"lemon_share": none, "lemon_accuracy": none}
    nodes = found.nodes.filter(found.nodes["flagged"]).column("node").to_pylist()
    lemons = {
        n
        for n, lemon in zip(
            truth_nodes["node"].to_pylist(), truth_nodes["lemon"].to_pylist(), strict=True
        )
        if lemon
    }
    share = len(nodes) / truth_nodes.num_rows
    if not nodes:
        return {"lemon_share": share, "lemon_accuracy": Absent("no node flagged")}
    return {"lemon_share": share, "lemon_accuracy": sum(n in lemons for n in nodes) / len(nodes)}


def largest_causes(analysis: Analysis, n: int = len(LARGEST_CAUSES)) -> list[str]:
    """The ``n`` infrastructure categories that interrupted the most attempts."""
    rows = analysis.failures_by_category.to_pylist()
    infra = [r for r in rows if r["domain"] in ("hardware", "system_software")]
    infra.sort(key=lambda r: (-r["failures"], r["category"]))
    return [r["category"] for r in infra[:n]]


def measure(
    result: SimResult, analysis: Analysis, warehouse: Warehouse, no_lemons: Measured
) -> dict[str, Measured]:
    """Every validation and calibration figure measured on ``warehouse`` (after ``analyze``)."""
    failures = warehouse.derived("failures")
    jobs: ir.Table = warehouse.jobs()
    out: dict[str, Measured] = dict(headline(analysis, warehouse))
    largest = result.config.max_job_gpus
    out["large_failure_share"] = _ran_or_absent(
        large_failure_share(jobs, failures), f"no job of {LARGE_GPUS}+ GPUs ran"
    )
    out["large_failure_share_no_lemons"] = no_lemons
    out["largest_causes"] = float(len(set(largest_causes(analysis)) & set(LARGEST_CAUSES)))
    if largest <= XL_RUN_GPUS:
        out["xl_run_ettr"] = Absent(f"the largest job at this scale has {largest} GPUs")
    else:
        out["xl_run_ettr"] = _ran_or_absent(
            ettr_measured(
                warehouse, failures, checkpointing(result.config), min_gpus=XL_RUN_GPUS + 1
            ),
            f"no run of more than {XL_RUN_GPUS} GPUs lasted 24 h",
        )
    out["second_order_share"] = _second_order_share(analysis)
    out |= _crash_loop(analysis)
    out["mttf_8_gpu_days"] = _mttf(analysis, 8, 24.0)
    out["mttf_1024_gpu_hours"] = _mttf(analysis, 1024, 1.0)
    out |= _lemons(analysis, result.truth["truth_nodes"])
    return out


def _ran_or_absent(value: float | None, reason: str) -> Measured:
    return Absent(reason) if value is None else value


def table(cluster: str, measured: Mapping[str, Measured]) -> list[Row]:
    """Both tables, calibration first, every figure judged against the paper."""
    rows = [judged(k, "calibration", t, cluster, measured[k]) for k, t in PAPER.items()]
    rows += [judged(k, "validation", t, cluster, measured[k]) for k, t in VALIDATION.items()]
    return rows


@dataclass
class Validation:
    """A simulation, gpurel's analysis of it and both tables of paper figures."""

    result: SimResult
    analysis: Analysis
    rows: list[Row]
    recovery: list[Recovery]


def validate(
    config: SimConfig,
    seed: int,
    warehouse: Warehouse,
    days_done: Callable[[float], None] | None = None,
) -> Validation:
    """Simulate ``config`` into ``warehouse`` and its lemon-free twin (same seed and window)
    in memory, and judge every figure. ``days_done``: the progress of the first simulation."""
    result = simulate(config, seed, days_done=days_done)
    result.store(warehouse)
    analysis = analyze(warehouse)
    with stored(twin(result, with_overrides(config, NO_LEMONS))) as lemon_free:
        no_lemons = _ran_or_absent(
            large_failure_share(lemon_free.jobs(), attributed_failures(lemon_free, Settings())),
            f"no job of {LARGE_GPUS}+ GPUs ran",
        )
    rows = table(config.cluster, measure(result, analysis, warehouse, no_lemons))
    return Validation(result, analysis, rows, recovery(result, warehouse))


# --- attribution against the truth -----------------------------------------------------------

CHECK_CAUSES = ("fault", "false_positive")  # true causes a health check can reveal
WINDOWS = (AttributionWindow(300, 120), AttributionWindow(600, 300), AttributionWindow(1200, 600))


@dataclass(frozen=True)
class Recovery:
    """How well gpurel's attribution in one window finds the causes the simulator knows."""

    window: AttributionWindow
    interrupted: int  # FAILED and NODE_FAIL attempts
    attributed: int  # of them, with a high-severity candidate
    caused: int  # of them, truly ended by a fault or false positive a check could reveal
    precision: float | None  # attributed with the true category / attributed
    recall: float | None  # attributed with the true category / caused

    def to_json(self) -> dict[str, Any]:
        """Plain JSON."""
        return {
            "before_s": self.window.before_s,
            "after_s": self.window.after_s,
            "interrupted": self.interrupted,
            "attributed": self.attributed,
            "caused": self.caused,
            "precision": self.precision,
            "recall": self.recall,
        }


def recovery(
    result: SimResult, warehouse: Warehouse, windows: tuple[AttributionWindow, ...] = WINDOWS
) -> list[Recovery]:
    """Attribution precision and recall against the truth, per window."""
    jobs = warehouse.jobs()
    events = warehouse.table("node_events")
    priorities = Settings().taxonomy().priorities()
    truth = result.truth["truth_jobs"].select(
        ["job_id", "start_time", "end_time", "cause", "category"]
    )
    truth = truth.rename_columns(["job_id", "start_time", "end_time", "true_cause", "true_cat"])
    out = []
    for window in windows:
        found = attribute(jobs, events, priorities, window).to_pyarrow()
        rows = found.join(truth, ["job_id", "start_time", "end_time"]).to_pylist()
        predicted = [r for r in rows if r["attributed"] and r["severity"] == "high"]
        caused = [r for r in rows if r["true_cause"] in CHECK_CAUSES]
        hits = sum(
            r["true_cause"] in CHECK_CAUSES and r["category"] == r["true_cat"] for r in predicted
        )
        out.append(
            Recovery(
                window,
                len(rows),
                len(predicted),
                len(caused),
                hits / len(predicted) if predicted else None,
                hits / len(caused) if caused else None,
            )
        )
    return out
