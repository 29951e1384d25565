"""Collected text through gpurel's readers, under a stable source name, into the warehouse.

Readers read files and name rows and rejects after the file. Collected text is written to a
throw-away file for them, and that file's name is then replaced by a stable ``label`` (the
query window, the log's real path), so that reading the same data again stores the same rows.
"""

from __future__ import annotations

import os
from pathlib import Path
from tempfile import TemporaryDirectory

import pyarrow as pa
import pyarrow.compute as pc

from gpurel.ingest import readers
from gpurel.sources.base import ReadOptions, ReadResult
from gpurel.warehouse import Warehouse


def read_as(
    data: bytes,
    fmt: str,
    options: ReadOptions,
    *,
    name: str,
    label: str,
    lines_before: int = 0,
    mtime: float | None = None,
) -> ReadResult:
    """Read ``data`` with reader ``fmt`` as a file called ``name`` (modified at ``mtime``,
    for readers that take the year from it), naming rows and rejects after ``label``.

    ``lines_before``: lines of the log before ``data``, added to the rejects' line numbers.
    """
    with TemporaryDirectory(prefix="gpurel-collect-") as tmp:
        path = Path(tmp).resolve() / name
        path.write_bytes(data)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
        result = readers()[fmt].read(path, options)
    return _relabel(result, str(path), label, lines_before)


def _renamed(table: pa.Table, old: str, new: str) -> pa.Table:
    if "source" not in table.column_names or table.num_rows == 0:
        return table
    index = table.column_names.index("source")
    column = table.column(index)
    fixed = pc.if_else(pc.equal(column, old), pa.scalar(new, column.type), column)
    return table.set_column(index, table.field(index), fixed)


def _relabel(result: ReadResult, old: str, label: str, lines_before: int) -> ReadResult:
    tables = {name: _renamed(table, old, label) for name, table in result.tables.items()}
    rejects = _renamed(result.rejects, old, label)
    if lines_before and rejects.num_rows:
        index = rejects.column_names.index("line")
        moved = pc.add(rejects.column(index), pa.scalar(lines_before, pa.int64()))
        rejects = rejects.set_column(index, rejects.field(index), moved)
    return ReadResult(result.format, tables, rejects)


def store(warehouse: Warehouse, result: ReadResult) -> dict[str, int]:
    """Upsert every table of ``result`` and its rejects; rows written per table."""
    written = {name: warehouse.write(name, table) for name, table in result.tables.items()}
    written["rejects"] = warehouse.write("rejects", result.rejects)
    return written
