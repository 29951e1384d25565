"""Public job traces through ``gpurel ingest`` and ``gpurel analyze --json``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from gpurel.warehouse import Warehouse

Gpurel = Callable[..., Result]
AnalyzeJson = Callable[[Path], dict[str, Any]]

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
HELIOS = DATA / "dirlab_genparallel_15k" / "helios_data_training.csv"
PODS = DATA / "alibaba_gpu_v2023" / "openb_pod_list_default.csv"
NODES = DATA / "alibaba_gpu_v2023" / "openb_node_list_all_node.csv"
START = "2020-01-01T00:00:00Z"  # the traces give relative times only
needs_data = pytest.mark.skipif(not HELIOS.is_file(), reason=f"no shared data at {DATA}")

HELIOS_STATES = {"COMPLETED": 9316, "CANCELLED": 3452, "FAILED": 2232}  # Pass, Killed, Failed


def _counts(warehouse: Path) -> dict[str, int]:
    store = Warehouse.open(warehouse)
    try:
        return {name: store.table(name).count().execute() for name in ("jobs", "rejects")}
    finally:
        store.close()


@needs_data
def test_helios_ingest_and_analyze(
    tmp_path: Path, gpurel: Gpurel, analyze_json: AnalyzeJson
) -> None:
    warehouse = tmp_path / "w.duckdb"
    result = gpurel("ingest", HELIOS, "--trace-start", START, "-w", warehouse)
    assert result.exit_code == 0, result.output
    assert "dirlab-trace" in result.output and "jobs 15,000" in result.output
    doc = analyze_json(warehouse)
    assert {r["state"]: r["jobs"] for r in doc["job_states"]} == HELIOS_STATES
    assert doc["overview"]["job_attempts"] == 15000
    assert doc["overview"]["rejected_rows"] == 0
    before = _counts(warehouse)
    again = gpurel("ingest", HELIOS, "--trace-start", START, "-w", warehouse)
    assert again.exit_code == 0, again.output
    assert _counts(warehouse) == before == {"jobs": 15000, "rejects": 0}
    assert analyze_json(warehouse)["job_states"] == doc["job_states"]


@needs_data
def test_alibaba_pods_and_nodes(tmp_path: Path, gpurel: Gpurel, analyze_json: AnalyzeJson) -> None:
    warehouse = tmp_path / "w.duckdb"
    result = gpurel("ingest", PODS, NODES, "--trace-start", START, "-w", warehouse)
    assert result.exit_code == 0, result.output
    for fmt, rows in (("k8s-pods", "jobs 8,152"), ("k8s-nodes", "nodes 1,523")):
        assert fmt in result.output and rows in result.output
    doc = analyze_json(warehouse)
    states = Counter({r["state"]: r["jobs"] for r in doc["job_states"]})
    assert states == {"RUNNING": 5193, "FAILED": 1870, "PENDING": 897, "COMPLETED": 192}
    assert doc["node_days"]["method"] == "inventory"
