"""Per-window counts of what an answer held, checked against the warehouse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from canonical_rows import canonical_table

from gpurel.collect import ledger
from gpurel.collect.chunks import Chunk
from gpurel.warehouse import Warehouse

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
HOUR = Chunk(T0, T0 + timedelta(hours=1), T0 + timedelta(hours=1))


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def job(job_id: str, submit: float, end: float | None, cluster: str = "c1") -> dict[str, Any]:
    times = {"submit_time": at(submit), "start_time": at(submit + 1)}
    return (
        {"cluster": cluster, "job_id": job_id, "state": "COMPLETED", "source": "t"}
        | times
        | {"end_time": None if end is None else at(end)}
    )


ANSWER = [
    job("1", -120, -30),  # ended before the window: listed by sacct, yet meets nothing
    job("2", -30, 10),
    job("2", -30, 10),  # the same key twice: one row
    job("3", 50, None),  # still running
    job("4", 60, 70),  # submitted at the window's end
    job("5", 10, 20, cluster="c2"),
]


def test_answered_counts_distinct_rows_of_the_cluster_that_meet_the_window() -> None:
    warehouse = Warehouse.in_memory()
    answer = {"jobs": canonical_table("jobs", ANSWER)}
    counts = ledger.answered(warehouse, "c1", HOUR, answer)
    assert counts == {"jobs": 3, "steps": 0, "node_events": 0}


def test_a_window_short_of_its_answer_is_found_until_its_rows_are_back() -> None:
    warehouse = Warehouse.in_memory()
    answer = {"jobs": canonical_table("jobs", ANSWER)}
    counts = ledger.answered(warehouse, "c1", HOUR, answer)
    ledger.record(warehouse, "c1", HOUR, counts)
    assert [s.held for s in ledger.short(warehouse, "c1")] == [{"jobs": (0, 3)}]
    warehouse.write("jobs", answer["jobs"])
    assert ledger.short(warehouse, "c1") == []
    warehouse.con.raw_sql("DELETE FROM jobs WHERE job_id = '3'")
    [found] = ledger.short(warehouse, "c1")
    assert found.chunk == HOUR and found.held == {"jobs": (2, 3)}
    assert str(found) == "jobs 2 of 3"
    assert ledger.short(warehouse, "c2") == []
    warehouse.write("jobs", canonical_table("jobs", [job("3", 50, 80)]))  # it ended since
    assert ledger.short(warehouse, "c1") == []


def test_a_later_answer_of_a_window_replaces_its_record() -> None:
    warehouse = Warehouse.in_memory()
    part = Chunk(T0, at(30), HOUR.grid_end)
    ledger.record(warehouse, "c1", part, {"jobs": 5})
    assert [s.held for s in ledger.short(warehouse, "c1")] == [{"jobs": (0, 5)}]
    ledger.record(warehouse, "c1", HOUR, {"jobs": 0})
    assert ledger.short(warehouse, "c1") == []
    assert warehouse.con.table(ledger.TABLE).count().execute() == 1


def test_a_parquet_warehouse_keeps_the_window_records_between_runs(tmp_path: Path) -> None:
    warehouse = Warehouse.open(tmp_path / "parquet")
    ledger.record(warehouse, "c1", HOUR, {"jobs": 1})
    warehouse.close()
    again = Warehouse.open(tmp_path / "parquet")
    assert [(s.chunk, s.held) for s in ledger.short(again, "c1")] == [(HOUR, {"jobs": (0, 1)})]
    again.close()
