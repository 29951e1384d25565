"""Day 0 of traces with relative times: ``--trace-start``, else a start a publisher documents.

Public traces give times as seconds (or days) from their start without saying when that was.
``known_traces.toml`` lists the public traces gpurel reads, recognised by reader and file
name, each with its source and what is documented of its start. ``day0`` takes
``options.trace_start`` when given (a naive value is UTC), else a documented start, else it
refuses with an InputError that names ``--trace-start`` and what is known of the trace: stored
times in 1970 would pass for real dates.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatch
from functools import cache
from importlib import resources
from pathlib import Path

from gpurel.errors import InputError
from gpurel.sources.base import ReadOptions


@dataclass(frozen=True)
class KnownTrace:
    """A public trace: how to recognise it, where it comes from, and its documented start."""

    name: str
    format: str
    files: tuple[str, ...]  # file-name patterns
    source: str
    about: str  # what is documented of its start
    start: datetime | None = None


@cache
def known() -> tuple[KnownTrace, ...]:
    """The traces of ``known_traces.toml``."""
    text = (resources.files("gpurel.sources") / "known_traces.toml").read_text("utf-8")
    return tuple(
        KnownTrace(
            name=entry["name"],
            format=entry["format"],
            files=tuple(entry["files"]),
            source=entry["source"],
            about=entry["about"],
            start=entry.get("start"),
        )
        for entry in tomllib.loads(text)["trace"]
    )


def recognise(path: Path, format: str) -> KnownTrace | None:
    """The known trace ``path`` is, by its reader and file name, or None."""
    name = path.name.lower()
    return next(
        (t for t in known() if t.format == format and any(fnmatch(name, p) for p in t.files)),
        None,
    )


def day0(path: Path, options: ReadOptions, format: str) -> datetime:
    """The wallclock of the trace's time 0, as UTC; InputError when nobody says."""
    start = options.trace_start
    trace = recognise(path, format)
    if start is None and trace is not None:
        start = trace.start
    if start is None:
        what = f"this is {trace.name} ({trace.source}): {trace.about}; " if trace else ""
        raise InputError(
            str(path),
            "times are relative to the trace's start, which the file does not record: "
            f"{what}pass --trace-start with the wallclock of day 0 (ISO-8601, e.g. "
            "--trace-start 2020-04-01T00:00:00Z; 1970-01-01T00:00:00Z keeps times as "
            "time since the start, or reads epoch seconds as they are)",
        )
    return (start if start.tzinfo else start.replace(tzinfo=UTC)).astimezone(UTC)
