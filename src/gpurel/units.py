"""Human durations for command-line options: ``90s``, ``10m``, ``1.5h``, ``28d``, ``1w``."""

from __future__ import annotations

import re

from gpurel.errors import GpurelError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)


def parse_duration(text: str, default_unit: str = "s") -> float:
    """Seconds in ``text``; a bare number is in ``default_unit``."""
    match = _DURATION.match(text)
    if not match:
        raise GpurelError(f"not a duration: {text!r} (use e.g. 30s, 10m, 1.5h, 28d)")
    value, unit = match.groups()
    return float(value) * _UNITS[(unit or default_unit).lower()]


def format_duration(seconds: float) -> str:
    """Seconds as ``parse_duration`` reads them back, in the largest whole unit: ``28d``,
    ``1h``, ``10m``, ``90s``, ``0.5s``."""
    for unit in ("w", "d", "h", "m"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def format_hours(hours: float) -> str:
    """A duration in hours for people: ``0.23 h``, ``1.8 h``, ``47.7 d`` beyond two days."""
    if hours != hours or hours == float("inf"):
        return "∞"
    if hours >= 48:
        return f"{hours / 24:.3g} d"
    return f"{hours:.2g} h" if hours < 10 else f"{hours:.3g} h"
