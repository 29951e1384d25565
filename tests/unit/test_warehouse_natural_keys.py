"""Upserts match natural keys column by column (nulls equal), and warehouses written with the
hidden key column of earlier versions keep working."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gpurel import parquet_store, schema
from gpurel.warehouse import KEY, Warehouse

WHEN = datetime(2024, 5, 1, tzinfo=UTC)


def _jobs(*rows: tuple[str, datetime | None, str]) -> pa.Table:
    """Jobs of (job_id, submit and start time, state)."""
    return pa.Table.from_pylist(
        [
            {
                "cluster": "c1",
                "job_id": j,
                "submit_time": t,
                "start_time": t,
                "state": s,
                "source": "test",
            }
            for j, t, s in rows
        ]
    )


def _states(warehouse: Warehouse) -> list[tuple[str, str]]:
    table = warehouse.fetch(warehouse.table("jobs").select("job_id", "state"))
    return sorted(zip(table["job_id"].to_pylist(), table["state"].to_pylist(), strict=True))


@pytest.mark.parametrize("kind", ["w.duckdb", "lake"])
def test_null_key_parts_match_across_and_within_writes(tmp_path: Path, kind: str) -> None:
    warehouse = Warehouse.open(tmp_path / kind)
    warehouse.write("jobs", _jobs(("1", None, "FAILED"), ("2", WHEN, "FAILED")))
    written = warehouse.write(
        "jobs", _jobs(("1", None, "RUNNING"), ("1", None, "COMPLETED"), ("3", WHEN, "FAILED"))
    )
    assert written == 2  # the batch's two rows of job 1 are one key: the last wins
    assert _states(warehouse) == [("1", "COMPLETED"), ("2", "FAILED"), ("3", "FAILED")]
    warehouse.close()


def test_a_duckdb_file_with_the_old_key_column_is_migrated_by_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:
        old = schema.conform("jobs", _jobs(("1", WHEN, "FAILED")))
        old = old.append_column(KEY, pa.array(["c1\x1f1\x1fx\x1fx"]))
        con.execute("CREATE TABLE jobs AS SELECT * FROM old")
    reader = Warehouse.open(path, read_only=True)
    assert _states(reader) == [("1", "FAILED")]
    reader.close()
    writer = Warehouse.open(path)
    writer.write("jobs", _jobs(("1", WHEN, "COMPLETED")))
    assert _states(writer) == [("1", "COMPLETED")]
    assert KEY not in writer.con.table("jobs").columns
    writer.close()


def test_a_parquet_partition_with_the_old_key_column_is_upserted(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    warehouse = Warehouse.open(root)
    warehouse.write("jobs", _jobs(("1", WHEN, "FAILED"), ("2", WHEN, "FAILED")))
    (path,) = parquet_store.data_files(root, "jobs")
    stored = pq.read_table(path)
    pq.write_table(stored.append_column(KEY, pa.array(["a", "b"])), path)
    warehouse.write("jobs", _jobs(("1", WHEN, "COMPLETED")))
    assert _states(warehouse) == [("1", "COMPLETED"), ("2", "FAILED")]
    assert KEY not in pq.read_schema(path).names
    warehouse.close()
