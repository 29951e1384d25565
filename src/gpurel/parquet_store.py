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
- Every file holds every column (``cluster`` too) and the hidden key, sorted by the natural
  key: each is a self-contained piece of its table. Engines reading a table directory with
  hive discovery (Spark, DuckDB) see one extra ``month`` column; ``Warehouse`` drops it.
- A write touches only the partitions its rows fall in: each is read, stripped of the rows
  whose key the batch holds, merged with the batch, written to a hidden temporary file next
  to it and renamed over it (``os.replace``, atomic on POSIX). A reader sees a partition
  before or after a write, never half of one. A batch spanning several partitions is not
  atomic as a whole, but rerunning it converges: writes are idempotent upserts.
- One writer at a time: concurrent writers of one partition can lose each other's rows.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gpurel import schema

PART_FILE = "part-0.parquet"
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


def _merged(path: Path, rows: pa.Table, name: str, key: str) -> pa.Table:
    """The partition at ``path`` with ``rows`` upserted (by ``key``), sorted by natural key."""
    if path.exists():
        stored = pq.read_table(path).cast(rows.schema)
        kept = stored.filter(pc.invert(pc.is_in(stored.column(key), value_set=rows.column(key))))
        rows = pa.concat_tables([kept, rows])
    return rows.sort_by([(column, "ascending") for column in schema.KEYS[name]])


def _replace(path: Path, table: pa.Table) -> None:
    """Write ``table`` to ``path`` through a hidden temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, temporary, compression="zstd")
        with temporary.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def upsert(root: Path, name: str, rows: pa.Table, key: str) -> None:
    """Upsert ``rows`` (unique in ``key``) into table ``name``, one partition at a time."""
    for partition, part_rows in _split(rows, partitions(name, rows)):
        path = table_dir(root, name) / partition / PART_FILE
        _replace(path, _merged(path, part_rows, name, key))
