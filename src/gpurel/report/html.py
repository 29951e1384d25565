"""The HTML page: one self-contained file from a Jinja2 template with autoescape on.

Everything from the data (job names, node names, check messages, file names) goes through
autoescape (or is escaped by ``breakable``, which then adds ``<wbr>``); the only markup passed
through is the figures' SVG, which matplotlib's SVG writer escapes itself. Bidirectional
controls are neutralised in the whole page. A Content-Security-Policy in the page forbids
scripts and any network load.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from gpurel import __version__
from gpurel.formatting import neutral
from gpurel.report.content import Block, Finding

TEMPLATE = "report.html.j2"


def breakable(text: str, css: str = "text") -> Markup:
    """A table cell's (or header's) text escaped, with the line breaks it may take in a narrow
    column: text also after each underscore (check and signal names), a time only between its
    date and its time of day, a number nowhere (``Column.css`` names the kind)."""
    if css == "time":
        parts = (f'<span class="nowrap">{escape(part)}</span>' for part in text.split(" "))
        return Markup(" ".join(parts))
    escaped = str(escape(text))
    return Markup(escaped.replace("_", "_<wbr>") if css == "text" else escaped)


@cache
def environment() -> Environment:
    """The template environment: package templates, autoescape always on, strict names."""
    env = Environment(
        loader=PackageLoader("gpurel.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["breakable"] = breakable
    return env


def render(
    title: str,
    subtitle: str,
    findings: Sequence[Finding],
    blocks: Sequence[Block],
    svgs: Mapping[str, str],
) -> str:
    """The page; ``svgs`` maps chart names to inline SVG markup. Bidirectional controls from
    the data, in text or figures, are neutralised (``formatting.neutral``)."""
    page = (
        environment()
        .get_template(TEMPLATE)
        .render(
            title=title,
            subtitle=subtitle,
            findings=findings,
            blocks=blocks,
            svgs={name: Markup(svg) for name, svg in svgs.items()},
            version=__version__,
        )
    )
    return neutral(page)
