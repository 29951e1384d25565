"""The reliability report: figures, one self-contained HTML page, a Markdown summary."""

from gpurel.report.build import build_report, render_html, render_markdown

__all__ = ["build_report", "render_html", "render_markdown"]
