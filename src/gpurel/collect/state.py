"""Resume points of live collection, kept in the warehouse's ``collect_state`` table.

One row per stream: ``slurm:<cluster>`` holds ``resume_time``, the latest end of a window
whose rows are stored; ``file:<path>`` holds where the last read of a log stopped (``file_id``
device:inode, byte ``offset``, lines before it). A row is written only after the data it
vouches for, so a crash leaves an older resume point and the next run reads again.
This table is no canonical table: analyses never read it.

The collector's tables live in the warehouse's engine (a DuckDB file keeps them), or, in a
Parquet warehouse, as one file each under ``_collect/`` in its directory, replaced whole at
each write (they hold one row per stream or window).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gpurel import parquet_store
from gpurel.warehouse import Warehouse

TABLE = "collect_state"
PARQUET_DIR = "_collect"  # of the collector's tables in a Parquet warehouse
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


def _parquet_file(warehouse: Warehouse, name: str) -> Path | None:
    """The file of the collector's table ``name`` in a Parquet warehouse, else None."""
    return (
        None if warehouse.parquet is None else warehouse.parquet / PARQUET_DIR / f"{name}.parquet"
    )


def _ensure(warehouse: Warehouse, name: str, schema: pa.Schema) -> None:
    if name not in warehouse.con.list_tables():
        warehouse.con.create_table(name, schema=ibis.schema(schema))


def read_table(warehouse: Warehouse, name: str, schema: pa.Schema) -> ir.Table:
    """The collector's table ``name`` (empty, with ``schema``, before its first row)."""
    path = _parquet_file(warehouse, name)
    if path is None:
        _ensure(warehouse, name, schema)
        return warehouse.con.table(name)
    return ibis.memtable(
        pq.read_table(path, schema=schema) if path.exists() else schema.empty_table()
    )


def upsert_rows(
    warehouse: Warehouse, name: str, schema: pa.Schema, rows: pa.Table, on: str
) -> None:
    """Store ``rows`` in the collector's table ``name``, replacing those of the same ``on``."""
    path = _parquet_file(warehouse, name)
    if path is None:
        _ensure(warehouse, name, schema)
        warehouse.con.upsert(name, rows, on=on)
        return
    warehouse.claim()
    stored = pq.read_table(path, schema=schema) if path.exists() else schema.empty_table()
    kept = stored.filter(pc.invert(pc.is_in(stored[on], rows[on])))
    parquet_store._replace(path, pa.concat_tables([kept, rows]).to_reader(), schema)


def _row(warehouse: Warehouse, stream: str) -> dict[str, Any] | None:
    table = read_table(warehouse, TABLE, SCHEMA)
    rows = warehouse.con.to_pyarrow(table.filter(table.stream == stream)).to_pylist()
    return rows[0] if rows else None


def _put(warehouse: Warehouse, stream: str, **values: object) -> None:
    row = {name: None for name in SCHEMA.names} | values
    row |= {"stream": stream, "updated": datetime.now(UTC)}
    upsert_rows(warehouse, TABLE, SCHEMA, pa.Table.from_pylist([row], schema=SCHEMA), "stream")


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
