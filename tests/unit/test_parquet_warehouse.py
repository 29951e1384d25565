"""The warehouse as partitioned Parquet (on DuckDB): layout, upserts, idempotency, opening."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from gpurel import demo, parquet_store
from gpurel.analysis.summary import analyze, to_json
from gpurel.cli.app import app
from gpurel.errors import ConfigError, GpurelError
from gpurel.ingest import ingest
from gpurel.sources.base import ReadOptions
from gpurel.warehouse import Warehouse, is_parquet_dir

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"
DEMO = ReadOptions(cluster=demo.CLUSTER, tz="UTC")


def job(job_id: str, month: int | None, state: str = "COMPLETED", cluster: str = "c1") -> dict:
    """A job attempt submitted and started on the 1st of ``month`` 2024 (None: no times)."""
    when = None if month is None else datetime(2024, month, 1, tzinfo=UTC)
    return {
        "cluster": cluster,
        "job_id": job_id,
        "submit_time": when,
        "start_time": when,
        "state": state,
        "source": "test",
    }


def jobs(*rows: dict[str, Any]) -> pa.Table:
    return pa.Table.from_pylist(list(rows))


def files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (hidden ones included) with its content."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture
def store(tmp_path: Path) -> Warehouse:
    return Warehouse.open(tmp_path / "lake")


def test_layout_by_cluster_and_month(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    warehouse = Warehouse.open(root)
    ingest(warehouse, demo.files(), DEMO)
    options = ReadOptions(cluster="hbd", inventory_nodes=5, inventory_days=10)
    ingest(warehouse, [FIXTURES / "infinitehbd_small.json"], options)
    assert sorted(files(root)) == [
        parquet_store.LOCK_FILE,
        "jobs/cluster=demo/month=2024-06/part-0.parquet",
        "node_events/cluster=demo/month=2024-06/part-0.parquet",
        "node_events/cluster=hbd/month=2024-03/part-0.parquet",
        "node_events/cluster=hbd/month=2024-04/part-0.parquet",
        "nodes/cluster=hbd/part-0.parquet",
        "rejects/part-0.parquet",
        "steps/cluster=demo/month=2024-06/part-0.parquet",
    ]
    assert warehouse.counts() == {
        "jobs": 71,
        "steps": 36,
        "node_events": 584,
        "nodes": 5,
        "rejects": 2,
    }


def test_ingesting_twice_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    warehouse = Warehouse.open(root)
    ingest(warehouse, demo.files(), DEMO)
    before = files(root)
    outcomes = ingest(warehouse, demo.files(), DEMO)
    assert all(o.ok for o in outcomes)
    assert files(root) == before  # byte for byte, and no temporary files left behind


def test_upsert_replaces_by_key_in_its_partition(store: Warehouse) -> None:
    store.write("jobs", jobs(job("1", 5), job("2", 6)))
    store.write("jobs", jobs(job("2", 6, state="FAILED"), job("3", 6)))
    rows = store.table("jobs").order_by("job_id").to_pyarrow().to_pylist()
    assert [(r["job_id"], r["state"]) for r in rows] == [
        ("1", "COMPLETED"),
        ("2", "FAILED"),
        ("3", "COMPLETED"),
    ]


def test_a_write_rewrites_only_its_partitions(store: Warehouse) -> None:
    assert store.parquet is not None
    store.write("jobs", jobs(job("1", 5), job("2", 6)))
    may, june = (store.parquet / "jobs" / "cluster=c1" / f"month=2024-0{m}" for m in (5, 6))
    may_before, june_before = (
        may.joinpath("part-0.parquet").stat(),
        june.joinpath("part-0.parquet").stat(),
    )
    store.write("jobs", jobs(job("3", 6)))
    may_after, june_after = (
        may.joinpath("part-0.parquet").stat(),
        june.joinpath("part-0.parquet").stat(),
    )
    assert (may_after.st_ino, may_after.st_mtime_ns) == (may_before.st_ino, may_before.st_mtime_ns)
    assert june_after.st_ino != june_before.st_ino  # replaced by rename, not edited in place


def test_rows_without_a_key_time_and_odd_cluster_names(store: Warehouse) -> None:
    assert store.parquet is not None
    store.write("jobs", jobs(job("1", None, cluster="a/b"), job("2", 1, cluster=".hidden")))
    found = sorted(str(p.relative_to(store.parquet)) for p in store.parquet.rglob("*.parquet"))
    assert found == [
        "jobs/cluster=%2Ehidden/month=2024-01/part-0.parquet",
        "jobs/cluster=a%2Fb/month=none/part-0.parquet",
    ]
    clusters = store.table("jobs").order_by("job_id").cluster.to_pyarrow().to_pylist()
    assert clusters == ["a/b", ".hidden"]


def test_readers_ignore_a_temporary_file_left_by_a_crash(store: Warehouse) -> None:
    assert store.parquet is not None
    store.write("jobs", jobs(job("1", 5)))
    partition = store.parquet / "jobs" / "cluster=c1" / "month=2024-05"
    (partition / ".part-0.parquet.999.tmp").write_bytes(b"half a file")
    assert parquet_store.data_files(store.parquet, "jobs") == [partition / "part-0.parquet"]
    assert store.counts()["jobs"] == 1
    store.write("jobs", jobs(job("2", 5)))
    assert store.table("jobs").count().to_pyarrow().as_py() == 2


def test_reopening_reads_what_was_written(tmp_path: Path) -> None:
    Warehouse.open(tmp_path / "lake").write("jobs", jobs(job("1", 5)))
    assert Warehouse.open(tmp_path / "lake").counts()["jobs"] == 1


def test_derived_tables_stay_in_the_engine(store: Warehouse) -> None:
    assert store.parquet is not None
    store.write("jobs", jobs(job("1", 5, state="NODE_FAIL")))
    analyze(store)
    assert store.con.table("failures").count().to_pyarrow().as_py() == 0  # never ran
    assert sorted(p.name for p in store.parquet.iterdir()) == [parquet_store.LOCK_FILE, "jobs"]


def test_empty_parquet_warehouse_analyzes(store: Warehouse) -> None:
    assert store.counts() == dict.fromkeys(("jobs", "steps", "node_events", "nodes", "rejects"), 0)
    assert to_json(analyze(store))["node_days"] == {
        "value": None,
        "absent": "no job accounting or node events ingested",
    }


def test_same_analysis_as_the_duckdb_file(tmp_path: Path) -> None:
    demo.run(tmp_path / "demo.duckdb")
    demo.run(tmp_path / "demo")
    on_file, on_parquet = (
        Warehouse.open(tmp_path / "demo.duckdb"),
        Warehouse.open(tmp_path / "demo"),
    )
    assert on_parquet.parquet == tmp_path / "demo"
    assert to_json(analyze(on_parquet)) == to_json(analyze(on_file))


# --- opening: paths, engines, URLs ------------------------------------------------------------


def test_parquet_or_duckdb_by_path(tmp_path: Path) -> None:
    (tmp_path / "old").write_bytes(b"")
    (tmp_path / "dir").mkdir()
    assert is_parquet_dir(tmp_path / "dir") and is_parquet_dir(tmp_path / "new")
    assert not is_parquet_dir(tmp_path / "old")
    assert not any(is_parquet_dir(tmp_path / f"w{s}") for s in (".duckdb", ".db", ".DDB"))


def test_engine_must_fit_the_warehouse(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs the duckdb engine"):
        Warehouse.open(tmp_path / "w.duckdb", engine="spark")
    with pytest.raises(ConfigError, match="unknown engine"):
        Warehouse.open(tmp_path / "lake", engine="oracle")
    with pytest.raises(ConfigError, match="names its engine"):
        Warehouse.open(f"duckdb:///{tmp_path}/w.duckdb", engine="duckdb")


def test_engine_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPUREL_ENGINE", "spark")
    with pytest.raises(ConfigError, match="needs the duckdb engine"):
        Warehouse.open(tmp_path / "w.duckdb")


def test_duckdb_url_opens_a_duckdb_file(tmp_path: Path) -> None:
    warehouse = Warehouse.open(f"duckdb://{tmp_path}/w.duckdb")
    warehouse.write("jobs", jobs(job("1", 5)))
    warehouse.close()
    assert Warehouse.open(tmp_path / "w.duckdb").counts()["jobs"] == 1


def test_cli_ingests_into_and_analyzes_a_parquet_warehouse(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    runner = CliRunner()
    ingested = runner.invoke(
        app,
        ["ingest", *map(str, demo.files()), "--cluster", "demo", "--tz", "UTC", "-w", str(lake)],
    )
    assert ingested.exit_code == 0, ingested.output
    analyzed = runner.invoke(app, ["analyze", "--json", "-w", str(lake), "--engine", "duckdb"])
    assert analyzed.exit_code == 0, analyzed.output
    assert json.loads(analyzed.stdout)["overview"]["job_attempts"] == 71
    wrong = runner.invoke(app, ["analyze", "-w", str(tmp_path / "w.duckdb"), "--engine", "spark"])
    assert wrong.exit_code == 2 and "needs the duckdb engine" in " ".join(wrong.output.split())


def test_a_partition_is_merged_as_a_stream(
    store: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stored partition is never read whole into Python (DuckDB merges and sorts it
    within SORT_MEMORY, spilling beyond): memory stays bounded whatever the month's size."""
    assert store.parquet is not None
    monkeypatch.setattr(parquet_store.pq, "read_table", None)  # reading a whole file fails
    many = [job(f"{n:06d}", 5) for n in range(20_000, 0, -1)]
    store.write("jobs", jobs(*many[::2]))
    store.write("jobs", jobs(*many[1::2], job("000002", 5, state="FAILED")))
    path = store.parquet / "jobs" / "cluster=c1" / "month=2024-05" / "part-0.parquet"
    stored = parquet_store.pq.ParquetFile(path).read(columns=["job_id", "state"])
    assert stored["job_id"].to_pylist() == [f"{n:06d}" for n in range(1, 20_001)]
    assert stored["state"].to_pylist()[:3] == ["COMPLETED", "FAILED", "COMPLETED"]


def test_a_damaged_partition_is_a_clear_error(store: Warehouse) -> None:
    assert store.parquet is not None
    store.write("jobs", jobs(job("1", 5)))
    path = store.parquet / "jobs" / "cluster=c1" / "month=2024-05" / "part-0.parquet"
    path.write_bytes(b"not parquet")
    with pytest.raises(GpurelError, match=f"{path}: cannot merge the new rows: "):
        store.write("jobs", jobs(job("2", 5)))
    assert path.read_bytes() == b"not parquet"  # left for the operator to restore
