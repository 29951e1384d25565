"""Collection from a real Slurm + gpurel's analysis recover the injected faults."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import ibis.expr.types as ir
import pytest
from slurmlab import SlurmLab
from slurmlab_files import PREEMPT_EXEMPT_S

from conftest import Ran, collect, contents, gpurel_command, window_args
from gpurel.analysis.summary import Analysis, analyze
from gpurel.warehouse import Warehouse

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(clean: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """A copy of the cleanly collected warehouse, open (the collector may use the original)."""
    copy = tmp_path_factory.mktemp("analysis") / clean.name
    shutil.copy2(clean, copy)
    warehouse = Warehouse.open(copy)
    yield warehouse
    warehouse.close()


@pytest.fixture(scope="module")
def analysis(store: Warehouse) -> Analysis:
    """gpurel's analysis of the collected warehouse."""
    return analyze(store)


def attempts(store: Warehouse, job_id: str) -> list[dict[str, Any]]:
    """The stored attempts of one job id, in order."""
    jobs = store.jobs()
    rows = jobs.filter(jobs.job_id == job_id).order_by("attempt").to_pyarrow()
    return rows.to_pylist()


@pytest.fixture(scope="module")
def attributed(store: Warehouse, analysis: Analysis) -> ir.Table:
    """The interrupted attempts with their causes, as the analysis attributed them."""
    return store.derived("failures")


def failures(attributed: ir.Table, job_id: str) -> list[dict[str, Any]]:
    """The attributed failures of one job id, in attempt order."""
    return (
        attributed.filter(attributed.job_id == job_id).order_by("attempt").to_pyarrow().to_pylist()
    )


def states(store: Warehouse, job_id: str) -> list[str]:
    """The states of a job id's attempts, in order."""
    return [row["state"] for row in attempts(store, job_id)]


def test_high_severity_fault_fails_the_job_which_is_requeued(
    store: Warehouse, analysis: Analysis, ran: Ran, attributed: ir.Table
) -> None:
    job = ran.job("ib")
    assert states(store, job) == ["NODE_FAIL", "COMPLETED"]
    (failure,) = failures(attributed, job)
    assert failure["attempt"] == 1
    assert (failure["category"], failure["domain"], failure["severity"]) == (
        "ib_link",
        "hardware",
        "high",
    )
    assert failure["node"] == "gpu001"
    assert failure["check"] in {"check_hw_ib", "check ibstat"}


def test_low_severity_drain_lets_the_job_finish(
    store: Warehouse, ran: Ran, attributed: ir.Table
) -> None:
    job = ran.job("drained")
    assert states(store, job) == ["COMPLETED"]
    assert failures(attributed, job) == []
    events = store.table("node_events")
    drained = events.filter(
        (events.node == "gpu002") & (events.result == "fail") & (events.severity == "low")
    )
    found = {(r["source"], r["category"]) for r in drained.to_pyarrow().to_pylist()}
    assert found == {("gcm", "filesystem_mount"), ("slurm_event", "filesystem_mount")}


def test_node_failing_repeatedly_fails_each_of_its_jobs(
    store: Warehouse, ran: Ran, attributed: ir.Table
) -> None:
    for role in ("lemon1", "lemon2"):
        found = failures(attributed, ran.job(role))
        tried = attempts(store, ran.job(role))
        seen = [(a["state"], a["start_time"], a["end_time"]) for a in tried]
        assert len(found) == 1, (role, seen, found)  # states and times, should this recur
        (failure,) = found
        assert (failure["state"], failure["category"], failure["node"]) == (
            "NODE_FAIL",
            "gpu_memory",
            "gpu003",
        )
    events = store.table("node_events")
    gpu003 = events.filter(
        (events.node == "gpu003") & (events.result == "fail") & (events.source == "gcm")
    )
    assert gpu003.count().to_pyarrow().as_py() == 2


def test_dead_node_fails_its_job_without_a_hardware_cause(
    store: Warehouse, ran: Ran, attributed: ir.Table
) -> None:
    (failure,) = failures(attributed, ran.job("dead"))
    assert failure["state"] == "NODE_FAIL"
    # no health check spoke: at most Slurm's own "Not responding", which names no cause
    assert failure["category"] in {"unattributed", "node_unresponsive"}
    assert failure["domain"] == "unknown"


def test_large_job_fault_is_attributed_and_requeued(
    store: Warehouse, ran: Ran, attributed: ir.Table
) -> None:
    job = ran.job("large")
    first, second = attempts(store, job)
    assert (first["state"], second["state"]) == ("NODE_FAIL", "COMPLETED")
    assert first["n_gpus"] == second["n_gpus"] == 24
    assert first["nodes"] == ["gpu005", "gpu006", "gpu007"]
    (failure,) = failures(attributed, job)
    assert (failure["category"], failure["node"]) == ("pcie", "gpu006")
    assert failure["n_candidates"] >= 3  # GCM check, Slurm down event, kernel XID 79
    events = store.table("node_events")
    xids = events.filter(events.xid == 79).to_pyarrow().to_pylist()
    assert [(x["node"], x["source"], x["category"]) for x in xids] == [
        ("gpu006", "kernel_xid", "gpu_unavailable")
    ]


def test_user_failure_timeout_and_cancel(store: Warehouse, ran: Ran, attributed: ir.Table) -> None:
    (user,) = failures(attributed, ran.job("user"))
    assert (user["state"], user["category"], user["domain"]) == ("FAILED", "none", "user")
    assert attempts(store, ran.job("user"))[0]["exit_code"] == 1
    assert states(store, ran.job("timeout")) == ["TIMEOUT"]
    (cancelled,) = attempts(store, ran.job("cancel"))
    assert (cancelled["state"], cancelled["cancelled_by"]) == ("CANCELLED", "0")
    assert states(store, ran.job("ok")) == ["COMPLETED"]


def test_preemption_after_exempt_time(store: Warehouse, ran: Ran) -> None:
    low = attempts(store, ran.job("low"))
    assert [(a["state"], a["qos"]) for a in low] == [("PREEMPTED", "low"), ("COMPLETED", "low")]
    (high,) = attempts(store, ran.job("high"))
    assert (high["state"], high["qos"]) == ("COMPLETED", "high")
    ran_for = low[0]["end_time"] - low[0]["start_time"]
    assert ran_for >= timedelta(seconds=PREEMPT_EXEMPT_S)
    assert high["start_time"] >= low[0]["end_time"]


def test_analysis_counts_every_state_and_interruption(analysis: Analysis, ran: Ran) -> None:
    by_state = {row["state"]: row["jobs"] for row in analysis.job_states.to_pylist()}
    assert by_state == {
        "COMPLETED": 6,  # ib, large, low (second attempts), drained, ok, high
        "NODE_FAIL": 5,  # ib, large (first attempts), lemon1, lemon2, dead
        "PREEMPTED": 1,
        "FAILED": 1,
        "TIMEOUT": 1,
        "CANCELLED": 1,
    }
    assert analysis.overview["job_ids"] == len(ran.workload.jobs)
    assert analysis.rejects.num_rows == 0


def test_times_are_utc_whatever_the_collector_zone(store: Warehouse, ran: Ran) -> None:
    for role in ran.workload.jobs:
        for attempt in attempts(store, ran.job(role)):
            assert ran.since <= attempt["start_time"] <= ran.until
            assert ran.since <= attempt["end_time"] <= ran.until


def test_collecting_again_changes_nothing(lab: SlurmLab, clean: Path, ran: Ran) -> None:
    before = contents(clean)
    done = collect(lab, clean, *window_args(ran))
    assert done.returncode == 0, done.stderr
    assert contents(clean) == before


GPUREL_TOML = """
[attribution]
before = "10s"  # health checks every 3 s: a failing check is seconds from the job's end
after = "5s"

[rates]
merge_gap = "30s"

[lemons]
window = "1h"
merge_gap = "30s"
"""


def failing_checks_near_the_end(path: Path, job_id: str, before_s: int, after_s: int) -> set[str]:
    """Categories of failing records on the nodes of ``job_id``'s interrupted attempts, from
    ``before_s`` before an attempt's end to ``after_s`` after it (recounted in SQL,
    independently of gpurel's attribution)."""
    query = """
        SELECT DISTINCT e.category
        FROM jobs j, node_events e
        WHERE j.job_id = ? AND j.state IN ('FAILED', 'NODE_FAIL') AND j.end_time > j.start_time
          AND list_contains(j.nodes, e.node) AND e.result = 'fail'
          AND e.time BETWEEN j.end_time - to_seconds(?) AND j.end_time + to_seconds(?)
    """
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(query, [job_id, before_s, after_s]).fetchall()
    return {category for (category,) in rows}


def test_one_config_file_for_a_cluster_checked_every_few_seconds(
    clean: Path, ran: Ran, tmp_path: Path
) -> None:
    """Every command honours gpurel.toml in the working directory: a window of seconds."""
    (tmp_path / "gpurel.toml").write_text(GPUREL_TOML)
    copy = tmp_path / "w.duckdb"
    shutil.copy2(clean, copy)

    def gpurel(*args: str) -> Any:
        done = subprocess.run(
            [*gpurel_command(), *args, "--warehouse", str(copy)],
            cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    doc = gpurel("analyze", "--json")
    assert doc["settings"]["window"] == {"before_s": 10, "after_s": 5}
    assert doc["settings"]["merge_gap_s"] == 30
    assert doc["settings"]["lemon"]["window_s"] == 3600
    attributed = {
        (row["job_id"], row["category"])
        for row in doc["largest_failures"]
        if row["category"] not in ("unattributed", "none")
    }
    for role in ("ib", "lemon1", "large"):
        job = ran.job(role)
        found = {category for job_id, category in attributed if job_id == job}
        near = failing_checks_near_the_end(copy, job, before_s=10, after_s=5)
        assert found <= near and bool(found) == bool(near), (role, found, near)
    assert gpurel("lemons", "--json")["settings"]["window_s"] == 3600
    assert gpurel("runs", "--json")["run_rules"]["gap_s"] == 3600
