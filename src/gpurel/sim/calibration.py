"""The paper's headline figures, measured by gpurel's analysis of a (simulated) warehouse.

``headline`` reads only what gpurel's analysis produces (``analyze``'s tables and the derived
``failures`` table), never the simulator's truth, so the calibration table shows what an
operator running gpurel on such a cluster would see. ``PAPER`` holds the calibration figures:
the paper's values, the parameters tuned to reproduce each, and the tolerances the presets are
held to (docs/simulator.md; the validation figures are in ``validation``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from gpurel.analysis import metrics
from gpurel.analysis.summary import Analysis
from gpurel.warehouse import Warehouse


@dataclass(frozen=True)
class Target:
    """A paper figure and how far a preset may be from it.

    ``bound`` is ``within`` (± tolerance, absolute or ``relative``), ``above`` (the paper
    gives a lower bound: at least the value less the tolerance) or ``factor`` (within a
    factor ``tolerance`` either way, for figures whose scale is what matters). ``tuned`` names
    the parameters tuned to reproduce the figure (empty: nothing was).
    """

    rsc1: float | None
    rsc2: float | None
    tolerance: float
    label: str
    relative: bool = False
    tuned: str = ""
    bound: str = "within"

    def allows(self, cluster: str, value: float) -> bool:
        """True when ``value`` is within tolerance of the paper (or the paper has no value)."""
        paper = getattr(self, cluster, None)
        if paper is None:
            return True
        if self.bound == "above":
            return value >= paper - self.tolerance
        if self.bound == "factor":
            return paper / self.tolerance <= value <= paper * self.tolerance
        slack = self.tolerance * paper if self.relative else self.tolerance
        return abs(value - paper) <= slack

    def describe(self) -> str:
        """The tolerance as people read it: ``±0.05``, ``±20%``, ``≥ -0``, ``×/÷ 2``."""
        if self.bound == "above":
            return f"at least paper - {self.tolerance:g}" if self.tolerance else "at least paper"
        if self.bound == "factor":
            return f"×/÷ {self.tolerance:g}"
        return f"±{self.tolerance:.0%}" if self.relative else f"±{self.tolerance:g}"


PAPER: dict[str, Target] = {
    "completed_share": Target(
        0.60, None, 0.05, "COMPLETED, share of job attempts", tuned="p_user_fail, p_cancel"
    ),
    "failed_share": Target(0.24, None, 0.04, "FAILED, share of job attempts", tuned="p_user_fail"),
    "preempted_share": Target(
        0.10, None, 0.04, "PREEMPTED, share of job attempts", tuned="single_qos, run_low_share"
    ),
    "requeued_share": Target(
        0.02, None, 0.01, "REQUEUED, share of job attempts", tuned="run_time_limit"
    ),
    "timeout_share": Target(
        0.006, None, 0.003, "TIMEOUT, share of job attempts", tuned="p_timeout (paper value)"
    ),
    "node_fail_share": Target(
        0.001, None, 0.0007, "NODE_FAIL, share of job attempts", tuned="faults (p_app_crash)"
    ),
    "oom_share": Target(
        0.001, None, 0.0007, "OUT_OF_MEMORY, share of job attempts", tuned="p_oom (paper value)"
    ),
    "hw_failure_share": Target(
        0.002, None, 0.001, "infrastructure failures, share of attempts", tuned="faults"
    ),
    "hw_failure_gpu_share": Target(
        0.187,
        None,
        0.05,
        "infrastructure failures, share of GPU time",
        tuned="large_run_time_limit",
    ),
    "one_gpu_share": Target(
        0.40, None, 0.06, "1-GPU jobs, share of attempts (paper: >40%)", tuned="single_sizes"
    ),
    "sub_node_share": Target(
        0.90, None, 0.05, "jobs below one node, share of attempts (>90%)", tuned="single_sizes"
    ),
    "sub_node_gpu_share": Target(
        0.10,
        None,
        0.04,
        "jobs below one node, share of GPU time",
        tuned="single_duration_median, single_duration_sigma",
    ),
    "large_gpu_share": Target(
        0.66, 0.52, 0.07, "256+ GPU jobs, share of GPU time", tuned="runs (starts, work)"
    ),
    "xl_gpu_share": Target(
        0.12, None, 0.06, "4k-GPU jobs (2049-4096), share of GPU time", tuned="runs"
    ),
    "rf": Target(
        6.50,
        2.34,
        0.2,
        "r_f per 1000 node-days (jobs > 128 GPUs)",
        relative=True,
        tuned="faults (rates), fault scale of rsc2",
    ),
    "utilization": Target(
        0.83,
        0.85,
        0.07,
        "GPU utilization (GPU-hours / capacity)",
        tuned="runs (starts per day), jobs_per_day",
    ),
    "large_failure_share_no_lemons": Target(
        0.04,
        0.04,
        0.03,
        "512+ GPU attempts ended by infrastructure failures, lemons removed",
        tuned="lemon_rate_multiplier",
    ),
    "largest_causes": Target(
        4,
        4,
        0,
        "of IB link, mount, GPU memory, PCIe: how many are the 4 largest causes measured",
        tuned="faults (rates per category)",
    ),
}


def _share(table: pa.Table, key: str, values: tuple[object, ...], column: str) -> float:
    mask = pc.is_in(table[key], pa.array(values, table[key].type))
    return float(pc.sum(table[column].filter(mask)).as_py() or 0.0)


def headline(result: Analysis, warehouse: Warehouse) -> dict[str, float]:
    """Every figure of ``PAPER`` as gpurel measures it on ``warehouse`` (after ``analyze``)."""
    states, sizes = result.job_states, result.job_sizes
    out = {
        f"{name}_share": _share(states, "state", (state,), "jobs_share")
        for name, state in (
            ("completed", "COMPLETED"),
            ("failed", "FAILED"),
            ("preempted", "PREEMPTED"),
            ("requeued", "REQUEUED"),
            ("timeout", "TIMEOUT"),
            ("node_fail", "NODE_FAIL"),
            ("oom", "OUT_OF_MEMORY"),
        )
    }
    out["one_gpu_share"] = _share(sizes, "bucket", (1,), "jobs_share")
    out["sub_node_share"] = _share(sizes, "bucket", (1, 2, 4), "jobs_share")
    out["sub_node_gpu_share"] = _share(sizes, "bucket", (1, 2, 4), "gpu_hours_share")
    large = tuple(2**k for k in range(8, 31))
    out["large_gpu_share"] = _share(sizes, "bucket", large, "gpu_hours_share")
    out["xl_gpu_share"] = _share(sizes, "bucket", (4096,), "gpu_hours_share")
    out.update(_infrastructure(result, warehouse))
    out["rf"] = result.node_failure_rate.per_1000_node_days
    capacity = (result.node_days.node_days if result.node_days else 0.0) * 24
    capacity *= result.settings.gpus_per_node
    out["utilization"] = result.overview["gpu_hours"] / capacity if capacity else float("nan")
    return out


def _infrastructure(result: Analysis, warehouse: Warehouse) -> dict[str, float]:
    """Share of attempts and of GPU time ended by an infrastructure failure."""
    failures = warehouse.derived("failures")  # made by analyze
    infra = failures.filter(metrics.is_infra_failure(failures))
    agg = infra.aggregate(n=infra.count(), gpu_hours=metrics.gpu_hours(infra).sum())
    row = agg.to_pyarrow().to_pylist()[0]
    attempts = result.overview["job_attempts"] or 1
    gpu_hours = result.overview["gpu_hours"] or 1.0
    return {
        "hw_failure_share": float(row["n"]) / attempts,
        "hw_failure_gpu_share": float(row["gpu_hours"] or 0.0) / gpu_hours,
    }
