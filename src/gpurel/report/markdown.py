"""The short Markdown summary: title, key findings, and each section's main table."""

from __future__ import annotations

import html
from collections.abc import Sequence

from gpurel.report.content import Block, Finding, Table


def escape_cell(text: str) -> str:
    """Text safe inside a Markdown table cell, and as HTML when the Markdown is rendered."""
    text = html.escape(text, quote=False)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def table(t: Table) -> list[str]:
    """A Markdown table with its caption in bold above it."""
    align = ["---:" if c.numeric else ":---" for c in t.columns]
    lines = [f"**{escape_cell(t.caption)}**", ""]
    lines.append("| " + " | ".join(escape_cell(c.header) for c in t.columns) + " |")
    lines.append("| " + " | ".join(align) + " |")
    lines += ["| " + " | ".join(escape_cell(v) for v in row) + " |" for row in t.cells()]
    return lines


def render(title: str, subtitle: str, findings: Sequence[Finding], blocks: Sequence[Block]) -> str:
    """The summary as Markdown text."""
    lines = [f"# {title}", "", subtitle, "", "## Key findings", ""]
    lines += [f"- **{f.label}: {f.value}**. {f.detail}" for f in findings] or ["No data."]
    for block in blocks:
        main = [t for t in block.tables if not t.collapsed][:1]
        if not (block.facts or main):
            continue
        lines += ["", f"## {block.title}"]
        if block.facts:
            lines += ["", *(f"- {label}: {escape_cell(value)}" for label, value in block.facts)]
        for t in main:
            lines += ["", *table(t)]
    return "\n".join(lines).rstrip() + "\n"
