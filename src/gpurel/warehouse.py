"""The warehouse: canonical tables on an Ibis backend (a DuckDB file by default).

Writes are idempotent: each table has a natural key (``schema.KEYS``) folded into a hidden
``_key`` column, and a row whose key is already stored replaces it (upsert). Ingesting the
same file twice therefore changes nothing, and a re-read file with corrected rows updates them.
"""

from __future__ import annotations

import os
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from gpurel import schema
from gpurel.errors import GpurelError

DEFAULT_PATH = "gpurel.duckdb"
ENV_VAR = "GPUREL_WAREHOUSE"
KEY = "_key"
_SEP = "\x1f"


def default_path() -> Path:
    """``$GPUREL_WAREHOUSE`` or ``./gpurel.duckdb``."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_PATH)


def _key_column(name: str, table: pa.Table) -> pa.Array:
    parts = []
    for column in schema.KEYS[name]:
        values = table.column(column)
        if pa.types.is_timestamp(values.type):
            values = values.cast(pa.int64())
        parts.append(pc.fill_null(values.cast(pa.string()), "\x00"))
    return pc.binary_join_element_wise(*parts, _SEP)


def _last_per_key(table: pa.Table) -> pa.Table:
    """Keep the last row of each key within one batch (later rows win, as with upserts)."""
    keys = table.column(KEY)
    indices = pa.array(range(table.num_rows), pa.int64())
    last = (
        pa.table({"k": keys, "i": indices})
        .group_by("k", use_threads=False)
        .aggregate([("i", "max")])
    )
    if last.num_rows == table.num_rows:
        return table
    return table.take(pc.sort_indices(last.column("i_max")))


class Warehouse:
    """Canonical tables in one Ibis backend connection."""

    def __init__(self, con: ibis.BaseBackend) -> None:
        self.con = con
        self._ensure_tables()

    @classmethod
    def open(cls, path: Path | str | None = None) -> Warehouse:
        """Open (creating if needed) a DuckDB warehouse file."""
        target = Path(path) if path is not None else default_path()
        if target.parent and not target.parent.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
        try:
            return cls(ibis.duckdb.connect(str(target)))
        except Exception as exc:  # duckdb raises its own IOException family
            raise GpurelError(f"{target}: cannot open warehouse: {exc}") from exc

    @classmethod
    def in_memory(cls) -> Warehouse:
        """A throwaway DuckDB warehouse (tests, simulations)."""
        return cls(ibis.duckdb.connect())

    def _ensure_tables(self) -> None:
        existing = set(self.con.list_tables())
        for name, table_schema in schema.TABLES.items():
            if name not in existing:
                stored = table_schema.append(pa.field(KEY, pa.string(), nullable=False))
                self.con.create_table(name, schema=ibis.schema(stored))

    def write(self, name: str, table: pa.Table) -> int:
        """Upsert rows into canonical table ``name``; returns the number of rows written."""
        if table.num_rows == 0:
            return 0
        rows = schema.conform(name, table)
        rows = _last_per_key(rows.append_column(KEY, _key_column(name, rows)))
        self.con.upsert(name, rows, on=KEY)
        return rows.num_rows

    def table(self, name: str) -> ir.Table:
        """Canonical table ``name`` as an Ibis expression (without the hidden key)."""
        return self.con.table(name).drop(KEY)

    def jobs(self) -> ir.Table:
        """``jobs`` with ``attempt``: 1-based rank of each row within its (cluster, job_id)."""
        jobs = self.table("jobs")
        order = [jobs.submit_time, jobs.start_time, jobs.end_time]
        rank = ibis.row_number().over(group_by=[jobs.cluster, jobs.job_id], order_by=order)
        return jobs.mutate(attempt=(rank + 1).cast("int32"))

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        """Compute a derived table (e.g. ``failures``) in the engine and store it under ``name``."""
        if name in schema.TABLES:
            raise GpurelError(f"{name!r} is a canonical table; derived tables need another name")
        return self.con.create_table(name, expr, overwrite=True)

    def counts(self) -> dict[str, int]:
        """Rows per canonical table."""
        return {name: int(self.table(name).count().execute()) for name in schema.TABLES}

    def close(self) -> None:
        """Release the connection (and the file lock)."""
        self.con.disconnect()
