"""The key-findings box: the headline numbers of an analysis, each with how it was measured."""

from __future__ import annotations

from gpurel.analysis.summary import Analysis
from gpurel.formatting import cell, number, share
from gpurel.report.content import Finding
from gpurel.report.sections import rf_sentence

PAPER_MTTF = {16_384: "1.8 h", 131_072: "0.23 h"}  # paper, at RSC-1's r_f of 6.50


def _rf(a: Analysis) -> Finding:
    rf = a.node_failure_rate
    value = cell(rf.per_1000_node_days) if rf.node_days else "not measured"
    return Finding("Node failure rate r_f, per 1000 node-days", value, rf_sentence(a))


def _infra_share(a: Analysis) -> Finding | None:
    f = a.infra_failures
    if f["gpu_hours_share"] is None:
        return None
    return Finding(
        "GPU time in attempts ended by infrastructure failures",
        share(f["gpu_hours_share"]),
        f"{number(f['infra_gpu_hours'])} of {number(f['gpu_hours'])} GPU-hours, in "
        f"{f['infra_attempts']:,} of {f['attempts']:,} attempts ({share(f['attempt_share'])}); "
        "hardware, system software or unattributed NODE_FAIL. Paper: 0.2% of jobs, 18.7% of "
        "GPU time.",
    )


def _projections(a: Analysis) -> list[Finding]:
    rows = {r["gpus"]: r for r in a.mttf_projection.to_pylist()}
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


def _episodes(a: Analysis) -> Finding | None:
    if a.episode_summary is None:
        return None
    rows = {r["scope"]: r for r in a.episode_summary.to_pylist()}
    all_, hw = rows["all"], rows["hardware"]
    return Finding(
        "Node failure episodes, per 1000 node-days",
        cell(all_["per_1000_node_days"]),
        f"95%: {cell(all_['lo_per_1000_node_days'])} – {cell(all_['hi_per_1000_node_days'])}; "
        f"{all_['episodes']:,} episodes in {number(all_['node_days'])} node-days; hardware "
        f"{cell(hw['per_1000_node_days'])} ({hw['episodes']:,} episodes).",
    )


def _coverage(a: Analysis) -> Finding | None:
    w = a.settings.window
    rows = [
        r
        for r in a.attribution_windows.to_pylist()
        if (r["before_s"], r["after_s"]) == (w.before_s, w.after_s)
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
