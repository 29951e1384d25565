"""Resume points of live collection, kept in the warehouse's ``collect_state`` table.

One row per stream: ``slurm:<cluster>`` holds ``resume_time``, the latest end of a window
whose rows are stored; ``file:<path>`` holds where the last read of a log stopped (``file_id``
device:inode, byte ``offset``, lines before it). A row is written only after the data it
vouches for, so a crash leaves an older resume point and the next run reads again.
This table is a side table of the warehouse (``Warehouse.side``): analyses never read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from gpurel.warehouse import Warehouse

TABLE = "collect_state"
SCHEMA = pa.schema(
    [
        pa.field("stream", pa.string(), nullable=False),
        pa.field("resume_time", pa.timestamp("us", tz="UTC")),
        pa.field("file_id", pa.string()),
        pa.field("offset", pa.int64()),
        pa.field("line", pa.int64()),
        pa.field("updated", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)


@dataclass(frozen=True)
class FilePosition:
    """Where reading a log file stopped: its identity, byte offset and lines before it."""

    file_id: str
    offset: int
    line: int


def slurm_stream(cluster: str) -> str:
    """The stream name of a cluster's accounting."""
    return f"slurm:{cluster}"


def file_stream(path: str) -> str:
    """The stream name of a log file."""
    return f"file:{path}"


def _row(warehouse: Warehouse, stream: str) -> dict[str, Any] | None:
    table = warehouse.side(TABLE, SCHEMA)
    rows = warehouse.fetch(table.filter(table.stream == stream)).to_pylist()
    return rows[0] if rows else None


def _put(warehouse: Warehouse, stream: str, **values: object) -> None:
    row = {name: None for name in SCHEMA.names} | values
    row |= {"stream": stream, "updated": datetime.now(UTC)}
    warehouse.upsert_side(TABLE, SCHEMA, pa.Table.from_pylist([row], schema=SCHEMA), "stream")


def resume_time(warehouse: Warehouse, stream: str) -> datetime | None:
    """The stored resume point of ``stream``, or None before its first collection."""
    row = _row(warehouse, stream)
    value = None if row is None else row["resume_time"]
    return value if isinstance(value, datetime) else None


def advance_resume_time(warehouse: Warehouse, stream: str, when: datetime) -> None:
    """Store ``when`` as the resume point of ``stream`` unless a later one is stored (a
    backfill of an old period does not send the next run back to it)."""
    stored = resume_time(warehouse, stream)
    if stored is None or when > stored:
        _put(warehouse, stream, resume_time=when)


def file_position(warehouse: Warehouse, stream: str) -> FilePosition | None:
    """Where the last read of a log stream stopped, or None."""
    row = _row(warehouse, stream)
    if row is None or row["file_id"] is None:
        return None
    return FilePosition(row["file_id"], row["offset"], row["line"])


def set_file_position(warehouse: Warehouse, stream: str, position: FilePosition) -> None:
    """Store where the last read of a log stream stopped."""
    _put(warehouse, stream, file_id=position.file_id, offset=position.offset, line=position.line)
