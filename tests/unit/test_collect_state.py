"""Resume points in the warehouse's collect_state table."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from gpurel.collect import state
from gpurel.warehouse import Warehouse

T0 = datetime(2024, 5, 1, 10, 0, 30, 123456, tzinfo=UTC)


def test_resume_point_round_trip_per_cluster() -> None:
    warehouse = Warehouse.in_memory()
    a, b = state.slurm_stream("a"), state.slurm_stream("b")
    assert state.resume_time(warehouse, a) is None
    state.advance_resume_time(warehouse, a, T0)
    assert state.resume_time(warehouse, a) == T0
    assert state.resume_time(warehouse, b) is None


def test_the_resume_point_only_moves_forward() -> None:
    warehouse = Warehouse.in_memory()
    stream = state.slurm_stream("a")
    state.advance_resume_time(warehouse, stream, T0)
    state.advance_resume_time(warehouse, stream, T0.replace(hour=11))
    assert state.resume_time(warehouse, stream) == T0.replace(hour=11)
    state.advance_resume_time(warehouse, stream, T0.replace(hour=9))  # a backfill
    assert state.resume_time(warehouse, stream) == T0.replace(hour=11)
    assert warehouse.con.table(state.TABLE).count().to_pyarrow().as_py() == 1


def test_file_position_round_trip() -> None:
    warehouse = Warehouse.in_memory()
    stream = state.file_stream("/var/log/gcm.jsonl")
    assert state.file_position(warehouse, stream) is None
    position = state.FilePosition("2049:1234", 4096, 17)
    state.set_file_position(warehouse, stream, position)
    assert state.file_position(warehouse, stream) == position


def test_state_survives_reopening_and_leaves_the_canonical_tables_alone(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    warehouse = Warehouse.open(path)
    counts = warehouse.counts()
    state.advance_resume_time(warehouse, state.slurm_stream("a"), T0)
    assert warehouse.counts() == counts
    warehouse.close()
    reopened = Warehouse.open(path)
    assert state.resume_time(reopened, state.slurm_stream("a")) == T0
    reopened.close()


def test_a_parquet_warehouse_keeps_the_collector_state_between_runs(tmp_path: Path) -> None:
    stream, log = state.slurm_stream("a"), state.file_stream("/var/log/gcm.jsonl")
    position = state.FilePosition("2049:1234", 4096, 17)
    warehouse = Warehouse.open(tmp_path / "parquet")
    state.advance_resume_time(warehouse, stream, T0)
    state.set_file_position(warehouse, log, position)
    state.set_file_position(warehouse, log, position)  # replaced, not added
    warehouse.close()
    again = Warehouse.open(tmp_path / "parquet")
    assert state.resume_time(again, stream) == T0
    assert state.file_position(again, log) == position
    assert again.fetch(again.side(state.TABLE, state.SCHEMA)).num_rows == 2
    again.close()
