"""The lemon-node sections: the detection (paper Fig. 11) and, when one was run, its backtest."""

from __future__ import annotations

from typing import Any

from gpurel.analysis import lemons
from gpurel.analysis.summary import Analysis
from gpurel.formatting import cell
from gpurel.report import figures, rules
from gpurel.report.content import Block, Chart, Column, Detail, Table

THRESHOLDS = (
    Column("cluster", "cluster", "text"),
    Column("signal", "signal", "text"),
    Column("meaning", "counts", "text"),
    Column("absent_reason", "absent because", "text"),
    Column("floor", "floor"),
    Column("threshold", "threshold"),
    Column("firing", "nodes at or above", "int"),
)
EVIDENCE = (
    Column("node", "node", "text"),
    Column("signal", "signal", "text"),
    Column("time", "when (UTC)", "time"),
    Column("what", "what", "text"),
)
GROUP_RATES = (
    Column("group", "group", "text"),
    Column("nodes", "nodes", "int"),
    Column("node_days", "node-days"),
    Column("outages", "outages", "int"),
    Column("outages_per_1000_node_days", "per 1000 node-days"),
    Column("outages_lo", "95% lo"),
    Column("outages_hi", "95% hi"),
    Column("node_failures", "node failures", "int"),
    Column("node_failures_per_1000_node_days", "per 1000 node-days"),
    Column("node_failures_lo", "95% lo"),
    Column("node_failures_hi", "95% hi"),
)
LARGE_JOBS = (
    Column("which", "large attempts", "text"),
    Column("attempts", "attempts", "int"),
    Column("failures", "infrastructure failures", "int"),
    Column("share", "failure share", "%"),
)
PRECISION_RECALL = (
    Column("against", "flags against", "text"),
    Column("flagged", "flagged", "int"),
    Column("actual", "actual", "int"),
    Column("true_positives", "both", "int"),
    Column("precision", "precision", "%"),
    Column("recall", "recall", "%"),
)
PAPER_LARGE_JOBS = "Paper: failures of 512+-GPU jobs fell from 14% to 4% once lemons were removed."


def lemon_nodes(a: Analysis) -> Block | None:
    """Paper Fig. 11: the lemon signals across nodes with their thresholds; the flagged nodes
    with their evidence and what to do about them."""
    found = a.lemons
    if found is None or not found.nodes.num_rows:
        return None
    p, available = found.period, [n for n, why in found.available.items() if why is None]
    rule = found.settings.rule
    text = [
        "Lemon nodes fail jobs again and again yet pass the health checks and the repair flow. "
        f"Signals over {p.start:%Y-%m-%d %H:%M} – {p.end:%Y-%m-%d %H:%M} UTC: "
        f"{', '.join(available) or 'none'}; signals whose input is missing are absent, not 0.",
    ]
    warnings = [("Warning", w) for w in found.warnings]
    thresholds = Table.of("Signal thresholds per cluster", THRESHOLDS, found.thresholds)
    if not available:
        return Block("lemon-nodes", "Lemon nodes", text, warnings, tables=[thresholds])
    text += [
        f"Each signal's threshold is {rules.lemon_threshold(rule)}; {rules.lemon_flag(rule)}.",
        f"{found.flagged.num_rows:,} of {found.nodes.num_rows:,} nodes flagged.",
    ]
    chart = Chart(
        "fig11_lemon_signals",
        "Per cluster and signal, the share of nodes with at most a given value (CDF across the "
        "cluster's nodes, each node weighing the same, zoomed to the upper tail), the "
        "cluster's threshold (dashed) and its flagged nodes (red). Paper Fig. 11.",
        lambda: figures.lemon_signals(found.nodes, found.thresholds),
    )
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
    evidence = Table.long(
        "Evidence of the flagged nodes: outages, XID records, tickets, failed jobs and exclusions",
        EVIDENCE,
        lemons.evidence_rows(found),
    )
    tables = [thresholds, flagged, evidence] if found.flagged.num_rows else [thresholds]
    lists = lemons.slurm_lists(found).items()
    facts = warnings + [(f"Exclude ({c})", x.hostlist) for c, x in lists if x.hostlist]
    facts += [
        (f"Left out of the Slurm lists ({c})", f"{name!r} ({why}): no Slurm node has this name")
        for c, x in lists
        for name, why in x.not_slurm_names.items()
    ]
    drains = [command for _, x in lists for command in x.drain]
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


def _large_jobs(big: dict[str, Any]) -> Table:
    """Large attempts after as-of: as measured, without the failures on flagged nodes, and
    those that touched no flagged node."""
    rows = [
        {"which": "all", "share": big["failure_share"]},
        {
            "which": "all, without the failures charged to flagged nodes",
            "failures": big["failures"] - big["failures_on_flagged"],
            "share": big["failure_share_without_flagged"],
        },
        {
            "which": "those that touched no flagged node",
            "attempts": big["attempts"] - big["touching_attempts"],
            "failures": big["failures"] - big["touching_failures"],
            "share": big["untouched_failure_share"],
        },
    ]
    return Table(
        f"Attempts of {big['min_gpus']:,}+ GPUs that ran and ended after the as-of time: their "
        "infrastructure failures as measured, without those charged to a flagged node (what "
        "excluding the flagged nodes would have saved, all else unchanged), and among the "
        "attempts that touched no flagged node (a noisier check)",
        LARGE_JOBS,
        [{k: big[k] for k in ("attempts", "failures")} | row for row in rows],
    )


def lemon_backtest(b: lemons.Backtest) -> Block:
    """What happened after the as-of time on the flagged nodes and on the others."""
    big = b.large_jobs
    text = [
        f"After the as-of time, {b.after.start:%Y-%m-%d %H:%M} – {b.after.end:%Y-%m-%d %H:%M} "
        "UTC, the flagged nodes are compared with the others: outages and node failures "
        "counted as the signals count them."
    ]
    tables = []
    if b.rates.num_rows:
        tables.append(
            Table.of(
                "Outages and node failures after the as-of time per 1000 node-days, flagged and "
                "other nodes (95% exact Poisson intervals)",
                GROUP_RATES,
                b.rates,
            )
        )
    if big["attempts"]:
        text.append(
            f"Of the {big['attempts']:,} attempts of {big['min_gpus']:,}+ GPUs that ended after "
            f"the as-of time, {cell(big['failure_share'], '%')} failed; without the failures "
            f"on flagged nodes, {cell(big['failure_share_without_flagged'], '%')}. "
            + PAPER_LARGE_JOBS
        )
        tables.append(_large_jobs(big))
    else:
        text.append(f"No attempt of {big['min_gpus']:,}+ GPUs ran and ended after the as-of time.")
    checks = [
        {"against": against} | pr
        for against, pr in (("known lemons", b.truth), ("confirmed repairs", b.tickets))
        if pr is not None
    ]
    if checks:
        tables.append(
            Table(
                "Precision and recall of the flags, where known: against the known lemons (a "
                "simulation's truth) and against the nodes with a confirmed repair ticket "
                "opened after the as-of time",
                PRECISION_RECALL,
                checks,
            )
        )
    return Block("lemon-backtest", "Lemon backtest", text, tables=tables)
