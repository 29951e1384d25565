"""The short Markdown summary: title, key findings, and each section's main table.

Every string is escaped (``escape_text``): job names, node names, check messages and cluster
names are user-controlled, and unescaped they could render as links, images, HTML, emphasis or
table cells of their own in any Markdown viewer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from gpurel.formatting import neutral
from gpurel.report.content import Block, Finding, Table

# characters that start Markdown or HTML syntax anywhere in a line (links and images need
# brackets, autolinks and HTML angle brackets, entities an ampersand; $ starts math)
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&$@])")
_URL_SCHEME = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*):(?=//)")  # http://... autolinks
_WWW = re.compile(r"\b([Ww][Ww][Ww])\.")  # www.... autolinks


def escape_text(text: str) -> str:
    """Text shown as itself in Markdown (also inside a table cell): every syntax character
    backslash-escaped, bare URLs broken so that no autolink forms, line breaks as spaces and
    bidirectional controls neutralised."""
    text = neutral(text).replace("\r", " ").replace("\n", " ")
    text = _SPECIAL.sub(r"\\\1", text)
    text = _URL_SCHEME.sub(r"\1\\:", text)
    return _WWW.sub(r"\1\\.", text)


def table(t: Table) -> list[str]:
    """A Markdown table with its caption in bold above it."""
    align = ["---:" if c.numeric else ":---" for c in t.columns]
    lines = [f"**{escape_text(t.caption)}**", ""]
    lines.append("| " + " | ".join(escape_text(c.header) for c in t.columns) + " |")
    lines.append("| " + " | ".join(align) + " |")
    lines += ["| " + " | ".join(escape_text(v) for v in row) + " |" for row in t.cells()]
    return lines


def _finding(f: Finding) -> str:
    return f"- **{escape_text(f.label)}: {escape_text(f.value)}**. {escape_text(f.detail)}"


def _body(block: Block) -> list[str]:
    """A section's facts and main table; the prose of a section that has nothing else (one
    saying why its figures are not measured)."""
    main = [t for t in block.tables if not t.collapsed][:1]
    lines = []
    if block.facts:
        lines += ["", *(f"- {escape_text(k)}: {escape_text(v)}" for k, v in block.facts)]
    if not (block.facts or block.tables or block.charts):
        lines += [line for p in block.paragraphs for line in ("", escape_text(p))]
    for t in main:
        lines += ["", *table(t)]
    return lines


def render(title: str, subtitle: str, findings: Sequence[Finding], blocks: Sequence[Block]) -> str:
    """The summary as Markdown text."""
    lines = [f"# {escape_text(title)}", "", escape_text(subtitle), "", "## Key findings", ""]
    lines += [_finding(f) for f in findings] or ["No data."]
    for block in blocks:
        body = _body(block)
        if body:
            lines += ["", f"## {escape_text(block.title)}", *body]
    return "\n".join(lines).rstrip() + "\n"
