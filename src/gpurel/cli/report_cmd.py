"""``gpurel report``: the reliability report as one self-contained HTML page, or Markdown."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from gpurel.cli.common import (
    ClusterOption,
    EngineOption,
    QuietOption,
    TaxonomyOption,
    WarehouseOption,
    console,
    err_console,
    fail,
    open_warehouse,
    utc_time,
)
from gpurel.cli.settings import ANALYSIS, Values, analysis_settings, uses
from gpurel.formatting import neutral
from gpurel.progress import Progress

if TYPE_CHECKING:
    from gpurel.analysis import lemons
    from gpurel.analysis.summary import Settings
    from gpurel.warehouse import Warehouse


@uses(*ANALYSIS)
def report(
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output file (default: report.html; md: stdout)."),
    ] = None,
    figures: Annotated[
        Path | None,
        typer.Option("--figures", help="Also write every figure as SVG and PNG into this folder."),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="html (one self-contained page) or md.")
    ] = "html",
    cluster: ClusterOption = None,
    backtest_as_of: Annotated[
        str | None,
        typer.Option(
            "--backtest-as-of",
            help="Add the lemon backtest: nodes flagged as of this ISO time (UTC), and what "
            "happened on them and on the others after it.",
        ),
    ] = None,
    taxonomy: TaxonomyOption = None,
    warehouse: WarehouseOption = None,
    engine: EngineOption = None,
    quiet: QuietOption = False,
    *,
    settings: Values,
) -> None:
    """Write the reliability report of the warehouse: figures of the paper with their numbers."""
    from gpurel.analysis.summary import analyze
    from gpurel.report import build_report, render_markdown
    from gpurel.report.build import FORMATS

    if fmt not in FORMATS:
        raise fail(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}", code=2)
    as_of = utc_time(backtest_as_of, "--backtest-as-of")
    chosen = analysis_settings(settings, cluster, taxonomy)
    with Progress(quiet=quiet, console=err_console) as progress:
        with open_warehouse(warehouse, engine, write=False) as store:
            result = analyze(store, chosen, progress.step)
            tested = None
            if as_of is not None:
                progress.step("lemon backtest")
                tested = _backtest(store, chosen, as_of)
        progress.step("drawing the figures and writing the report")
        try:
            if fmt == "md" and out is None:
                markdown = render_markdown(result, figures, tested)
            else:
                path = build_report(result, out or Path("report.html"), figures, fmt, tested)
        except OSError as exc:
            raise fail(f"cannot write the report: {exc}") from exc
    if fmt == "md" and out is None:
        print(markdown, end="")
    else:
        console.print(Text(f"report: {neutral(str(path))}"))
    if figures is not None:
        console.print(Text(f"figures: {neutral(str(figures))}"))


def _backtest(store: Warehouse, settings: Settings, as_of: datetime) -> lemons.Backtest:
    """Lemons flagged as of ``as_of`` (the analysis' lemon settings otherwise), tested after."""
    from gpurel.analysis import lemons
    from gpurel.analysis.summary import known_lemons, lemon_inputs

    inputs = lemon_inputs(store, settings, None)
    found = lemons.find_lemons(inputs, replace(settings.lemon, as_of=as_of))
    return lemons.backtest(inputs, found, truth=known_lemons(store))
