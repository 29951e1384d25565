"""A Parquet warehouse written incrementally (through DuckDB) reads the same on Spark."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gpurel import demo, schema
from gpurel.cli.app import app
from gpurel.ingest import ingest
from gpurel.sources.base import ReadOptions
from gpurel.warehouse import Warehouse

pytestmark = pytest.mark.filterwarnings(
    "ignore:The copy keyword is deprecated"
)  # PySpark, pandas 3

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"


def _rows(warehouse: Warehouse, name: str) -> list[dict[str, Any]]:
    rows = warehouse.table(name).to_pyarrow().to_pylist()
    return sorted(rows, key=lambda r: tuple(str(r[k]) for k in schema.KEYS[name]))


@pytest.fixture(scope="module")
def appended(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Demo accounting, then its health checks, a trace, and the accounting again (upserts)."""
    root = tmp_path_factory.mktemp("appended") / "warehouse"
    sacct, health = demo.files()
    options = ReadOptions(cluster=demo.CLUSTER, tz="UTC")
    warehouse = Warehouse.open(root, engine="duckdb")
    for batch in ([sacct], [health], [sacct]):
        assert all(o.ok for o in ingest(warehouse, batch, options))
    trace = ReadOptions(cluster="hbd", inventory_nodes=5, inventory_days=10)
    assert all(o.ok for o in ingest(warehouse, [FIXTURES / "infinitehbd_small.json"], trace))
    warehouse.close()
    return root


def test_spark_reads_every_table_as_duckdb_does(appended: Path, spark: Any) -> None:
    on_duckdb = Warehouse.open(appended, engine="duckdb")
    on_spark = Warehouse.open(appended, engine="spark")
    assert on_spark.counts() == on_duckdb.counts()
    assert on_spark.counts()["jobs"] == 71
    for name in schema.TABLES:
        assert _rows(on_spark, name) == _rows(on_duckdb, name), name


def test_the_layout_is_plain_hive_partitioning(appended: Path, spark: Any) -> None:
    events = spark.read.parquet(str(appended / "node_events"))
    assert {"cluster", "month"} <= set(events.columns)
    months = {(r["cluster"], r["month"]) for r in events.select("cluster", "month").collect()}
    assert months == {("demo", "2024-06"), ("hbd", "2024-03"), ("hbd", "2024-04")}


def test_cli_on_spark(appended: Path, spark: Any) -> None:
    runner = CliRunner()
    args = ["mttf", "--gpus", "1024", "--cluster", demo.CLUSTER, "-w", str(appended)]
    on_duckdb = runner.invoke(app, args)
    on_spark = runner.invoke(app, [*args, "--engine", "spark"])
    assert on_duckdb.exit_code == 0, on_duckdb.output
    assert on_spark.exit_code == 0, on_spark.output
    assert on_spark.stdout == on_duckdb.stdout
