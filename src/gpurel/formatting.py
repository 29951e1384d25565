"""Values for people: one formatter per column kind, shared by the terminal, HTML and Markdown.

Text from the data may hold Unicode bidirectional controls, which reorder what a person sees
(an overridden file name or node name reads backwards). ``neutral`` shows each as its code point
in braces; ``cell`` applies it to every value, and the HTML and Markdown reports to the whole
output. JSON keeps the data as it is (its ``\\uXXXX`` escapes are inert).
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from gpurel.absent import Absent
from gpurel.units import format_hours

MISSING = "–"
# embeddings, overrides, isolates, marks (LRM, RLM, ALM)
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def neutral(text: str) -> str:
    """``text`` with every bidirectional control shown as ``{U+XXXX}`` instead of obeyed."""
    return BIDI_CONTROLS.sub(lambda m: f"{{U+{ord(m.group()):04X}}}", text)


def cell(value: Any, kind: str = "num") -> str:
    """Format one value by kind: "text", "num", "int", "%" (a 0..1 share), "h" (hours),
    "time" (UTC minute), "date"; missing and NaN values become "–", an ``Absent`` value "not
    measured"; text is ``neutral``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, Absent):
        return "not measured"
    if kind == "text":
        return neutral(str(value))
    if kind == "%":
        return share(value)
    if kind == "h":
        return format_hours(value)
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d}" if kind == "date" else f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or kind == "int":
        return f"{round(value):,}"
    if isinstance(value, float):
        return number(value)
    return neutral(str(value))


def number(value: float) -> str:
    """Three significant digits, thousands separated from 1000 on; ∞ for infinity."""
    if math.isinf(value):
        return "∞"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def share(value: float) -> str:
    """A 0..1 share as a percentage with one decimal ("<0.1%" for tiny non-zero shares)."""
    if 0 < value < 0.0005:
        return "<0.1%"
    return f"{100 * value:.1f}%"


def interval(value: float | None, lo: float | None, hi: float | None, kind: str = "num") -> str:
    """``value (95%: lo – hi)``."""
    return f"{cell(value, kind)} (95%: {cell(lo, kind)} – {cell(hi, kind)})"


def period(start: datetime, end: datetime) -> str:
    """``start – end UTC (N days)``, to the minute."""
    days = (end - start).total_seconds() / 86_400
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC ({number(days)} days)"
