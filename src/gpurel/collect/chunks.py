"""Time windows of a collection, on a fixed grid so that every run asks the same questions.

Chunk edges are whole multiples of the chunk length since the Unix epoch (UTC): a run that
resumes, or one interrupted and run again, queries exactly the windows a single clean run does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gpurel.errors import ConfigError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Chunk:
    """One window ``[start, end]`` to query; ``grid_end`` is its edge on the grid (>= end)."""

    start: datetime
    end: datetime
    grid_end: datetime

    @property
    def label(self) -> str:
        """The window on the grid, ``2024-05-01T10:00:00Z/2024-05-01T11:00:00Z``."""
        return f"{_iso(self.start)}/{_iso(self.grid_end)}"


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def floor(when: datetime, size_s: int) -> datetime:
    """The grid edge at or before ``when``."""
    seconds = int((when - EPOCH).total_seconds() // size_s) * size_s
    return EPOCH + timedelta(seconds=seconds)


def plan(start: datetime, end: datetime, size_s: int) -> list[Chunk]:
    """Grid chunks covering ``[start, end]``: the first from the edge at or before ``start``,
    the last cut at ``end``."""
    if size_s < 1:
        raise ConfigError(f"chunk length must be at least one second, not {size_s} s")
    step = timedelta(seconds=size_s)
    chunks = []
    edge = floor(start, size_s)
    while edge < end:
        chunks.append(Chunk(edge, min(edge + step, end), edge + step))
        edge += step
    return chunks


def resume_start(resume: datetime, overlap_s: int, size_s: int) -> datetime:
    """Where a run resumes: ``overlap_s`` before the stored resume point, down to the grid."""
    return floor(resume - timedelta(seconds=overlap_s), size_s)
