"""The typer application: one sub-command per module, imported only when it runs.

``gpurel --help`` lists the commands from the table below without importing any of them, so
it answers at once; ``gpurel mttf`` imports the mttf module alone. A test keeps each summary
equal to its command's docstring.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import typer
from typer import _click as click
from typer.core import TyperCommand, TyperGroup

from gpurel.cli import common


@dataclass(frozen=True)
class Entry:
    """Where a sub-command lives, and its one-line summary for the listing."""

    module: str
    attribute: str
    summary: str


COMMANDS: dict[str, Entry] = {
    "ingest": Entry("ingest_cmd", "ingest",
        "Read scheduler accounting, node events and traces into the warehouse (safe to rerun)."),
    "analyze": Entry("analyze_cmd", "analyze_command",
        "Attribute job failures to causes and measure the cluster (tables, or --json)."),
    "mttf": Entry("mttf_cmd", "mttf",
        "MTTF of a job on N GPUs with nodes in series: 1 / (N_nodes × r_f)."),
    "demo": Entry("demo_cmd", "demo",
        "Simulate a month of an RSC-1-like cluster, analyze it, write report.html."),
    "report": Entry("report_cmd", "report",
        "Write the reliability report of the warehouse: figures of the paper with their numbers."),
    "ettr": Entry("ettr_cmd", "ettr",
        "Expected ETTR at N GPUs (closed forms, Monte Carlo), or what reaching --target needs."),
    "runs": Entry("runs_cmd", "runs",
        "Group job attempts into runs and measure their ETTR per size bucket (PAPER.md §4)."),
    "lemons": Entry("lemons_cmd", "lemons_command",
        "Find lemon nodes: signals over a window, thresholds, ranking and evidence (PAPER.md §6)."),
    "goodput": Entry("goodput_cmd", "goodput",
        "GPU time lost to infrastructure failures and the preemptions of their requeues (§4)."),
    "simulate": Entry("simulate_cmd", "simulate_command",
        "Simulate a GPU cluster calibrated to the paper into the warehouse (tables + truth_*)."),
    "config": Entry("config_cmd", "config",
        "Print every analysis setting, its value and where it came from."),
    "collect": Entry("collect_cmd", "app",
        "Keep the warehouse current from a live cluster (safe to rerun)."),
    "metrics": Entry("metrics_cmd", "metrics_command",
        "Write the current figures in the Prometheus text format (stdout, or a textfile)."),
    "serve": Entry("serve_cmd", "serve_command",
        "Serve the current figures on /metrics for Prometheus, recomputed at most every "
        "--interval."),
}  # fmt: skip


def load(name: str) -> click.Command:
    """The sub-command ``name``, its module imported now."""
    entry = COMMANDS[name]
    found: Any = getattr(importlib.import_module(f"gpurel.cli.{entry.module}"), entry.attribute)
    command: click.Command
    if isinstance(found, typer.Typer):
        command = typer.main.get_group(found)
    else:
        single = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
        single.command(name)(found)
        command = typer.main.get_command(single)
    command.name = name
    return command


class LazyGroup(TyperGroup):
    """Lists the sub-commands from COMMANDS; imports one only to run it or show its help."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        return None if entry is None else TyperCommand(cmd_name, help=entry.summary)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, listed, rest = super().resolve_command(ctx, args)
        return name, None if name is None or listed is None else load(name), rest


app = typer.Typer(
    name="gpurel",
    cls=LazyGroup,
    help="How reliable is a GPU cluster, what does it cost, and what will it cost at scale?",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.callback()(common.widen_when_piped)
