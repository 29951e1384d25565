"""One collection run: the logs' new lines, and Slurm accounting window by window.

For each window on the grid (``chunks``) from the resume point (less ``overlap``; ``since``
when given) to ``until``, and each earlier window whose stored rows now fall short of its
answer (``ledger``): ask sacct and sacctmgr (one query each; ``slurm`` accepts complete answers
only), read their text with gpurel's readers, upsert, and only then record what the window
answered and store its end as the resume point. At the end, every recorded window is
counted again: one the warehouse still holds short of its answer is an error. Windows
overlap at their edges and jobs that ran across several windows are listed by each: the
upsert by natural key keeps one row per job attempt, so nothing is stored twice; rows of
jobs still waiting to start are left out, as their start would change their key (they are
collected once they start or end).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import pyarrow.compute as pc

from gpurel.collect import chunks, ledger, state
from gpurel.collect.load import read_as, store
from gpurel.collect.slurm import DELIMITER, SlurmClient
from gpurel.collect.tail import collect_log
from gpurel.errors import ConfigError, GpurelError
from gpurel.sources import sacct_text, slurm_events
from gpurel.sources.base import ReadOptions, ReadResult
from gpurel.warehouse import Warehouse


@dataclass(frozen=True)
class Window:
    """Which windows to collect: ``since`` (None = resume), ``until``, chunk and overlap."""

    until: datetime
    since: datetime | None = None
    chunk_s: int = 3600
    overlap_s: int = 3600


@dataclass(frozen=True)
class ChunkDone:
    """One window stored: its rows per table; ``refill`` when it was collected again because
    its stored rows had fallen short."""

    chunk: chunks.Chunk
    rows: dict[str, int]
    refill: ledger.Short | None = None


@dataclass
class LogDone:
    """One log read: its rows per table, or the error that stopped it."""

    path: Path
    rows: dict[str, int] = field(default_factory=dict)
    error: str | None = None


def windows(warehouse: Warehouse, cluster: str, window: Window) -> list[chunks.Chunk]:
    """The chunks this run collects."""
    start = window.since
    if start is None:
        resume = state.resume_time(warehouse, state.slurm_stream(cluster))
        if resume is None:
            raise ConfigError(
                f"nothing collected yet for cluster {cluster!r}: pass --since for the first run"
            )
        start = chunks.resume_start(resume, window.overlap_s, window.chunk_s)
    if start >= window.until:
        raise ConfigError(f"nothing to collect: {start:%Y-%m-%d %H:%M:%S} is not before --until")
    return chunks.plan(start, window.until, window.chunk_s)


def _started(result: ReadResult) -> ReadResult:
    """The result without job rows that have neither started nor ended."""
    jobs = result.tables["jobs"]
    waiting = pc.and_(pc.is_null(jobs["start_time"]), pc.is_null(jobs["end_time"]))
    tables = result.tables | {"jobs": jobs.filter(pc.invert(waiting))}
    return ReadResult(result.format, tables, result.rejects)


def collect_chunk(
    warehouse: Warehouse, client: SlurmClient, chunk: chunks.Chunk, options: ReadOptions
) -> ChunkDone:
    """Query one window, store its rows, then record what it answered and store its end as
    the resume point."""
    jobs_text = client.jobs(chunk)
    events_text = client.events(chunk)
    jobs = _started(
        read_as(
            jobs_text.encode(),
            sacct_text.FORMAT,
            replace(options, delimiter=DELIMITER),
            name="sacct.txt",
            label=f"sacct {client.cluster} {chunk.label}",
        )
    )
    events = read_as(
        events_text.encode(),
        slurm_events.FORMAT,
        options,
        name="events.txt",
        label=f"sacctmgr show event {client.cluster} {chunk.label}",
    )
    answered = ledger.answered(warehouse, client.cluster, chunk, jobs.tables | events.tables)
    rows = store(warehouse, jobs)
    for name, count in store(warehouse, events).items():
        rows[name] = rows.get(name, 0) + count
    ledger.record(warehouse, client.cluster, chunk, answered)
    state.advance_resume_time(warehouse, state.slurm_stream(client.cluster), chunk.end)
    return ChunkDone(chunk, rows)


def _with_refills(
    planned: list[chunks.Chunk], shorts: list[ledger.Short]
) -> list[tuple[chunks.Chunk, ledger.Short | None]]:
    """The planned windows and the short ones, in time order; a planned window that covers a
    short one (same window on the grid, ending no earlier) refills it."""
    left = {short.chunk.label: short for short in shorts}
    todo: list[tuple[chunks.Chunk, ledger.Short | None]] = []
    for chunk in planned:
        short = left.get(chunk.label)
        covers = short is not None and short.chunk.end <= chunk.end
        todo.append((chunk, left.pop(chunk.label) if covers else None))
    todo += [(short.chunk, short) for short in left.values()]
    return sorted(todo, key=lambda item: (item[0].start, item[0].end))


def collect_slurm(
    warehouse: Warehouse,
    client: SlurmClient,
    window: Window,
    options: ReadOptions | None = None,
    on_chunk: Callable[[ChunkDone], None] = lambda done: None,
) -> list[ChunkDone]:
    """Collect every window of ``window`` and every short one, in time order; ``on_chunk`` is
    told as each one is stored. A GpurelError if the warehouse then still lacks rows of a
    window.

    ``options`` give the taxonomy; the cluster is the client's, and times are UTC.
    """
    options = replace(options or ReadOptions(), cluster=client.cluster, tz="UTC")
    planned = windows(warehouse, client.cluster, window)
    done = []
    for chunk, short in _with_refills(planned, ledger.short(warehouse, client.cluster)):
        done.append(replace(collect_chunk(warehouse, client, chunk, options), refill=short))
        on_chunk(done[-1])
    still = ledger.short(warehouse, client.cluster)
    if still:
        lacking = "; ".join(f"{short.chunk.label}: {short}" for short in still)
        raise GpurelError(
            f"the warehouse lost rows of {client.cluster} as they were stored ({lacking}); "
            "the next run collects these windows again"
        )
    return done


def collect_logs(
    warehouse: Warehouse, logs: list[tuple[Path, str]], options: ReadOptions
) -> list[LogDone]:
    """Read what each (log, reader format) gained; one unreadable log does not stop the rest."""
    outcomes = []
    for path, fmt in logs:
        outcome = LogDone(path)
        try:
            outcome.rows = collect_log(warehouse, path, fmt, options)
        except (GpurelError, OSError) as exc:
            outcome.error = str(exc)
        outcomes.append(outcome)
    return outcomes
