"""Values for people: one formatter per column kind, shared by the terminal, HTML and Markdown."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from gpurel.units import format_hours

MISSING = "–"


def cell(value: Any, kind: str = "num") -> str:
    """Format one value by kind: "text", "num", "int", "%" (a 0..1 share), "h" (hours),
    "time" (UTC minute), "date"; missing and NaN values become "–"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if kind == "text":
        return str(value)
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
    return str(value)


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
