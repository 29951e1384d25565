"""Lemon drains through the real Slurm: ``gpurel lemons --drain --apply`` drains a lemon with
its reason, holds the cap, leaves a node an operator drained alone, changes nothing when run
again, and ``--undrain-after`` resumes only what it drained once clean.

The lemons are the nodes the jobs of ``slurm_workload.run_exclusions`` excluded (gpu005 by
five jobs, gpu006 and gpu007 by three); every node is returned to service at the end.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slurmlab import SlurmLab, wait_until

from conftest import Excluding, gpurel_command
from gpurel import slurm_drain
from gpurel.warehouse import Warehouse

pytestmark = pytest.mark.slow

LEMONS = ("gpu005", "gpu006", "gpu007")
OPERATOR = "gpu007"
OPERATOR_REASON = "operator: fan noise, ticket 17"
Z = ("--z", "1")  # ten nodes: the floor of three jobs decides which nodes are flagged


@pytest.fixture(scope="module")
def warehouse(
    lab: SlurmLab, excluding: Excluding, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A copy of the warehouse of the excluding jobs; the lemons return to service after."""
    copy = tmp_path_factory.mktemp("drain") / "gpurel.duckdb"
    shutil.copy2(excluding.warehouse, copy)
    try:
        yield copy
    finally:
        for node in LEMONS:
            if "DRAIN" in node_state(lab, node).flags:
                lab.resume(node)
        for node in LEMONS:
            lab.wait_node(node, {"idle"})


def node_state(lab: SlurmLab, node: str) -> slurm_drain.NodeState:
    """What the controller says of ``node`` now."""
    text = lab.run(["scontrol", "show", "node", "-o", node]).stdout
    return slurm_drain.parse_nodes(text)[node]


def lemons(lab: SlurmLab, warehouse: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``gpurel lemons`` against the lab's Slurm."""
    command = [*gpurel_command(), "lemons", "--warehouse", str(warehouse), *Z, *args]
    env = {**lab.env, "COLUMNS": "300"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def records(warehouse: Path) -> list[dict[str, Any]]:
    """gpurel's drain records in the warehouse."""
    store = Warehouse.open(warehouse, read_only=True)
    try:
        return slurm_drain.drain_history(store).to_pylist()
    finally:
        store.close()


def states(lab: SlurmLab) -> dict[str, tuple[bool, str | None]]:
    """Drained or not, and the reason, of each lemon."""
    return {n: (node_state(lab, n).drained, node_state(lab, n).reason) for n in LEMONS}


def test_drains_through_slurm(lab: SlurmLab, warehouse: Path) -> None:
    lab.run(
        ["scontrol", "update", f"NodeName={OPERATOR}", "State=DRAIN", f"Reason={OPERATOR_REASON}"]
    )
    printed = lemons(lab, warehouse, "--drain")
    assert "scontrol update NodeName=gpu005 State=DRAIN" in printed.stdout
    assert not node_state(lab, "gpu005").drained  # printed, not run

    # a lemon is drained with its reason; the cap (1 of 10 nodes) holds the next one back;
    # the operator's node is left alone
    first = lemons(lab, warehouse, "--drain", "--apply")
    said = " ".join(first.stdout.split())
    assert states(lab) == {
        "gpu005": (True, "gpurel lemon: excl_jobid_count 5"),
        "gpu006": (False, None),
        "gpu007": (True, OPERATOR_REASON),
    }
    assert "held back by --max-drain 1: gpu006" in said
    assert f"left gpu007 alone: drained by someone else: {OPERATOR_REASON}" in said
    (drained,) = records(warehouse)
    assert (drained["node"], drained["reason"], drained["ended_at"]) == (
        "gpu005",
        "gpurel lemon: excl_jobid_count 5",
        None,
    )
    assert drained["run_id"] and drained["drained_at"] <= datetime.now(UTC)

    # a rerun changes nothing
    before = states(lab)
    again = lemons(lab, warehouse, "--drain", "--apply")
    assert "already drained by gpurel run" in again.stdout
    assert states(lab) == before
    assert records(warehouse) == [drained]

    # a wider cap drains the next lemon, never the operator's node
    lemons(lab, warehouse, "--drain", "--apply", "--max-drain", "2")
    assert states(lab)["gpu006"] == (True, "gpurel lemon: excl_jobid_count 3")
    assert states(lab)["gpu007"] == (True, OPERATOR_REASON)
    assert [r["node"] for r in records(warehouse)] == ["gpu005", "gpu006"]


def test_undrain_after_a_clean_spell(lab: SlurmLab, warehouse: Path) -> None:
    drained = {r["node"]: r for r in records(warehouse)}
    assert sorted(drained) == ["gpu005", "gpu006"], "runs after test_drains_through_slurm"
    # still flagged: not clean, nothing resumed
    lemons(lab, warehouse, "--undrain-after", "2s", "--apply")
    assert all(state[0] for state in states(lab).values())

    # judged as of an hour from now over the last minute, nothing is flagged any more; once
    # two seconds have passed since the drains, gpurel resumes its own nodes
    later = max(r["drained_at"] for r in drained.values()) + timedelta(seconds=2)
    wait_until(lambda: datetime.now(UTC) > later, "two seconds after the drains", timeout=30)
    as_of = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    done = lemons(
        lab, warehouse, "--as-of", as_of, "--window", "60s", "--undrain-after", "2s", "--apply"
    )
    assert "resumed gpu005" in done.stdout and "resumed gpu006" in done.stdout
    for node in ("gpu005", "gpu006"):
        lab.wait_node(node, {"idle"})
    assert states(lab)["gpu007"] == (True, OPERATOR_REASON)  # the operator's, untouched
    assert {r["node"]: r["ended_how"] for r in records(warehouse)} == {
        "gpu005": slurm_drain.RESUMED,
        "gpu006": slurm_drain.RESUMED,
    }
