"""``gpurel lemons --drain [--apply] [--max-drain N] [--undrain-after D]`` against a fake
scontrol on PATH, on a cluster whose lemons show in the jobs that excluded them."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from canonical_rows import canonical_table
from typer.testing import CliRunner

from gpurel import slurm_drain
from gpurel.cli.app import app
from gpurel.warehouse import Warehouse

T0 = datetime(2024, 5, 1, tzinfo=UTC)
NODES = [f"n{i:02d}" for i in range(1, 21)]
EXCLUDED = {"n01": 5, "n02": 4, "n03": 3}  # jobs that excluded each node

FAKE_SCONTROL = r"""
import json, os, sys
state_file = os.environ["FAKE_SCONTROL_STATE"]
with open(state_file) as f:
    state = json.load(f)
state["calls"].append(sys.argv[1:])
args = sys.argv[1:]
if args[:2] == ["show", "config"]:
    print("Configuration data as of 2024-05-01T10:00:00")
    print("ClusterName             = c1")
elif args[:2] == ["show", "node"]:
    for node, (flags, reason) in sorted(state["nodes"].items()):
        tail = f" Reason={reason} [root@2024-05-01T10:00:00]" if reason else ""
        print(f"NodeName={node} Arch=x86_64 State={flags} ThreadsPerCore=1{tail}")
elif args[0] == "update":
    fields = dict(a.split("=", 1) for a in args[1:])
    node = fields["NodeName"]
    if node not in state["nodes"]:
        sys.stderr.write("slurm_update error: Invalid node name specified\n")
        sys.exit(1)
    if fields["State"] == "DRAIN":
        state["nodes"][node] = ["IDLE+DRAIN", fields["Reason"]]
    else:
        state["nodes"][node] = ["IDLE", None]
with open(state_file, "w") as f:
    json.dump(state, f)
"""


def _jobs() -> list[dict[str, Any]]:
    """One job on every node, and jobs on n20 that excluded the lemons."""
    rows = []
    for i, node in enumerate(NODES):
        start = T0 + timedelta(hours=i)
        rows.append(_job(f"{i + 1}", start, [node], None))
    number = 100
    for node, count in EXCLUDED.items():
        for k in range(count):
            number += 1
            rows.append(_job(str(number), T0 + timedelta(days=1, hours=k), ["n20"], [node]))
    return rows


def _job(job_id: str, start: datetime, nodes: list[str], excluded: list[str] | None) -> dict:
    return {
        "cluster": "c1",
        "job_id": job_id,
        "submit_time": start,
        "start_time": start,
        "end_time": start + timedelta(minutes=30),
        "state": "COMPLETED",
        "n_nodes": 1,
        "n_gpus": 8,
        "nodes": nodes,
        "excluded_nodes": excluded,
        "source": "test",
    }


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    w = Warehouse.open(path)
    w.write("jobs", canonical_table("jobs", _jobs()))
    w.close()
    return path


@pytest.fixture
def slurm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake scontrol on PATH; its state file (nodes and calls)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "scontrol"
    script.write_text(f"#!{sys.executable}\n{FAKE_SCONTROL}")
    script.chmod(0o755)
    state = tmp_path / "scontrol.json"
    nodes = {node: ["IDLE", None] for node in NODES}
    nodes["n02"] = ["IDLE+DRAIN", "bad DIMM, ticket 42"]  # drained by an operator
    state.write_text(json.dumps({"nodes": nodes, "calls": []}))
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_SCONTROL_STATE", str(state))
    return state


def _gpurel(warehouse: Path, *args: str) -> Any:
    result = CliRunner().invoke(
        app, ["lemons", "-w", str(warehouse), *args], env={"COLUMNS": "200"}
    )
    return result


def _updates(slurm: Path) -> list[list[str]]:
    return [c for c in json.loads(slurm.read_text())["calls"] if c[0] == "update"]


def _records(warehouse: Path) -> list[dict[str, Any]]:
    w = Warehouse.open(warehouse, read_only=True)
    try:
        return slurm_drain.drain_history(w).to_pylist()
    finally:
        w.close()


def test_exclusions_flag_the_lemons(warehouse: Path) -> None:
    result = _gpurel(warehouse, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    flagged = {n["node"]: n["excl_jobid_count"] for n in doc["nodes"] if n["flagged"]}
    assert flagged == EXCLUDED


def test_drain_prints_the_commands_and_runs_nothing(warehouse: Path, slurm: Path) -> None:
    result = _gpurel(warehouse, "--drain")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("# cluster c1")
    assert lines[1] == (
        "scontrol update NodeName=n01 State=DRAIN 'Reason=gpurel lemon: excl_jobid_count 5'"
    )
    assert len(lines) == 4
    assert json.loads(slurm.read_text())["calls"] == []


def test_apply_drains_under_the_cap_leaves_the_operators_node_and_records(
    warehouse: Path, slurm: Path
) -> None:
    result = _gpurel(warehouse, "--drain", "--apply", "--max-drain", "1")
    assert result.exit_code == 0, result.output
    assert _updates(slurm) == [
        ["update", "NodeName=n01", "State=DRAIN", "Reason=gpurel lemon: excl_jobid_count 5"]
    ]
    out = " ".join(result.stdout.split())
    assert "drained n01" in out
    assert "held back by --max-drain 1: n03" in out
    assert "left n02 alone: drained by someone else: bad DIMM, ticket 42" in out
    (record,) = _records(warehouse)
    assert (record["cluster"], record["node"], record["ended_at"]) == ("c1", "n01", None)
    assert record["reason"] == "gpurel lemon: excl_jobid_count 5"

    again = _gpurel(warehouse, "--drain", "--apply", "--max-drain", "1")
    assert again.exit_code == 0, again.output
    assert len(_updates(slurm)) == 1
    assert _records(warehouse) == [record]
    assert "already drained by gpurel run" in again.stdout


def test_default_cap_is_one_node_of_twenty(warehouse: Path, slurm: Path) -> None:
    result = _gpurel(warehouse, "--drain", "--apply")
    assert result.exit_code == 0, result.output
    assert [c[1] for c in _updates(slurm)] == ["NodeName=n01"]


def test_undrain_after_resumes_only_what_gpurel_drained_once_clean(
    warehouse: Path, slurm: Path
) -> None:
    assert _gpurel(warehouse, "--drain", "--apply", "--max-drain", "5").exit_code == 0
    assert [c[1] for c in _updates(slurm)] == ["NodeName=n01", "NodeName=n03"]
    still_flagged = _gpurel(warehouse, "--undrain-after", "0s", "--apply")
    assert still_flagged.exit_code == 0, still_flagged.output
    assert len(_updates(slurm)) == 2  # the lemons are still flagged: not clean
    # judged as of a later time, no job in the window: nothing flagged any more
    later = ["--as-of", "2024-07-01", "--window", "1d"]
    plan = _gpurel(warehouse, *later, "--undrain-after", "0s")
    assert plan.exit_code == 0, plan.output
    assert "would resume n01" in plan.stdout and len(_updates(slurm)) == 2
    done = _gpurel(warehouse, *later, "--undrain-after", "0s", "--apply")
    assert done.exit_code == 0, done.output
    resumed = [c[1] for c in _updates(slurm) if c[2] == "State=RESUME"]
    assert resumed == ["NodeName=n01", "NodeName=n03"]  # never n02, the operator's
    assert {r["node"]: r["ended_how"] for r in _records(warehouse)} == {
        "n01": slurm_drain.RESUMED,
        "n03": slurm_drain.RESUMED,
    }


def test_a_long_clean_spell_is_not_over_yet(warehouse: Path, slurm: Path) -> None:
    assert _gpurel(warehouse, "--drain", "--apply").exit_code == 0
    later = ["--as-of", "2024-07-01", "--window", "1d"]
    result = _gpurel(warehouse, *later, "--undrain-after", "7d", "--apply")
    assert result.exit_code == 0, result.output
    assert [c[2] for c in _updates(slurm)] == ["State=DRAIN"]


def test_apply_alone_and_bad_values_exit_2(warehouse: Path) -> None:
    for args in (["--apply"], ["--drain", "--max-drain", "0"], ["--undrain-after", "soon"]):
        result = _gpurel(warehouse, *args)
        assert result.exit_code == 2, (args, result.output)


def test_drains_act_only_on_the_local_slurm_cluster(warehouse: Path, slurm: Path) -> None:
    result = _gpurel(warehouse, "--cluster", "c9", "--drain", "--apply")
    assert result.exit_code == 2, result.output
    assert "local Slurm cluster, c1" in " ".join(result.output.split())
    assert _updates(slurm) == []
