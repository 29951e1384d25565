"""Upserts keep exactly the last row of each key and every other row, on both warehouse kinds."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from gpurel import schema
from gpurel.ingest import ingest
from gpurel.sources.base import ReadOptions
from gpurel.warehouse import Warehouse

ROWS = [
    ("2024-05-01T00:00:00+00:00", "gpu001", "check_ib", "fail", "first"),
    ("2024-05-01T01:00:00+00:00", "gpu002", "check_ib", "fail", "dup"),
    ("2024-05-01T01:00:00+00:00", "gpu002", "check_ib", "fail", "dup"),
    ("2024-05-01T02:00:00+00:00", "gpu003", "check_gpu", "warn", "fourth"),
    ("2024-05-01T03:00:00+00:00", "gpu004", "check_gpu", "fail", "fifth"),
]


@pytest.mark.parametrize("kind", ["w.duckdb", "lake"])
def test_a_duplicate_in_one_batch_loses_no_other_row(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "events.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time", "node", "check", "result", "message"])
        writer.writerows(ROWS)
    expected = sorted({(row[1], row[4]) for row in ROWS})  # independent recount
    warehouse = Warehouse.open(tmp_path / kind)
    try:
        ingest(warehouse, [path], ReadOptions(cluster="c1", tz="UTC"))
        stored = warehouse.table("node_events").select("node", "message").to_pyarrow()
    finally:
        warehouse.close()
    pairs = zip(stored["node"].to_pylist(), stored["message"].to_pylist(), strict=True)
    assert sorted(pairs) == expected


@pytest.mark.parametrize("kind", ["w.duckdb", "lake"])
def test_keys_with_nulls_are_equal_and_the_later_row_wins(tmp_path: Path, kind: str) -> None:
    submit = datetime(2024, 5, 1, tzinfo=UTC)
    rows = [  # (job id, start, name): pending jobs have no start
        ("1", None, "first"),
        ("1", None, "second"),  # same key as the row before: replaces it
        ("1", submit, "started"),  # differs from the pending one by a null only
        ("2", None, "other"),
    ]
    table = pa.Table.from_pylist(
        [
            {"cluster": "c1", "job_id": j, "submit_time": submit, "start_time": s, "name": n}
            | {"state": "PENDING" if s is None else "RUNNING", "source": "test"}
            for j, s, n in rows
        ],
        schema=pa.schema([(f.name, f.type) for f in schema.TABLES["jobs"]]),
    )
    last: dict[tuple, str] = {}
    for j, s, n in rows:  # independent recount: the last name of each (job id, start)
        last[(j, s)] = n
    warehouse = Warehouse.open(tmp_path / kind)
    try:
        assert warehouse.write("jobs", table) == len(last)
        stored = warehouse.table("jobs").select("name").to_pyarrow()["name"].to_pylist()
    finally:
        warehouse.close()
    assert sorted(stored) == sorted(last.values())
