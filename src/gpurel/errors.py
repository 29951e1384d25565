"""The one exception family of gpurel."""

from __future__ import annotations


class GpurelError(Exception):
    """Base of every error gpurel raises on purpose."""


class InputError(GpurelError):
    """An input file cannot be read at all (missing, binary, truncated, unknown format)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class ParseError(GpurelError):
    """One value in an input could not be parsed; names the file, line and field."""

    def __init__(self, path: str, line: int | None, field: str | None, reason: str) -> None:
        where = path if line is None else f"{path}:{line}"
        what = f" field {field!r}:" if field else ""
        super().__init__(f"{where}:{what} {reason}")
        self.path = path
        self.line = line
        self.field = field
        self.reason = reason


class ConfigError(GpurelError):
    """A configuration value or file (taxonomy extension, option) is invalid."""
