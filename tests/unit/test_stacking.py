"""Tables fetched together equal the same tables fetched one by one."""

from __future__ import annotations

from datetime import UTC, datetime

import ibis
import pyarrow as pa
import pytest

from gpurel.analysis.stacking import fetch_together, sorted_by

JOBS = pa.table(
    {
        "job_id": ["1", "2", "2", None],
        "n_gpus": pa.array([8, None, 16, 1], pa.int32()),
        "end": pa.array(
            [datetime(2024, 1, d, tzinfo=UTC) for d in (1, 2, 3)] + [None],
            pa.timestamp("us", tz="UTC"),
        ),
        "nodes": [["a", "b"], [], None, ["c"]],
    }
)


@pytest.fixture()
def jobs() -> ibis.Table:
    con = ibis.duckdb.connect()
    return con.create_table("jobs", JOBS)


def _plain(table: pa.Table) -> list[dict]:
    """Rows in a fixed order, whatever the engine returned."""
    return sorted(table.to_pylist(), key=repr)


def test_each_table_comes_back_with_its_own_columns_types_and_rows(jobs: ibis.Table) -> None:
    per_job = jobs.group_by("job_id").aggregate(gpus=jobs.n_gpus.sum(), last=jobs.end.max())
    # the same column name with another type in another table
    renamed = jobs.select(job_id=jobs.n_gpus, nodes="nodes", end="end")
    empty = jobs.filter(jobs.n_gpus > 1000).select("job_id")
    scalar = jobs.aggregate(n=jobs.count())
    tables = (per_job, renamed, empty, scalar)
    together = fetch_together(*tables)
    for alone, fetched in zip((t.to_pyarrow() for t in tables), together, strict=True):
        assert fetched.schema.names == alone.schema.names
        assert [f.type for f in fetched.schema] == [f.type for f in alone.schema]
        assert _plain(fetched) == _plain(alone)
    assert together[2].num_rows == 0
    assert together[3].to_pylist() == [{"n": 4}]


def test_one_query_for_all_tables(jobs: ibis.Table, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = jobs._find_backend()
    calls = []
    real = type(backend).to_pyarrow

    def counted(self, expr, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(expr)
        return real(self, expr, **kwargs)

    monkeypatch.setattr(type(backend), "to_pyarrow", counted)
    fetch_together(jobs.select("job_id"), jobs.select("n_gpus"), jobs.aggregate(n=jobs.count()))
    assert len(calls) == 1


def test_sorted_by_ascending_descending_nulls_last() -> None:
    t = pa.table({"a": [2, None, 1, 2], "b": ["x", "y", "z", "w"]})
    ordered = sorted_by(t, [("a", "descending"), "b"])
    assert ordered.to_pylist() == [
        {"a": 2, "b": "w"},
        {"a": 2, "b": "x"},
        {"a": 1, "b": "z"},
        {"a": None, "b": "y"},
    ]
    assert sorted_by(t.slice(0, 0), ["a"]).num_rows == 0
