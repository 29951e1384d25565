"""The key-findings box: the headline numbers of an analysis, each with how it was measured, or
"not measured" with the reason where the data cannot measure it."""

from __future__ import annotations

from gpurel.absent import Absent
from gpurel.analysis.summary import Analysis
from gpurel.formatting import cell, number, share
from gpurel.report.content import Finding
from gpurel.report.sections import rf_sentence

PAPER_MTTF = {16_384: "1.8 h", 131_072: "0.23 h"}  # paper, at RSC-1's r_f of 6.50
NOT_MEASURED = "not measured"


def _absent(label: str, missing: Absent) -> Finding:
    return Finding(label, NOT_MEASURED, f"{missing.reason[0].upper()}{missing.reason[1:]}.")


def _rf(a: Analysis) -> Finding | None:
    if not a.overview["job_attempts"]:
        return None
    value = NOT_MEASURED if isinstance(a.rf, Absent) else cell(a.rf.per_1000_node_days)
    return Finding("Node failure rate r_f, per 1000 node-days", value, rf_sentence(a))


def _infra_share(a: Analysis) -> Finding | None:
    f, label = a.infra_failures, "GPU time in attempts ended by infrastructure failures"
    if isinstance(f, Absent):
        return _absent(label, f) if a.overview["job_attempts"] else None
    if f["gpu_hours_share"] is None:
        return None
    return Finding(
        label,
        share(f["gpu_hours_share"]),
        f"{number(f['infra_gpu_hours'])} of {number(f['gpu_hours'])} GPU-hours, in "
        f"{f['infra_attempts']:,} of {f['attempts']:,} attempts ({share(f['attempt_share'])}); "
        "hardware, system software or unattributed NODE_FAIL. Paper: 0.2% of jobs, 18.7% of "
        "GPU time.",
    )


def _projections(a: Analysis) -> list[Finding]:
    projection = a.mttf_projection
    if isinstance(projection, Absent):
        if not a.overview["job_attempts"]:
            return []
        return [_absent("Projected MTTF of large jobs", projection)]
    rows = {r["gpus"]: r for r in projection.to_pylist()}
    sizes = [g for g in PAPER_MTTF if g in rows] or sorted(rows)[-2:]
    found = []
    for gpus in sizes:
        r = rows[gpus]
        if r["mttf_hours"] is None or r["mttf_hours"] != r["mttf_hours"]:
            continue
        found.append(
            Finding(
                f"Projected MTTF of a {gpus:,}-GPU job",
                cell(r["mttf_hours"], "h"),
                f"95%: {cell(r['mttf_lo_hours'], 'h')} – {cell(r['mttf_hi_hours'], 'h')}, "
                f"{r['nodes']:,} nodes in series at the measured r_f."
                + (f" Paper: {PAPER_MTTF[gpus]} at r_f 6.50." if gpus in PAPER_MTTF else ""),
            )
        )
    return found


def _episodes(a: Analysis) -> Finding:
    label = "Node failure episodes, per 1000 node-days"
    if isinstance(a.episode_summary, Absent):
        return _absent(label, a.episode_summary)
    rows = {r["scope"]: r for r in a.episode_summary.to_pylist()}
    all_, hw = rows["all"], rows["hardware"]
    return Finding(
        label,
        cell(all_["per_1000_node_days"]),
        f"95%: {cell(all_['lo_per_1000_node_days'])} – {cell(all_['hi_per_1000_node_days'])}; "
        f"{all_['episodes']:,} episodes in {number(all_['node_days'])} node-days; hardware "
        f"{cell(hw['per_1000_node_days'])} ({hw['episodes']:,} episodes).",
    )


def _coverage(a: Analysis) -> Finding | None:
    w, windows = a.settings.window, a.attribution_windows
    if isinstance(windows, Absent):
        return None
    rows = [
        r for r in windows.to_pylist() if (r["before_s"], r["after_s"]) == (w.before_s, w.after_s)
    ]
    if not rows or not rows[0]["interrupted"]:
        return None
    r = rows[0]
    return Finding(
        "Interrupted attempts attributed to a cause",
        cell(r["attributed_share"], "%"),
        f"{r['attributed']:,} of {r['interrupted']:,} FAILED or NODE_FAIL attempts have a "
        f"failing check in the window; NODE_FAIL: {cell(r['node_fail_attributed_share'], '%')} "
        f"of {r['node_fail']:,}.",
    )


def findings(a: Analysis) -> list[Finding]:
    """The headline numbers that the data supports, most important first."""
    found: list[Finding | None] = [
        _rf(a),
        _infra_share(a),
        *_projections(a),
        _episodes(a),
        _coverage(a),
    ]
    return [f for f in found if f is not None]
