"""The typer application: one sub-command per module."""

from __future__ import annotations

import typer

from gpurel.cli import (
    analyze_cmd,
    collect_cmd,
    common,
    config_cmd,
    demo_cmd,
    ettr_cmd,
    goodput_cmd,
    ingest_cmd,
    lemons_cmd,
    mttf_cmd,
    report_cmd,
    runs_cmd,
    simulate_cmd,
)

app = typer.Typer(
    name="gpurel",
    help="How reliable is a GPU cluster, what does it cost, and what will it cost at scale?",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.callback()(common.widen_when_piped)
app.command()(ingest_cmd.ingest)
app.command("analyze")(analyze_cmd.analyze_command)
app.command()(mttf_cmd.mttf)
app.command()(demo_cmd.demo)
app.command()(report_cmd.report)
app.command()(ettr_cmd.ettr)
app.command()(runs_cmd.runs)
app.command("lemons")(lemons_cmd.lemons_command)
app.command()(goodput_cmd.goodput)
app.command("simulate")(simulate_cmd.simulate_command)
app.command()(config_cmd.config)
app.add_typer(collect_cmd.app, name="collect")
