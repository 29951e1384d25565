"""The rules of lost goodput and lemon detection in words, from the settings in force: one
wording for the sections and the methods."""

from __future__ import annotations

from gpurel.analysis import lemons
from gpurel.analysis.goodput import GoodputRules
from gpurel.formatting import number
from gpurel.models.lemon_rule import MAD_SCALE, MEAN_AD_SCALE, LemonRule


def first_order_loss(ckpt_s: float) -> str:
    """How an infrastructure failure loses goodput (``analysis.goodput``)."""
    return (
        "an attempt that ran and ended NODE_FAIL (unless its cause is in the user domain), or "
        "FAILED with a hardware or system-software cause, loses the work since its last "
        f"checkpoint, taken as min(runtime, Δt_cp / 2 = {number(ckpt_s / 120)} min) × its GPUs"
    )


def second_order_loss(rules: GoodputRules) -> str:
    """Which preemptions are charged to a failed job's requeue."""
    return (
        f"a PREEMPTED attempt that ended within {rules.tolerance_s} s of the start of a failed "
        "job's requeue, on one of the requeue's nodes, was preempted for it: it loses the same, "
        "charged to the failed job (to the closest requeue in time where several match)"
    )


def crash_loops(rules: GoodputRules) -> str:
    """Which jobs are crash loops."""
    return f"jobs requeued {rules.crash_loop_min} or more times after infrastructure failures"


def lemon_window(s: lemons.LemonSettings) -> str:
    """The rolling window of the signals and what merges their counts."""
    end = f"{s.as_of:%Y-%m-%d %H:%M} UTC" if s.as_of else "the end of the data"
    gap = f"{number(s.merge_gap_s / 60)} min"
    return (
        f"the {number(s.window_s / 86_400)} days up to {end}; a node's failing records less "
        f"than {gap} apart are one outage, and its failures of one kind (multi- or single-node) "
        f"ending less than {gap} apart one node failure; the single-node failure rate needs "
        f"{s.min_single_jobs} single-node attempts on the node"
    )


def lemon_floors() -> str:
    """Each signal's floor: the least threshold it can have."""
    return ", ".join(f"{s.name} {number(s.floor)}" for s in lemons.SIGNALS)


def lemon_threshold(rule: LemonRule) -> str:
    """How a signal's threshold is set from its values across a cluster's rated nodes."""
    if rule.method == "robust_z":
        how = (
            f"median + {number(rule.z)} × a robust scale (a modified z-score; the scale is "
            f"{MAD_SCALE:g} × the median absolute deviation, or {MEAN_AD_SCALE:g} × the mean "
            "absolute deviation where that is 0)"
        )
    else:
        how = f"the {number(rule.percentile * 100)}th percentile"
    return (
        f"{how} of its values across the rated nodes of one cluster (each cluster has its own), "
        "never below its floor"
    )


def lemon_flag(rule: LemonRule) -> str:
    """When a node is flagged, and how all are ranked."""
    least = (
        "one signal reaches its threshold"
        if rule.min_signals == 1
        else f"{rule.min_signals} signals reach their thresholds (all of them where fewer are "
        "available)"
    )
    return (
        f"a node is flagged when at least {least} (value ≥ threshold), and ranked by its score, "
        f"the sum over the available signals of min(value / threshold, {number(rule.cap)})"
    )
