"""A synthetic cluster for the analysis bench: numpy → Arrow → a warehouse, month by month.

Shape (per node-day, the same at every size, so that only the period grows with the size):
2,000 nodes of 8 GPUs; ``EVENTS_PER_NODE_DAY`` health-check records (most pass; ``fail_share``
fail, ``warn_share`` warn) of the taxonomy's categories at uniform times; one job attempt per
``EVENTS_PER_JOB`` records: lognormal runtimes (median 1 h, up to 7 days), power-of-two sizes
from 1 GPU to 2,048, contiguous node ranges, 3% requeued attempts, 200,000 job names drawn
uniformly (so that runs chain), and 40% of the interrupted attempts (FAILED, NODE_FAIL) with a
failing check on their first node within the attribution window. At 10^8 records: 4M attempts
over 330 days.

Written as a Parquet warehouse directory in ``parquet_store``'s layout (one file per cluster
and month), then copied into a DuckDB warehouse file. Rows carry an empty hidden key (no
upserts: every row is new): fine to analyze, not to upsert into.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gpurel import parquet_store, schema, taxonomy
from gpurel.warehouse import Warehouse

CLUSTER = "bench"
NODES = 2_000
EVENTS_PER_NODE_DAY = 1e8 / (NODES * 330)
EVENTS_PER_JOB = 25  # 4M attempts per 10^8 records
START = datetime(2024, 1, 1, tzinfo=UTC)
US_PER_DAY = 86_400 * 1_000_000
CHUNK_ROWS = 4_000_000  # records generated at once (memory bound of the generator)
NODE_PREFIX = "node"
NODE_NAMES = pa.array([f"{NODE_PREFIX}{i:05d}" for i in range(NODES)])

STATES = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "REQUEUED")
STATE_P = (0.70, 0.14, 0.08, 0.03, 0.01, 0.02, 0.02)
GPUS = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048])
GPUS_P = np.array([0.22, 0.12, 0.12, 0.30, 0.08, 0.06, 0.04, 0.025, 0.015, 0.006, 0.003, 0.001])
QOS = ("low", "normal", "high")
NAMES = 200_000
USERS = 1_000


@dataclass(frozen=True)
class Size:
    """How much to generate: health-check records, and the attempts and days they imply."""

    events: int
    fail_share: float = 0.05
    warn_share: float = 0.02

    @property
    def jobs(self) -> int:
        return self.events // EVENTS_PER_JOB

    @property
    def days(self) -> float:
        return self.events / (NODES * EVENTS_PER_NODE_DAY)


def _months(days: float) -> Iterator[tuple[int, int]]:
    """[start, end) in microseconds since START of each calendar month of the period."""
    end = round(days * US_PER_DAY)
    year, month = START.year, START.month
    begin = 0
    while begin < end:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        bound = round((datetime(year, month, 1, tzinfo=UTC) - START).total_seconds() * 1e6)
        yield begin, min(bound, end)
        begin = bound


def _times(us: np.ndarray) -> pa.Array:
    return pa.array(us + int(START.timestamp() * 1_000_000), pa.int64()).cast(schema.TIME)


def _pick(values: tuple[str, ...] | list[str], codes: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(codes))


def _node_lists(first: np.ndarray, count: np.ndarray) -> pa.Array:
    offsets = np.concatenate(([0], np.cumsum(count)))
    within = np.arange(offsets[-1]) - np.repeat(offsets[:-1], count)
    values = NODE_NAMES.take(pa.array(np.repeat(first, count) + within))
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)


def _jobs(rng: np.random.Generator, n: int, t0: int, t1: int, first_id: int) -> pa.Table:
    """``n`` attempts submitted in [t0, t1) (microseconds since START)."""
    submit = np.sort(rng.integers(t0, t1, n))
    start = submit + (rng.exponential(600, n) * 1e6).astype(np.int64)
    runtime = np.clip(rng.lognormal(math.log(3600), 1.5, n), 60, 7 * 86_400)
    end = start + (runtime * 1e6).astype(np.int64)
    ids = np.arange(first_id, first_id + n)
    requeued = np.flatnonzero(rng.random(n) < 0.03)
    ids[requeued[requeued > 0]] = ids[requeued[requeued > 0] - 1]
    gpus = rng.choice(GPUS, n, p=GPUS_P / GPUS_P.sum())
    n_nodes = np.maximum(1, gpus // 8)
    first = rng.integers(0, NODES - n_nodes + 1)
    name = rng.integers(0, NAMES, n)
    return pa.table(
        {
            "cluster": pa.repeat(CLUSTER, n),
            "job_id": pa.array(ids).cast(pa.string()),
            "name": pc.binary_join_element_wise("train-", pa.array(name).cast(pa.string()), ""),
            "user": pc.binary_join_element_wise("u", pa.array(name % USERS).cast(pa.string()), ""),
            "account": pc.binary_join_element_wise(
                "a", pa.array(name % USERS % 100).cast(pa.string()), ""
            ),
            "partition": pa.repeat("gpu", n),
            "qos": _pick(QOS, rng.choice(len(QOS), n, p=(0.2, 0.7, 0.1))),
            "submit_time": _times(submit),
            "eligible_time": _times(submit),
            "start_time": _times(start),
            "end_time": _times(end),
            "state": _pick(STATES, rng.choice(len(STATES), n, p=STATE_P)),
            "n_nodes": pa.array(n_nodes, pa.int32()),
            "n_gpus": pa.array(gpus, pa.int32()),
            "nodes": _node_lists(first, n_nodes),
            "source": pa.repeat("bench", n),
        }
    )


def _events(rng: np.random.Generator, n: int, t0: int, t1: int, size: Size) -> pa.Table:
    """``n`` health-check records in [t0, t1) on random nodes."""
    categories = taxonomy.default().categories
    names = list(categories)
    category = rng.integers(0, len(names), n)
    draw = rng.random(n)
    result = np.where(
        draw < size.fail_share, 0, np.where(draw < size.fail_share + size.warn_share, 1, 2)
    )
    return _event_table(
        node=rng.integers(0, NODES, n),
        time=rng.integers(t0, t1, n),
        category=_pick(names, category),
        domain=_pick([categories[c].domain for c in names], category),
        severity=_pick([categories[c].severity for c in names], category),
        result=_pick(("fail", "warn", "ok"), result),
    )


def _event_table(node: np.ndarray, time: np.ndarray, **columns: pa.Array) -> pa.Table:
    n = len(node)
    return pa.table(
        {
            "cluster": pa.repeat(CLUSTER, n),
            "node": NODE_NAMES.take(pa.array(node)),
            "time": _times(time),
            "source": pa.repeat("gcm", n),
            "check": columns["category"],
            **columns,
        }
    )


def _causes(rng: np.random.Generator, jobs: pa.Table, t0: int, t1: int) -> pa.Table:
    """A failing hardware check near the end of 40% of the interrupted attempts."""
    state = jobs["state"]
    hit = pc.and_(
        pc.is_in(state, pa.array(["FAILED", "NODE_FAIL"])), pa.array(rng.random(len(jobs)) < 0.4)
    )
    picked = jobs.filter(hit)
    end = picked["end_time"].cast(pa.int64()).to_numpy() - int(START.timestamp() * 1_000_000)
    time = end + rng.integers(-600, 301, len(picked)) * 1_000_000
    inside = (time >= t0) & (time < t1)
    first = pc.utf8_slice_codeunits(pc.list_element(picked["nodes"], 0), len(NODE_PREFIX))
    category = rng.choice(
        ["ib_link", "gpu_memory", "pcie", "nvlink", "gpu_unavailable"], inside.sum()
    )
    return _event_table(
        node=first.cast(pa.int64()).to_numpy()[inside],
        time=time[inside],
        category=pa.array(category, pa.string()),
        domain=pa.repeat("hardware", len(category)),
        severity=pa.repeat("high", len(category)),
        result=pa.repeat("fail", len(category)),
    )


def chunks(size: Size, seed: int = 0) -> Iterator[tuple[str, pa.Table]]:
    """(table name, canonical rows with an empty key), month by month, nodes first."""
    nodes = pa.table(
        {
            "cluster": pa.repeat(CLUSTER, NODES),
            "node": NODE_NAMES,
            "gpus": pa.repeat(pa.scalar(8, pa.int32()), NODES),
            "in_service_start": _times(np.zeros(NODES, np.int64)),
            "in_service_end": _times(np.full(NODES, round(size.days * US_PER_DAY))),
            "source": pa.repeat("inventory", NODES),
        }
    )
    yield "nodes", schema.conform("nodes", nodes)
    rng = np.random.default_rng(seed)
    total_us = size.days * US_PER_DAY
    first_id = 1
    for t0, t1 in _months(size.days):
        share = (t1 - t0) / total_us
        jobs = _jobs(rng, round(size.jobs * share), t0, t1, first_id)
        first_id += jobs.num_rows
        yield "jobs", schema.conform("jobs", jobs)
        causes = _causes(rng, jobs, t0, t1)
        yield "node_events", schema.conform("node_events", causes)
        remaining = max(0, round(size.events * share) - causes.num_rows)
        while remaining > 0:
            n = min(remaining, CHUNK_ROWS)
            yield "node_events", schema.conform("node_events", _events(rng, n, t0, t1, size))
            remaining -= n


def write_duckdb(parquet: Path, path: Path) -> None:
    """A DuckDB warehouse file holding the Parquet warehouse ``parquet`` (one CTAS a table)."""
    warehouse = Warehouse.open(path)
    raw = warehouse.con.con  # the duckdb connection: bulk copies, no upserts
    try:
        for name in schema.TABLES:
            if parquet_store.data_files(parquet, name):
                files = str(parquet_store.table_dir(parquet, name) / "**" / "*.parquet")
                raw.execute(
                    f"CREATE OR REPLACE TABLE {name} AS "
                    "SELECT * FROM read_parquet(?, hive_partitioning = false)",
                    [files],
                )
    finally:
        warehouse.close()


def write_parquet(size: Size, root: Path, seed: int = 0) -> None:
    """The synthetic cluster as a Parquet warehouse directory (one file per partition)."""
    writers: dict[Path, pq.ParquetWriter] = {}
    try:
        for name, rows in chunks(size, seed):
            partitions = parquet_store.partitions(name, rows)
            for partition in pc.unique(partitions).to_pylist():
                path = parquet_store.table_dir(root, name) / partition / parquet_store.PART_FILE
                part = rows.filter(pc.equal(partitions, partition))
                if path not in writers:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    writers[path] = pq.ParquetWriter(path, part.schema, compression="zstd")
                writers[path].write_table(part)
    finally:
        for writer in writers.values():
            writer.close()
