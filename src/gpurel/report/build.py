"""Build the report of an analysis: the HTML page or the Markdown summary, and figure files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gpurel.analysis.lemons import Backtest
from gpurel.analysis.summary import Analysis
from gpurel.errors import ConfigError
from gpurel.report import figures, html, markdown
from gpurel.report.content import Block
from gpurel.report.findings import findings
from gpurel.report.sections import blocks, inventory

FORMATS = ("html", "md")


def title(a: Analysis) -> str:
    """The report's title, naming the clusters."""
    clusters = ", ".join(inventory(a)["clusters"])
    return f"Reliability report: {clusters}" if clusters else "Reliability report"


def subtitle(a: Analysis) -> str:
    """Period and how the results were made."""
    period = ""
    if a.node_days is not None:
        p = a.node_days.period
        period = f"{p.start:%Y-%m-%d} to {p.end:%Y-%m-%d} (UTC). "
    return (
        f"{period}Job failures attributed to node health checks, failure rates, MTTF by job size "
        "and its projection to larger jobs, ETTR of job runs and its design space, after "
        "Kokolis et al. (arXiv 2410.21680)."
    )


def draw(sections: Sequence[Block], figures_dir: Path | None = None) -> dict[str, str]:
    """Draw every chart once: inline SVG by chart name; also SVG and PNG files in figures_dir."""
    svgs = {}
    for chart in (c for b in sections for c in b.charts):
        fig = chart.draw()
        document = figures.svg(fig, chart.name)
        svgs[chart.name] = figures.inline_svg(document, chart.name)
        if figures_dir is not None:
            figures.save(fig, chart.name, figures_dir, document)
    return svgs


def render_html(
    analysis: Analysis, figures_dir: Path | None = None, backtest: Backtest | None = None
) -> str:
    """The self-contained HTML page (with the lemon backtest's section when given one)."""
    sections = blocks(analysis, backtest)
    svgs = draw(sections, figures_dir)
    return html.render(title(analysis), subtitle(analysis), findings(analysis), sections, svgs)


def render_markdown(
    analysis: Analysis, figures_dir: Path | None = None, backtest: Backtest | None = None
) -> str:
    """The short Markdown summary (figures go to figures_dir only)."""
    sections = blocks(analysis, backtest)
    if figures_dir is not None:
        draw(sections, figures_dir)
    return markdown.render(title(analysis), subtitle(analysis), findings(analysis), sections)


def build_report(
    analysis: Analysis,
    out_path: Path,
    figures_dir: Path | None = None,
    fmt: str = "html",
    backtest: Backtest | None = None,
) -> Path:
    """Write the report of ``analysis`` (and of a lemon ``backtest``, if any) to ``out_path``
    as "html" or "md"; returns the path."""
    if fmt not in FORMATS:
        raise ConfigError(f"report format {fmt!r}: expected one of {', '.join(FORMATS)}")
    render = render_html if fmt == "html" else render_markdown
    text = render(analysis, figures_dir, backtest)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(text, encoding="utf-8")
    return out_path
