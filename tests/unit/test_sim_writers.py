"""Round trip: sacct --parsable2 text and GCM JSON lines read back into the same tables."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pyarrow as pa
import pytest

from gpurel import ingest
from gpurel.sim.config import preset
from gpurel.sim.run import SimResult, simulate
from gpurel.sources.base import ReadOptions
from gpurel.warehouse import Warehouse

CONFIG = dataclasses.replace(preset("rsc1"), scale=0.05, days=7.0, warmup_days=2.0, fault_scale=5.0)
TZ = "Europe/Amsterdam"  # January: no DST change in the window


@pytest.fixture(scope="module")
def result() -> SimResult:
    return simulate(CONFIG, seed=3)


def _sorted(table: pa.Table, keys: list[str]) -> pa.Table:
    return table.sort_by([(k, "ascending") for k in keys])


def _read(paths: list[Path]) -> Warehouse:
    warehouse = Warehouse.in_memory()
    outcomes = ingest.ingest(warehouse, paths, ReadOptions(cluster=CONFIG.cluster, tz=TZ))
    assert all(o.ok and not o.rejected for o in outcomes), outcomes
    return warehouse


def test_sacct_round_trip(result: SimResult, tmp_path: Path) -> None:
    path = tmp_path / "sacct.txt"
    result.write_sacct(path, TZ)
    assert path.read_text().startswith("JobID|JobIDRaw|JobName")
    back = _read([path]).table("jobs").to_pyarrow()
    keys = ["job_id", "submit_time", "start_time", "end_time"]
    expected = _sorted(result.tables["jobs"].drop(["source"]), keys)
    assert _sorted(back.drop(["source"]), keys).equals(expected)


def test_gcm_round_trip(result: SimResult, tmp_path: Path) -> None:
    path = tmp_path / "health.jsonl"
    result.write_gcm(path)
    back = _read([path]).table("node_events").to_pyarrow()
    keys = ["node", "time", "check"]
    assert back.num_rows > 0
    assert _sorted(back, keys).equals(_sorted(result.tables["node_events"], keys))
