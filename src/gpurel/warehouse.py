"""The warehouse: canonical tables on an Ibis backend (a DuckDB file by default).

Where the tables live and which engine queries them:

- a DuckDB file (``gpurel.duckdb``): tables in the file, queried by DuckDB;
- a Parquet directory (``parquet_store``: partitioned by cluster and month), queried by an
  in-memory DuckDB or by Spark (``engines``), written by gpurel itself;
- an Ibis connection URL (``duckdb:///x.duckdb``, ``pyspark://``, ``trino://...``): tables in
  that engine's catalog, under their canonical names (plus a hidden key column on engines
  other than DuckDB).

Writes are idempotent: each table has a natural key (``schema.KEYS``), and a row whose key is
already stored replaces it (upsert); within one write the last row of a key wins. Ingesting
the same file twice therefore changes nothing, and a re-read file with corrected rows updates
them. DuckDB and the Parquet store match keys column by column (nulls equal); other engines
upsert on one column, so their tables hold the key folded into a hidden ``_key`` column.
Derived tables (``materialize``) are stored in a DuckDB catalog (a temporary table when the
file is open read-only); on other warehouses they live in the engine session (cached), for as
long as the warehouse is open.
Side tables (``side``, ``upsert_side``, ``replace_side``) hold what is no canonical table and
no analysis reads: the collector's resume points, drain records, a simulation's ground truth.
A DuckDB file keeps them in its catalog, a Parquet directory one file each under ``_side/``.

Readers and writers:

- ``Warehouse.open(..., read_only=True)`` is for commands that only read: it never creates a
  warehouse (a missing one is ``NoWarehouse``: "ingest first"), and any number of readers
  can use one DuckDB file or Parquet directory together.
- A writer (the default) creates what is missing. One writer at a time: a DuckDB file is
  locked by DuckDB for as long as it is open (readers included: a writer and a reader of
  one file exclude each other); a Parquet directory by ``parquet_store.WriterLock`` from
  ``claim`` (or the first write) until ``close``. Either way a second writer fails at once
  with one line naming the process that holds the lock; it does not wait.
- A writer that created the warehouse and stored nothing removes it on ``close``, so a
  failed ingest leaves no empty warehouse behind.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gpurel import engines, env_names, parquet_store, schema
from gpurel.errors import ConfigError, GpurelError

DEFAULT_PATH = "gpurel.duckdb"
ENV_VAR = env_names.WAREHOUSE
DUCKDB_SUFFIXES = (".duckdb", ".db", ".ddb")
KEY = "_key"
_ROW = "_row"  # a batch's row numbers, while its keys are grouped
NUMBERED_JOBS = "jobs with attempt"  # the engine's cache of ``Warehouse.jobs()``
_SEP = "\x1f"
SIDE_DIR = "_side"  # of the side tables in a Parquet warehouse


_DUCKDB_LOCK = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")


class NoWarehouse(GpurelError):
    """A reader was pointed at a warehouse that does not exist."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"no warehouse at {path}: ingest first")
        self.path = path


def default_path() -> Path:
    """``$GPUREL_WAREHOUSE`` or ``./gpurel.duckdb``."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_PATH)


def is_parquet_dir(path: Path) -> bool:
    """An existing directory, or a new path without a DuckDB suffix (.duckdb, .db, .ddb)."""
    if path.exists():
        return path.is_dir()
    return path.suffix.lower() not in DUCKDB_SUFFIXES


def stored_schema(name: str, *, keyed: bool = False) -> pa.Schema:
    """Canonical table ``name`` as stored: its schema, plus the hidden key when ``keyed``."""
    table_schema = schema.TABLES[name]
    return (
        table_schema.append(pa.field(KEY, pa.string(), nullable=False)) if keyed else table_schema
    )


def _key_column(name: str, table: pa.Table) -> pa.Array:
    parts = []
    for column in schema.KEYS[name]:
        values = table.column(column)
        if pa.types.is_timestamp(values.type):
            values = values.cast(pa.int64())
        parts.append(pc.fill_null(values.cast(pa.string()), "\x00"))
    return pc.binary_join_element_wise(*parts, _SEP)


def _last_per_key(name: str, table: pa.Table) -> pa.Table:
    """Keep the last row of each natural key within one batch (later rows win, as with
    upserts); nulls in a key are equal."""
    keys = list(schema.KEYS[name])
    if _keys_distinct(table.select(keys)):
        return table
    numbered = table.select(keys).append_column(_ROW, pa.array(np.arange(table.num_rows)))
    last = numbered.group_by(keys, use_threads=False).aggregate([(_ROW, "max")])
    if last.num_rows == table.num_rows:
        return table
    positions = last.column(f"{_ROW}_max")
    return table.take(positions.take(pc.sort_indices(positions)))


def _keys_distinct(keys: pa.Table) -> bool:
    """True when no two rows share a key, told by DuckDB's row hashes in parallel: rows of
    one key hash alike, so as many distinct hashes as rows proves every key distinct (a
    collision only sends the batch the exact way)."""
    con = duckdb.connect()
    try:
        columns = ", ".join(f'"{c}"' for c in keys.column_names)
        con.register("batch_keys", keys)
        row = con.execute(f"SELECT count(DISTINCT hash({columns})) FROM batch_keys").fetchone()
    finally:
        con.close()
    return row is not None and row[0] == keys.num_rows


def _typed(table: ir.Table, target: ibis.Schema) -> ir.Table:
    """``table`` with the types of ``target`` where the engine reports others.

    E.g. Spark's timestamps, instants in UTC, come back from Ibis without their time zone.
    """
    casts = {
        column: dtype
        for column, dtype in target.items()
        if column in table.columns
        and table[column].type().copy(nullable=True) != dtype.copy(nullable=True)
    }
    return table.cast(casts) if casts else table


def _replace_rows(con: duckdb.DuckDBPyConnection, name: str, rows: pa.Table) -> None:
    """Upsert on DuckDB in one transaction: delete the stored rows of the keys, insert all.

    Faster than a MERGE; the insert need not keep the batch's row order, so DuckDB spreads
    it over its threads. Keys are matched column by column: no key column is stored.
    """
    staged = f"_gpurel_incoming_{name}"
    con.register(staged, rows)
    con.begin()
    try:
        match = parquet_store.same_key(name, "stored", "incoming")
        con.execute(f'DELETE FROM "{name}" AS stored USING {staged} AS incoming WHERE {match}')
        con.execute("SET preserve_insertion_order = false")
        con.execute(f'INSERT INTO "{name}" SELECT * FROM {staged}')
        con.commit()
    except BaseException:
        con.rollback()
        raise
    finally:
        con.execute("RESET preserve_insertion_order")
        con.unregister(staged)


class Warehouse:
    """Canonical tables in one Ibis backend connection, stored there or in a Parquet directory."""

    def __init__(
        self,
        con: ibis.BaseBackend,
        parquet: Path | None = None,
        *,
        read_only: bool = False,
        created: list[Path] | None = None,
    ) -> None:
        """``created``: the file or directories this open made (or will make, for a Parquet
        directory), outermost first: removed on ``close`` if nothing was stored."""
        self.con = con
        self.parquet = parquet
        self.read_only = read_only
        self._created = created or []
        self._lock: parquet_store.WriterLock | None = None
        self._keep: dict[str, ir.Table] = {}  # what the engine must keep: sources, caches
        self._ensure_tables()

    @classmethod
    def open(
        cls, target: Path | str | None = None, engine: str | None = None, *, read_only: bool = False
    ) -> Warehouse:
        """Open a DuckDB file, a Parquet directory, or an Ibis URL; a writer creates them.

        ``target`` defaults to ``default_path()``; ``is_parquet_dir`` tells a Parquet
        directory from a DuckDB file. ``engine`` (``engines.choose``) queries a Parquet
        directory; a DuckDB file needs duckdb, and a URL names its own engine. With
        ``read_only`` nothing is created or written (a missing path is ``NoWarehouse``).
        """
        if isinstance(target, str) and engines.is_url(target):
            if engine is not None:
                raise ConfigError(f"{target}: a warehouse URL names its engine; drop --engine")
            return cls(engines.connect_url(target, read_only=read_only), read_only=read_only)
        path = Path(target) if target is not None else default_path()
        name = engines.choose(engine)
        parquet = is_parquet_dir(path)
        if not parquet and name != "duckdb":
            raise ConfigError(
                f"{path}: a DuckDB file needs the duckdb engine; {name} reads Parquet warehouses"
            )
        if read_only and not path.exists():
            raise NoWarehouse(path)
        if parquet:
            created = _missing(path)  # made by the first write
            return cls(engines.connect(name), parquet=path, read_only=read_only, created=created)
        return cls._duckdb_file(path, read_only)

    @classmethod
    def _duckdb_file(cls, path: Path, read_only: bool) -> Warehouse:
        created = _missing(path)
        if len(created) > 1:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = ibis.duckdb.connect(str(path), read_only=read_only)
        except Exception as exc:  # duckdb raises its own IOException family
            _remove_empty(created[:-1])
            raise GpurelError(_open_error(path, exc)) from exc
        return cls(con, read_only=read_only, created=created)

    @classmethod
    def in_memory(cls) -> Warehouse:
        """A throwaway DuckDB warehouse (tests, simulations)."""
        return cls(ibis.duckdb.connect())

    def _ensure_tables(self) -> None:
        if self.parquet is not None:
            for name in schema.TABLES:
                self._register(name)
            return
        existing = set(self.con.list_tables())
        keyed = self.con.name != "duckdb"
        for name in schema.TABLES:
            if name not in existing:  # read-only: an empty table for this session
                table_schema = ibis.schema(stored_schema(name, keyed=keyed))
                self.con.create_table(name, schema=table_schema, temp=self.read_only)
            elif not keyed and not self.read_only and KEY in self.con.table(name).columns:
                self.con.con.execute(f'ALTER TABLE "{name}" DROP COLUMN {KEY}')  # stored before

    def _register(self, name: str) -> None:
        """Point the engine's view ``name`` at the table's Parquet files (or an empty table)."""
        assert self.parquet is not None
        columns = stored_schema(name).names
        if parquet_store.data_files(self.parquet, name):
            directory = parquet_store.table_dir(self.parquet, name)
            source = self.con.read_parquet(directory, table_name=f"{name}_parquet")
        else:
            source = ibis.memtable(stored_schema(name).empty_table())
        self.con.create_view(name, source.select(*columns), overwrite=True)
        self._keep[name] = source

    def write(self, name: str, table: pa.Table) -> int:
        """Upsert rows into canonical table ``name``; returns the number of rows written."""
        self.claim()
        if table.num_rows == 0:
            return 0
        rows = _last_per_key(name, schema.conform(name, table))
        if self.parquet is None:
            self._upsert(name, rows)
        else:
            parquet_store.upsert(self.parquet, name, rows)
            self._register(name)
        if name == "jobs":
            self._keep.pop(NUMBERED_JOBS, None)
        return rows.num_rows

    def claim(self) -> None:
        """Take the writer lock now (a DuckDB file holds it from its opening; a Parquet
        directory otherwise from the first write), or a GpurelError naming its holder."""
        if self.read_only:
            raise GpurelError("cannot write: the warehouse is open read-only")
        if self.parquet is not None and self._lock is None:
            self._lock = parquet_store.WriterLock.acquire(self.parquet)

    def _upsert(self, name: str, rows: pa.Table) -> None:
        if self.con.name == "duckdb":
            _replace_rows(self.con.con, name, rows)
            return
        try:
            self.con.upsert(name, rows.append_column(KEY, _key_column(name, rows)), on=KEY)
        except Exception as exc:  # each engine raises its own family
            raise GpurelError(
                f"{self.con.name} cannot upsert into {name!r} ({exc}); ingest into a DuckDB "
                "file or a Parquet warehouse directory instead"
            ) from exc

    def table(self, name: str) -> ir.Table:
        """Canonical table ``name`` as an Ibis expression (without the hidden key)."""
        table = self.con.table(name)
        table = table.drop(KEY) if KEY in table.columns else table
        return _typed(table, ibis.schema(schema.TABLES[name]))

    def jobs(self) -> ir.Table:
        """``jobs`` with ``attempt``: 1-based rank of each row within its (cluster, job_id).

        Numbered once in the engine and cached there until ``jobs`` is next written: every
        metric reads it, and the engines would otherwise number every attempt each time.
        """
        if NUMBERED_JOBS not in self._keep:
            jobs = self.table("jobs")
            order = [jobs.submit_time, jobs.start_time, jobs.end_time]
            rank = ibis.row_number().over(group_by=[jobs.cluster, jobs.job_id], order_by=order)
            self._keep[NUMBERED_JOBS] = jobs.mutate(attempt=(rank + 1).cast("int32")).cache()
        return _typed(self._keep[NUMBERED_JOBS], ibis.schema(schema.TABLES["jobs"]))

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        """Compute a derived table (e.g. ``failures``) in the engine, once, named ``name``.

        Stored in a DuckDB catalog (for this session only if read-only: a temporary table,
        which hides a stored one of that name); elsewhere a view of the engine's cache of
        ``expr``.
        """
        if name in schema.TABLES:
            raise GpurelError(f"{name!r} is a canonical table; derived tables need another name")
        if self.parquet is None and self.con.name == "duckdb":
            return self.con.create_table(name, expr, overwrite=True, temp=self.read_only)
        # a view first: it registers the in-memory tables of ``expr``, which caching on
        # PySpark (Ibis 12) does not
        cached = self.con.create_view(f"{name}_query", expr, overwrite=True).cache()
        view = self.con.create_view(name, cached, overwrite=True)
        self._keep[name] = cached
        return _typed(view, expr.schema())

    def derived(self, name: str) -> ir.Table:
        """The derived table ``name`` made by ``materialize`` (or stored by an earlier
        writer in a DuckDB file)."""
        if name in self._keep:
            return self.con.table(name)
        if self.parquet is None and name in self.con.list_tables():
            return self.con.table(name)
        raise GpurelError(f"no derived table {name!r}: it is made by an analysis of this warehouse")

    def _side_file(self, name: str) -> Path | None:
        """The file of side table ``name`` in a Parquet warehouse, else None."""
        if name in schema.TABLES:
            raise GpurelError(f"{name!r} is a canonical table, not a side table")
        return None if self.parquet is None else self.parquet / SIDE_DIR / f"{name}.parquet"

    def has_side(self, name: str) -> bool:
        """Whether side table ``name`` has been written."""
        path = self._side_file(name)
        return name in self.con.list_tables() if path is None else path.exists()

    def side(self, name: str, table_schema: pa.Schema) -> ir.Table:
        """Side table ``name`` (empty, with ``table_schema``, before its first write)."""
        path = self._side_file(name)
        if path is None and name in self.con.list_tables():
            return self.con.table(name)
        if path is not None and path.exists():
            return ibis.memtable(pq.read_table(path, schema=table_schema))
        return ibis.memtable(table_schema.empty_table())

    def upsert_side(self, name: str, table_schema: pa.Schema, rows: pa.Table, on: str) -> None:
        """Store ``rows`` in side table ``name``, replacing the stored rows of the same ``on``."""
        self.claim()
        path = self._side_file(name)
        if path is None:
            if name not in self.con.list_tables():
                self.con.create_table(name, schema=ibis.schema(table_schema))
            self.con.upsert(name, rows.cast(table_schema), on=on)
            return
        stored = pq.read_table(path, schema=table_schema) if path.exists() else None
        if stored is not None:
            rows = pa.concat_tables(
                [stored.filter(pc.invert(pc.is_in(stored[on], rows[on]))), rows.cast(table_schema)]
            )
        parquet_store.replace_file(path, rows.to_reader(), table_schema)

    def replace_side(self, name: str, rows: pa.Table) -> None:
        """Replace side table ``name`` with ``rows``."""
        self.claim()
        path = self._side_file(name)
        if path is None:
            self.con.create_table(name, rows, overwrite=True)
        else:
            parquet_store.replace_file(path, rows.to_reader(), rows.schema)

    def fetch(self, expr: ir.Table) -> pa.Table:
        """Run ``expr`` (in-memory tables included) on this warehouse's engine."""
        return self.con.to_pyarrow(expr)

    def scalar(self, expr: ir.Scalar) -> Any:
        """The value of scalar expression ``expr``, computed by this warehouse's engine."""
        return self.con.execute(expr)

    def counts(self) -> dict[str, int]:
        """Rows per canonical table."""
        return {name: int(self.table(name).count().execute()) for name in schema.TABLES}

    def close(self) -> None:
        """Release the engine's caches, the connection and the locks.

        A warehouse this writer created and stored nothing in is removed. A Spark session is
        left running: it belongs to the process, shared by every ``getOrCreate``, and ends
        with it.
        """
        for kept in self._keep.values():
            if isinstance(kept, ir.CachedTable):
                kept.release()
        self._keep.clear()
        if self.parquet is not None:
            self._close_parquet()
        elif self._created and self._stores_nothing():
            # removed while DuckDB's lock is held: no other process can have written to it
            self._created[-1].unlink(missing_ok=True)
            self.con.disconnect()
            Path(f"{self._created[-1]}.wal").unlink(missing_ok=True)
            _remove_empty(self._created[:-1])
            return
        if self.con.name != "pyspark":
            self.con.disconnect()

    def _close_parquet(self) -> None:
        assert self.parquet is not None
        if self._lock is None:
            return
        empty = bool(self._created) and not any(
            parquet_store.data_files(self.parquet, name) for name in schema.TABLES
        )
        self._lock.release(remove=empty)
        self._lock = None
        if empty:
            _remove_tree(self.parquet)
            _remove_empty(self._created[:-1])

    def _stores_nothing(self) -> bool:
        """True when no table in the DuckDB file holds a row."""
        con: duckdb.DuckDBPyConnection = self.con.con
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT temporary"
        ).fetchall()
        for schema_name, table_name in tables:
            query = f'SELECT count(*) FROM "{schema_name}"."{table_name}"'
            if con.execute(query).fetchone() != (0,):
                return False
        return True


def _missing(path: Path) -> list[Path]:
    """``path`` and those of its parents that do not exist, outermost first."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    return missing[::-1]


def _remove_empty(directories: list[Path]) -> None:
    """Remove each of ``directories`` (innermost first) that is empty."""
    for directory in reversed(directories):
        try:
            directory.rmdir()
        except OSError:  # not empty, or already gone: keep
            return


def _remove_tree(root: Path) -> None:
    """Remove the empty directories under and at ``root``; anything holding a file stays."""
    for directory, _, _ in os.walk(root, topdown=False):  # the deepest first
        with contextlib.suppress(OSError):  # holds a file: keep
            os.rmdir(directory)


def _open_error(path: Path, exc: Exception) -> str:
    """One line: which process holds the lock, else what DuckDB says first."""
    held = _DUCKDB_LOCK.search(str(exc))
    if held:
        return (
            f"{path}: in use by process {held['pid']} ({held['program']}); a DuckDB warehouse "
            "has one writer or any number of readers: retry when it has finished"
        )
    if "different configuration" in str(exc):
        return f"{path}: already open in this process in the other mode (read-only or not)"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{path}: cannot open warehouse: {first}"
