"""Canonical tables as a directory of partitioned Parquet files, written with upserts.

Layout under the warehouse directory ``ROOT`` (hive-style, by cluster and UTC month)::

    ROOT/jobs/cluster=rsc1/month=2024-06/part-0.parquet
    ROOT/steps/cluster=rsc1/month=2024-06/part-0.parquet
    ROOT/node_events/cluster=rsc1/month=2024-06/part-0.parquet
    ROOT/nodes/cluster=rsc1/part-0.parquet        (no time in its key)
    ROOT/rejects/part-0.parquet                   (no cluster, no time in its key)

- The month comes from a time in the natural key (jobs: submit, else start; steps: start;
  node_events: time; ``none`` when null), so a row's partition follows from its key and an
  upserted row replaces its stored version in the one partition that can hold it.
- Every file holds every column (``cluster`` too), sorted by the natural
  key: each is a self-contained piece of its table. Engines reading a table directory with
  hive discovery (Spark, DuckDB) see one extra ``month`` column; ``Warehouse`` drops it.
- A write touches only the partitions its rows fall in: each is streamed through DuckDB (its
  stored rows whose key the batch lacks, then the batch, sorted; a sort larger than
  SORT_MEMORY spills to a hidden directory under ``ROOT``), written to a hidden temporary
  file next to it and renamed over it (``os.replace``, atomic on POSIX). Memory stays bounded
  whatever the partition's size. A reader sees a partition before or after a write, never
  half of one. A batch spanning several partitions is not atomic as a whole, but rerunning it
  converges: writes are idempotent upserts.
- One writer at a time (``WriterLock``): the writer holds an ``flock`` on ``ROOT/.gpurel.lock``,
  which names its process. A second writer does not wait: it fails at once with a message
  naming the holder's PID and command, as a second writer of a DuckDB file does, so a
  scheduled run never piles up behind a stuck one. Readers take no lock. Under the lock,
  temporary files and spill directories left by a killed writer are removed.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gpurel import schema
from gpurel.errors import GpurelError

PART_FILE = "part-0.parquet"
LOCK_FILE = ".gpurel.lock"
SPILL_DIR = ".gpurel-spill"  # DuckDB's temporary files while it sorts a large partition
SORT_MEMORY = "384MB"  # DuckDB's memory for merging one partition; beyond it, it spills
BATCH_ROWS = 131_072  # rows per streamed batch, and per row group of a rewritten partition
_TEMPORARY = re.compile(rf"\.{re.escape(PART_FILE)}\.\d+\.tmp")
NO_MONTH = "none"
# Key columns whose UTC month partitions each table (the first non-null one is used).
MONTH_FROM: dict[str, tuple[str, ...]] = {
    "jobs": ("submit_time", "start_time"),
    "steps": ("start_time",),
    "node_events": ("time",),
}


def table_dir(root: Path, name: str) -> Path:
    """The directory of table ``name``."""
    return root / name


def data_files(root: Path, name: str) -> list[Path]:
    """The Parquet files of table ``name`` (hidden temporary files excluded)."""
    return sorted(table_dir(root, name).rglob(PART_FILE))


def _segment(column: str, value: str) -> str:
    """``column=value`` with the value escaped for a path (and never hidden by a leading dot)."""
    escaped = quote(value, safe="")
    return f"{column}={'%2E' + escaped[1:] if escaped.startswith('.') else escaped}"


def _months(name: str, rows: pa.Table) -> pa.Array:
    """``YYYY-MM`` (UTC) of each row's first month key time, ``none`` when it has none.

    Formatted once per distinct month: formatting every row's time costs more than the rest.
    """
    times = [rows.column(c) for c in MONTH_FROM[name]]
    first = pc.coalesce(*times) if len(times) > 1 else times[0]
    numbers = pc.add(pc.multiply(pc.year(first), 100), pc.month(first))
    distinct = pc.dictionary_encode(pc.fill_null(numbers, -1).combine_chunks())
    labels = [
        NO_MONTH if n < 0 else f"{n // 100:04d}-{n % 100:02d}"
        for n in distinct.dictionary.to_pylist()
    ]
    return pa.array(labels, pa.string()).take(distinct.indices)


def partitions(name: str, rows: pa.Table) -> pa.Array:
    """The partition directory (relative to the table's) of every row; "" if unpartitioned."""
    parts: list[pa.Array] = []
    if "cluster" in rows.column_names:
        clusters = pc.dictionary_encode(rows.column("cluster").combine_chunks())
        escaped = [_segment("cluster", c) for c in clusters.dictionary.to_pylist()]
        parts.append(pa.array(escaped, pa.string()).take(clusters.indices))
    if name in MONTH_FROM:
        months = _months(name, rows)
        parts.append(pc.binary_join_element_wise("month=", months, ""))
    if not parts:
        return pa.array([""] * rows.num_rows, pa.string())
    return pc.binary_join_element_wise(*parts, "/") if len(parts) > 1 else parts[0]


def _split(rows: pa.Table, labels: pa.Array) -> Iterator[tuple[str, pa.Table]]:
    """The rows of each distinct label."""
    encoded = pc.dictionary_encode(labels)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    ordered = rows.take(pa.array(np.argsort(codes, kind="stable")))
    counts = np.bincount(codes, minlength=len(encoded.dictionary))
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    for label, start, count in zip(encoded.dictionary.to_pylist(), starts, counts, strict=True):
        yield label, ordered.slice(int(start), int(count))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def same_key(name: str, left: str, right: str) -> str:
    """SQL: rows ``left`` and ``right`` of table ``name`` have the same natural key (nulls
    equal)."""
    return " AND ".join(
        f"{left}.{_quoted(c)} IS NOT DISTINCT FROM {right}.{_quoted(c)}" for c in schema.KEYS[name]
    )


def _merged(
    con: duckdb.DuckDBPyConnection, path: Path, rows: pa.Table, name: str
) -> pa.RecordBatchReader:
    """The partition at ``path`` with ``rows`` upserted (by natural key), sorted by it.

    Streamed: DuckDB scans the stored file, drops the rows whose key ``rows`` holds, and
    sorts within its memory limit. A stored column ``rows`` lacks (the key column of files
    written by earlier versions) is left behind.
    """
    columns = ", ".join(_quoted(c) for c in rows.column_names)
    con.register("incoming", rows)
    query = f"SELECT {columns} FROM incoming"
    if path.exists():
        stored = str(path).replace("'", "''")
        kept = ", ".join(f"stored.{_quoted(c)}" for c in rows.column_names)
        query = (
            f"SELECT {kept} FROM read_parquet('{stored}', hive_partitioning = false) AS stored "
            f"ANTI JOIN incoming ON {same_key(name, 'stored', 'incoming')} "
            f"UNION ALL {query}"
        )
    order = ", ".join(f"{_quoted(c)} ASC NULLS LAST" for c in schema.KEYS[name])
    return con.execute(f"{query} ORDER BY {order}").to_arrow_reader(BATCH_ROWS)


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def replace_file(path: Path, batches: pa.RecordBatchReader, target: pa.Schema) -> None:
    """Write ``batches`` to ``path`` through a hidden temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary(path)
    try:
        with pq.ParquetWriter(temporary, target, compression="zstd") as writer:
            for batch in batches:
                writer.write_batch(batch.cast(target))
        with temporary.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def upsert(root: Path, name: str, rows: pa.Table) -> None:
    """Upsert ``rows`` (unique in their natural key) into table ``name``, one partition at a
    time.

    The caller holds the ``WriterLock`` of ``root``.
    """
    spill = str(root / SPILL_DIR).replace("'", "''")
    with duckdb.connect() as con:
        con.execute(f"SET memory_limit = '{SORT_MEMORY}'")
        con.execute(f"SET temp_directory = '{spill}'")
        for partition, part_rows in _split(rows, partitions(name, rows)):
            path = table_dir(root, name) / partition / PART_FILE
            try:
                replace_file(path, _merged(con, path, part_rows, name), rows.schema)
            except duckdb.Error as exc:  # e.g. out of memory, or a damaged stored file
                reason = str(exc).strip().splitlines()[0]
                raise GpurelError(f"{path}: cannot merge the new rows: {reason}") from exc
            con.unregister("incoming")


def remove_leftovers(root: Path) -> None:
    """Remove the temporary files and spill directory a killed writer left.

    Only under the ``WriterLock``: another writer's files in progress look the same.
    """
    for path in root.rglob(".*.tmp"):
        if _TEMPORARY.fullmatch(path.name) and path.is_file():
            path.unlink(missing_ok=True)
    shutil.rmtree(root / SPILL_DIR, ignore_errors=True)


class WriterLock:
    """The one-writer lock of a Parquet warehouse: an ``flock`` on ``ROOT/.gpurel.lock``.

    The file holds the holder's PID and command line, for the message a second writer gets.
    The lock ends with ``release`` or with the process (the kernel drops it on a kill).
    """

    def __init__(self, root: Path, descriptor: int) -> None:
        self.root = root
        self._descriptor = descriptor

    @classmethod
    def acquire(cls, root: Path) -> WriterLock:
        """Take the lock (creating ``root``), or a GpurelError naming the process that holds it.

        Removes what a killed writer left behind once the lock is held.
        """
        root.mkdir(parents=True, exist_ok=True)
        path = root / LOCK_FILE
        while True:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(descriptor, 4096, 0).decode(errors="replace").strip()
                os.close(descriptor)
                pid, _, command = holder.partition(" ")
                who = f"process {pid} ({command})" if pid.isdigit() else "another process"
                raise GpurelError(
                    f"{root}: {who} is writing this warehouse; one writer at a time: "
                    "retry when it has finished"
                ) from None
            if _same_file(descriptor, path):  # not a lock file a releasing writer removed
                break
            os.close(descriptor)
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()} {' '.join(sys.argv)}\n".encode())
        remove_leftovers(root)
        return cls(root, descriptor)

    def release(self, *, remove: bool = False) -> None:
        """Drop the lock; with ``remove``, first delete the lock file (and the spill directory)."""
        shutil.rmtree(self.root / SPILL_DIR, ignore_errors=True)
        if remove:
            (self.root / LOCK_FILE).unlink(missing_ok=True)
        os.close(self._descriptor)


def _same_file(descriptor: int, path: Path) -> bool:
    try:
        return os.fstat(descriptor).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False
