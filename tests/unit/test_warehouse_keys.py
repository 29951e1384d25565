"""Upserts keep exactly the last row of each key and every other row, on both warehouse kinds."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

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
