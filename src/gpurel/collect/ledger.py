"""What each collected window answered, checked against what the warehouse holds.

A row meets a window when its span (a job from submission, a step or an event from its start,
each to its end or still open) meets the window. When a window is stored, the distinct rows
of its answer that meet it are counted per table (``answered``) and kept in the warehouse's
``collect_windows`` table (``record``). ``short`` counts, for every recorded window, the
stored rows that meet it: a window whose stored rows fall below what it answered has lost
rows. Rows that other windows or ingests add only raise the count, and a later answer for
the same natural key replaces a row without moving its span's start (part of the key), so a
window that lost nothing is never short.

One record per cluster and window on the grid: the latest answer for that window.
This table is no canonical table: analyses never read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from gpurel import schema
from gpurel.collect.chunks import Chunk
from gpurel.warehouse import Warehouse

TABLE = "collect_windows"
SPANS = {  # table: (start of a row's span, its end; null while open)
    "jobs": ("submit_time", "end_time"),
    "steps": ("start_time", "end_time"),
    "node_events": ("time", "end_time"),
}
OPEN = datetime(9999, 12, 31, tzinfo=UTC)  # the end of a span still open
_TIME = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema(
    [
        pa.field("window", pa.string(), nullable=False),  # cluster and window label
        pa.field("cluster", pa.string(), nullable=False),
        pa.field("start", _TIME, nullable=False),
        pa.field("end", _TIME, nullable=False),
        pa.field("grid_end", _TIME, nullable=False),
        *(pa.field(name, pa.int64(), nullable=False) for name in SPANS),
        pa.field("updated", _TIME, nullable=False),
    ]
)


@dataclass(frozen=True)
class Short:
    """A window whose stored rows fall short: per short table, (rows stored, rows answered)."""

    chunk: Chunk
    held: dict[str, tuple[int, int]]

    def __str__(self) -> str:
        return ", ".join(
            f"{name} {stored} of {answered}" for name, (stored, answered) in self.held.items()
        )


def _meets(first: ir.Value, last: ir.Value, start: ir.Value, end: ir.Value) -> ir.BooleanValue:
    """A span from ``first`` to ``last`` (null: still open) meets ``[start, end]``."""
    return (first <= end) & (last.fill_null(OPEN) >= start)


def answered(
    warehouse: Warehouse, cluster: str, chunk: Chunk, tables: dict[str, pa.Table]
) -> dict[str, int]:
    """Distinct rows (by natural key) of ``cluster`` in each table of an answer that meet
    ``chunk``."""
    counts = {}
    start, end = ibis.literal(chunk.start), ibis.literal(chunk.end)
    for name, (first, last) in SPANS.items():
        rows = ibis.memtable(tables.get(name, schema.empty(name)))
        meeting = rows.filter(rows.cluster == cluster, _meets(rows[first], rows[last], start, end))
        distinct = meeting.select(*schema.KEYS[name]).distinct().count()
        counts[name] = int(warehouse.scalar(distinct))
    return counts


def _record_row(cluster: str, chunk: Chunk, counts: dict[str, int]) -> pa.Table:
    row = {
        "window": f"{cluster} {chunk.label}",
        "cluster": cluster,
        "start": chunk.start,
        "end": chunk.end,
        "grid_end": chunk.grid_end,
        "updated": datetime.now(UTC),
    }
    return pa.Table.from_pylist([row | {name: counts.get(name, 0) for name in SPANS}], SCHEMA)


def record(warehouse: Warehouse, cluster: str, chunk: Chunk, counts: dict[str, int]) -> None:
    """Keep what ``chunk`` answered (rows per table), replacing an earlier answer of it."""
    warehouse.upsert_side(TABLE, SCHEMA, _record_row(cluster, chunk, counts), "window")


def _stored(warehouse: Warehouse, cluster: str, windows: ir.Table, name: str) -> ir.Table:
    """Per window (``window``), the stored rows of table ``name`` that meet it."""
    first, last = SPANS[name]
    rows = warehouse.table(name)
    rows = rows.filter(rows.cluster == cluster).select(first=rows[first], last=rows[last])
    pairs = windows.select("window", "start", "end").join(
        rows, _meets(rows.first, rows.last, windows.start, windows.end)
    )
    return pairs.group_by("window").aggregate(stored=pairs.first.count())


def short(warehouse: Warehouse, cluster: str) -> list[Short]:
    """Every recorded window of ``cluster`` whose stored rows fall below its answer, in time
    order."""
    windows = warehouse.side(TABLE, SCHEMA)
    windows = windows.filter(windows.cluster == cluster)
    held: dict[str, dict[str, tuple[int, int]]] = {}
    for name in SPANS:
        stored = _stored(warehouse, cluster, windows, name)
        counted = windows.left_join(stored, "window").select(
            "window", answered=windows[name], stored=stored.stored.fill_null(0)
        )
        falling = counted.filter(counted.stored < counted.answered)
        for row in warehouse.fetch(falling).to_pylist():
            held.setdefault(row["window"], {})[name] = (row["stored"], row["answered"])
    if not held:
        return []
    records = warehouse.fetch(windows.filter(windows.window.isin(list(held))))
    found = [
        Short(Chunk(r["start"], r["end"], r["grid_end"]), held[r["window"]])
        for r in records.to_pylist()
    ]
    return sorted(found, key=lambda short: (short.chunk.start, short.chunk.end))
