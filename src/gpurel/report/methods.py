"""The methods section: every setting, assumption and definition the analysis used."""

from __future__ import annotations

import inspect
from types import ModuleType

from gpurel.analysis import attribution, goodput, lemons, metrics, runs
from gpurel.analysis.summary import Analysis
from gpurel.formatting import number
from gpurel.models import ettr, lemon_rule
from gpurel.report import rules
from gpurel.report.content import Block, Detail


def _definitions(module: ModuleType) -> str:
    """A module docstring as plain text (reST literals and bold marks unquoted)."""
    return inspect.cleandoc(module.__doc__ or "").replace("``", "").replace("**", "")


def _lost_goodput(a: Analysis) -> list[tuple[str, str]]:
    """The loss rules the lost-goodput analysis applies."""
    s = a.settings
    return [
        ("Lost goodput, first order", rules.first_order_loss(s.checkpointing.ckpt_s)),
        ("Lost goodput, second order", rules.second_order_loss(s.goodput_rules)),
        ("Crash loops", rules.crash_loops(s.goodput_rules)),
    ]


def _lemons(a: Analysis) -> list[tuple[str, str]]:
    """The signals' window and the rule that flags and ranks lemon nodes."""
    s = a.lemons.settings if a.lemons else a.settings.lemon
    return [
        ("Lemon signals", f"per node: {', '.join(lemons.NAMES)}"),
        ("Lemon window", rules.lemon_window(s)),
        ("Lemon thresholds", f"{rules.lemon_threshold(s.rule)}; floors: {rules.lemon_floors()}"),
        ("Lemon flags and score", rules.lemon_flag(s.rule)),
    ]


def methods(a: Analysis) -> Block:
    """Settings and assumptions as facts; the code's own definitions as folded text."""
    s, c = a.settings, a.settings.checkpointing
    tax = s.taxonomy()
    order = ", ".join(tax.priorities()["category"].to_pylist())
    versions = ", ".join(f"{name} v{v}" for name, v in sorted(tax.versions.items()))
    facts = [
        ("Scope", f"cluster {s.cluster}" if s.cluster else "every cluster in the warehouse"),
        (
            "Attribution window",
            f"[job end − {s.window.before_s} s, job end + {s.window.after_s} s], both edges "
            "inclusive (paper: [end − 10 min, end + 5 min])",
        ),
        (
            "Choice among candidates",
            "severity (high, low, info), then category priority, then closeness to the job "
            "end, then earlier event, then node and check name (a stable tie-break)",
        ),
        ("Category priority", order),
        (
            "Taxonomy",
            (versions or "no version")
            + (f"; extended by {s.taxonomy_file}" if s.taxonomy_file else ""),
        ),
        (
            "r_f",
            f"attempts of jobs with more than {s.rf_min_gpus} GPUs; failures: NODE_FAIL, or "
            "FAILED with a high-severity attributed cause; exposure: runtime-days × nodes",
        ),
        (
            "Projection",
            f"MTTF = 1 / (nodes × r_f), nodes in series, {s.gpus_per_node} GPUs per node",
        ),
        ("Projected sizes", ", ".join(f"{g:,}" for g in s.projection_gpus) + " GPUs"),
        (
            "Job runs",
            f"resubmissions chained within {number(s.run_rules.gap_s / 60)} min; ETTR of runs "
            f"with at least {number(s.run_rules.min_hours)} h of running time"
            + (f" and QoS {s.run_rules.qos}" if s.run_rules.qos else ""),
        ),
        (
            "Checkpointing (assumed)",
            f"interval Δt_cp {number(c.ckpt_s / 60)} min, restart overhead u0 "
            f"{number(c.restart_s / 60)} min, blocking write w_cp {number(c.write_s)} s "
            "(paper: 60 min, 5 min, 0)",
        ),
        *_lost_goodput(a),
        ("Episode merge gap", f"{number(s.merge_gap_s / 60)} min"),
        ("Nodes listed", f"the {s.top_nodes} with the most episodes"),
        *_lemons(a),
        ("Node-days", a.node_days.method if a.node_days else "none (no data)"),
        ("Intervals", "95%, exact Poisson (Garwood) for rates and MTTF"),
        ("Times", "UTC; weeks are ISO weeks starting Monday 00:00 UTC"),
    ]
    return Block(
        "methods",
        "Methods and assumptions",
        [
            "Every number in this report comes from the settings below and the definitions "
            "quoted from gpurel's code (unfold them)."
        ],
        facts,
        details=[
            Detail("Definitions of the metrics", _definitions(metrics)),
            Detail("The attribution rule", _definitions(attribution)),
            Detail("Job runs and their measured ETTR", _definitions(runs)),
            Detail("The expected-ETTR model", _definitions(ettr)),
            Detail("Lost goodput", _definitions(goodput)),
            Detail("Lemon-node signals", _definitions(lemons)),
            Detail("The lemon-node rule", _definitions(lemon_rule)),
        ],
    )
