"""Jobs submitted to the real Slurm with ``-x``/``--exclude``: the collector reads what they
excluded from sacct's SubmitLine, and ``gpurel lemons`` counts them in the signal of the jobs
that excluded a node."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import Excluding, Ran, gpurel_command
from gpurel.warehouse import Warehouse

pytestmark = pytest.mark.slow


def lemons_json(warehouse: Path, *args: str) -> dict[str, Any]:
    """``gpurel lemons --json`` of a warehouse."""
    command = [*gpurel_command(), "lemons", "--json", "--warehouse", str(warehouse), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_collected_jobs_record_the_nodes_they_excluded(excluding: Excluding, ran: Ran) -> None:
    warehouse = Warehouse.open(excluding.warehouse, read_only=True)
    try:
        jobs = warehouse.fetch(warehouse.jobs().select("job_id", "excluded_nodes")).to_pylist()
    finally:
        warehouse.close()
    found = {row["job_id"]: row["excluded_nodes"] for row in jobs}
    expected = excluding.exclusions.excluded
    assert {job: found.get(job) for job in expected} == expected
    # the first window starts on the grid of --chunk, before the jobs: the workload's last
    # jobs may be in it, excluding nothing (sbatch --wrap)
    others = {job: nodes for job, nodes in found.items() if job not in expected}
    assert set(others) <= set(ran.workload.jobs.values())
    assert all(nodes == [] for nodes in others.values())


def test_lemons_counts_the_jobs_that_excluded_each_node(excluding: Excluding) -> None:
    # ten nodes at most: a z of 1 lets the floor of three jobs decide which nodes are flagged
    doc = lemons_json(excluding.warehouse, "--z", "1")
    (signal,) = [s for s in doc["signals"] if s["signal"] == "excl_jobid_count"]
    assert signal["available"], signal
    counts = {n["node"]: n["excl_jobid_count"] for n in doc["nodes"]}
    expected = excluding.exclusions.counts()
    assert {node: counts.get(node) for node in expected} == expected
    assert expected == {"gpu005": 5, "gpu006": 3, "gpu007": 3}
    assert {n["node"] for n in doc["nodes"] if n["flagged"]} == set(expected)
    evidence = {(e["node"], e["job_id"]) for e in doc["evidence_jobs"]}
    excluded_by = {(n, j) for j, nodes in excluding.exclusions.excluded.items() for n in nodes}
    assert excluded_by <= evidence
