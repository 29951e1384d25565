"""One local SparkSession for the Spark suite, and the data sets it analyzes.

Each data set is a Parquet warehouse directory written once (by gpurel, through DuckDB's
in-memory session) and read by both engines.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gpurel import demo
from gpurel.ingest import ingest
from gpurel.sim.config import preset
from gpurel.sim.run import simulate
from gpurel.sources.base import ReadOptions
from gpurel.warehouse import Warehouse

INFINITEHBD = (
    Path(__file__).resolve().parents[2].parent / "shared/data/infinitehbd_stepfun/fault_trace.json"
)
# a small simulated month: 100 nodes, about 11k job attempts, faults five times the preset's
SIM_MONTH = dataclasses.replace(
    preset("rsc1"),
    scale=0.05,
    days=30.0,
    warmup_days=3.0,
    fault_scale=5 * preset("rsc1").fault_scale,
)


def _java() -> bool:
    home = os.environ.get("JAVA_HOME")
    return shutil.which("java") is not None or bool(home and Path(home, "bin", "java").exists())


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local SparkSession: 2 cores, 2 shuffle partitions, UTC, no UI, errors-only logging."""
    if not _java():
        pytest.skip("Java is missing: PySpark needs a Java 17 runtime (java on PATH or JAVA_HOME)")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("gpurel-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _write_demo(root: Path) -> None:
    outcomes = demo.run(root)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]


def _write_infinitehbd(root: Path) -> None:
    warehouse = Warehouse.open(root, engine="duckdb")
    options = ReadOptions(inventory_nodes=400, inventory_days=348)
    outcomes = ingest(warehouse, [INFINITEHBD], options)
    warehouse.close()
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]


def _write_sim_month(root: Path) -> None:
    warehouse = Warehouse.open(root, engine="duckdb")
    simulate(SIM_MONTH, seed=3).store(warehouse)
    warehouse.close()


DATASETS: dict[str, Callable[[Path], None]] = {
    "demo": _write_demo,
    "infinitehbd": _write_infinitehbd,
    "sim_month": _write_sim_month,
}


@pytest.fixture(scope="session", params=sorted(DATASETS))
def parquet_warehouse(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A Parquet warehouse directory holding one data set; treat it as read-only."""
    root = tmp_path_factory.mktemp(request.param) / "warehouse"
    DATASETS[request.param](root)
    return root
