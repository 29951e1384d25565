"""``gpurel simulate``: a tiny run, files, warehouse and a what-if comparison."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from gpurel.cli.app import app
from gpurel.warehouse import Warehouse


def test_simulate_writes_warehouse_files_and_compares(tmp_path: Path) -> None:
    store = tmp_path / "sim.duckdb"
    args = ["simulate", "--days", "3", "--scale", "0.05", "--seed", "2", "--set", "warmup_days=1"]
    args += ["--warehouse", str(store), "--sacct", str(tmp_path / "s.txt")]
    args += ["--gcm", str(tmp_path / "g.jsonl"), "--compare", "u0=20m", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output[result.output.index("{") :])
    assert doc["config"]["u0"] == 300 and doc["compare"]["set"] == ["u0=20m"]
    assert set(doc["compare"]["base"]) == set(doc["compare"]["variant"])
    assert (tmp_path / "s.txt").exists() and (tmp_path / "g.jsonl").exists()
    warehouse = Warehouse.open(store)
    try:
        assert warehouse.counts()["jobs"] > 0
        assert warehouse.has_side("truth_faults")
    finally:
        warehouse.close()


def test_simulate_rejects_bad_settings() -> None:
    result = CliRunner().invoke(app, ["simulate", "--set", "nope=1"])
    assert result.exit_code == 2
    assert "unknown parameter" in result.output
