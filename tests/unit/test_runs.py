"""Job runs and measured ETTR on hand-made attempts, and on runs simulated with known truth."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pytest
from canonical_rows import canonical_table, failing_event
from typer.testing import CliRunner

from gpurel import taxonomy
from gpurel.analysis.attribution import attribute
from gpurel.analysis.node_failures import node_failures
from gpurel.analysis.runs import (
    Checkpointing,
    RunRules,
    attempts_in_runs,
    ettr_by_bucket,
    run_ids,
    runs,
)
from gpurel.cli.app import app
from gpurel.warehouse import Warehouse

T0 = datetime(2024, 1, 1, tzinfo=UTC)
PRIORITIES = taxonomy.default().priorities()
NO_WRITES = Checkpointing(3600.0, 300.0, 0.0)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def attempt(
    job_id: str,
    start: float,
    end: float,
    state: str = "COMPLETED",
    attempt_no: int = 1,
    submit: float | None = None,
    eligible: float | None = None,
    name: str | None = "train",
    user: str | None = "ada",
    gpus: int = 64,
    qos: str = "high",
    nodes: list[str] | None = None,
) -> dict[str, Any]:
    """An attempt from ``start`` to ``end`` hours after T0 (submitted at ``start`` unless said)."""
    n_nodes = max(1, math.ceil(gpus / 8))
    return {
        "cluster": "c1",
        "job_id": job_id,
        "attempt": attempt_no,
        "name": name,
        "user": user,
        "account": "acct",
        "qos": qos,
        "n_gpus": gpus,
        "n_nodes": n_nodes,
        "nodes": nodes or [f"{job_id}-{i}" for i in range(n_nodes)],
        "submit_time": h(start if submit is None else submit),
        "eligible_time": None if eligible is None else h(eligible),
        "start_time": h(start),
        "end_time": h(end),
        "state": state,
        "source": "test",
    }


def failing_check(node: str, hours: float, category: str) -> dict[str, Any]:
    return failing_event(node, h(hours), category)


@pytest.fixture
def con() -> ibis.BaseBackend:
    return ibis.duckdb.connect()


def load(
    con: ibis.BaseBackend, jobs: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]] = ()
) -> tuple[ir.Table, ir.Table]:
    """Jobs (with ``attempt``) and the ``failures`` attributed from ``events``."""
    j = canonical_table("jobs", jobs).append_column(
        "attempt", pa.array([r["attempt"] for r in jobs], pa.int64())
    )
    jobs_t = con.create_table("jobs", j, overwrite=True)
    e = canonical_table("node_events", events)
    events_t = con.create_table("node_events", e, overwrite=True)
    return jobs_t, attribute(jobs_t, events_t, PRIORITIES)


def by_run(t: ir.Table) -> dict[str, dict[str, Any]]:
    return {r["run_id"]: r for r in t.to_pyarrow().to_pylist()}


def run_of(con: ibis.BaseBackend, jobs: Sequence[dict[str, Any]], gap_s: int = 3600) -> dict:
    j, _ = load(con, jobs)
    rows = run_ids(j, gap_s).to_pyarrow().to_pylist()
    return {r["job_id"]: r["run_id"] for r in rows}


# --- grouping ---------------------------------------------------------------------------------


def test_requeues_and_a_resubmission_form_one_run_with_hand_computed_ettr(con) -> None:
    jobs, failures = load(
        con,
        [
            attempt("1", 1, 10.5, "NODE_FAIL", submit=0),  # unattributed: infrastructure
            attempt("1", 11, 20.25, "FAILED", 2, submit=0),  # no cause: a user failure
            attempt("2", 21, 40, submit=20.5),  # resubmitted 15 min after the failure
        ],
    )
    run = by_run(runs(jobs, failures, ckpt=NO_WRITES))["c1:1"]
    assert run["job_keys"] == ["1#1", "1#2", "2#1"]
    assert (run["attempts"], run["jobs"], run["interruptions"], run["infra_interruptions"]) == (
        3,
        2,
        2,
        1,
    )
    # Q: 1 h (submit 0 → start 1), 0.5 h (queued after 10.5), 0.5 h (submitted 20.5)
    assert run["queue_s"] == 7200
    assert run["running_s"] == (9.5 + 9.25 + 19) * 3600
    # lower bound: 9.5 h mod 1 h = 30 min lost; then u0 + (9.25 h − 5 min) mod 1 h = 5 + 10 min
    # lost; then u0 = 5 min: 50 min in all
    assert run["unproductive_s"] == pytest.approx(50 * 60)
    # infrastructure only: the user failure charges nothing, so the last attempt pays no
    # restart; preemptions and requeues only: nothing is charged (no checkpoint writes)
    assert run["unproductive_infra_s"] == pytest.approx(35 * 60)
    assert (run["scheduler_interruptions"], run["unproductive_scheduler_s"]) == (0, 0)
    wall = 7200 + run["running_s"]
    assert run["ettr"] == pytest.approx((run["running_s"] - 3000) / wall)
    assert run["ettr_infra"] == pytest.approx((run["running_s"] - 2100) / wall)


def test_resubmission_after_the_gap_starts_a_new_run(con) -> None:
    jobs = [attempt("1", 0, 10), attempt("2", 12, 20, submit=11.5)]
    assert run_of(con, jobs) == {"1": "c1:1", "2": "c1:2"}
    assert run_of(con, jobs, gap_s=2 * 3600) == {"1": "c1:1", "2": "c1:1"}


def test_concurrent_array_tasks_are_separate_runs_sequential_ones_chain(con) -> None:
    jobs = [
        attempt("10_1", 0, 5, name="sweep", submit=0),
        attempt("10_2", 0, 6, name="sweep", submit=0),
        attempt("11_1", 0, 5, name="chain", submit=0),
        attempt("11_2", 5, 9, name="chain", submit=0),  # a %1 array: queued, then ran
    ]
    ids = run_of(con, jobs)
    assert ids["10_1"] != ids["10_2"]
    assert ids["11_1"] == ids["11_2"] == "c1:11_1"


def test_other_users_and_nameless_jobs_never_chain(con) -> None:
    jobs = [
        attempt("1", 0, 5),
        attempt("2", 5, 9, user="bob"),
        attempt("3", 0, 5, name=None),
        attempt("4", 5, 9, name=None),
    ]
    assert len(set(run_of(con, jobs).values())) == 4


def test_queue_time_starts_at_eligibility_and_never_overlaps_the_predecessor(con) -> None:
    jobs, failures = load(
        con,
        [
            attempt("1", 1, 5, submit=0),
            attempt("2", 6, 8, submit=2, eligible=5.5),  # dependency: eligible at 5.5
            attempt("3", 9, 12, submit=2),  # submitted early, no eligible time: from 8
        ],
    )
    a = attempts_in_runs(jobs, failures).order_by("start_time").to_pyarrow()
    assert a["queue_us"].to_pylist() == [3600e6, 1800e6, 3600e6]
    assert len(set(a["run_id"].to_pylist())) == 1


# --- measured ETTR ----------------------------------------------------------------------------


def test_checkpoint_writes_are_charged_per_completed_checkpoint(con) -> None:
    jobs, failures = load(con, [attempt("1", 0, 10)])
    c = Checkpointing(3600.0, 300.0, 60.0)
    run = by_run(runs(jobs, failures, ckpt=c))["c1:1"]
    assert run["unproductive_s"] == 9 * 60  # floor(36000 / 3660) = 9 checkpoints


def test_infrastructure_and_scheduler_interruptions_are_counted_apart(con) -> None:
    jobs, failures = load(
        con,
        [
            attempt("1", 0, 2.5, "FAILED", nodes=["n1"], gpus=8),  # GPU fell off the bus
            attempt("1", 3, 5.5, "PREEMPTED", 2, nodes=["n2"], gpus=8),
            attempt("1", 6, 8.5, "FAILED", 3, nodes=["n3"], gpus=8),  # no cause: user
            attempt("1", 9, 11.5, "COMPLETED", 4, nodes=["n4"], gpus=8),
        ],
        [failing_check("n1", 2.5, "gpu_unavailable")],
    )
    run = by_run(runs(jobs, failures, ckpt=NO_WRITES))["c1:1"]
    assert (run["interruptions"], run["infra_interruptions"]) == (3, 1)
    assert run["scheduler_interruptions"] == 1
    # lower bound: 30 min; then 5 + 25 min twice; then 5 min = 95 min
    assert run["unproductive_s"] == pytest.approx(95 * 60)
    # infrastructure only: 30 min lost, 5 min restart after it; the preemption and the user
    # failure charge nothing
    assert run["unproductive_infra_s"] == pytest.approx(35 * 60)
    # preemptions only: the preempted attempt loses 30 min, the next one restarts in 5 min
    assert run["unproductive_scheduler_s"] == pytest.approx(35 * 60)


def test_by_bucket_selects_long_runs_and_reports_spread(con) -> None:
    rows = [
        attempt("1", 0, 30, gpus=64),
        attempt("2", 0, 30.5, "NODE_FAIL", gpus=64, user="b"),
        attempt("2", 31, 60, "COMPLETED", 2, gpus=64, user="b"),
        attempt("3", 0, 48, gpus=2048, qos="low", user="c"),
        attempt("4", 0, 5, gpus=64, user="d"),  # shorter than 24 h: left out
    ]
    jobs, failures = load(con, rows)
    table = runs(jobs, failures, ckpt=NO_WRITES)
    ettrs = by_run(table)
    t = ettr_by_bucket(table).to_pylist()
    assert [r["bucket"] for r in t] == [64, 2048]
    e1, e2 = ettrs["c1:1"]["ettr"], ettrs["c1:2"]["ettr"]
    assert e1 == 1.0 and e2 < 1.0
    assert t[0]["runs"] == 2 and t[0]["ettr_mean"] == pytest.approx((e1 + e2) / 2)
    assert t[0]["ettr_q25"] == pytest.approx(e2 + 0.25 * (e1 - e2))
    assert t[0]["ettr_median"] == pytest.approx((e1 + e2) / 2)
    high = ettr_by_bucket(table, RunRules(qos="high")).to_pylist()
    assert [r["bucket"] for r in high] == [64]
    assert len(ettr_by_bucket(table, RunRules(min_hours=1)).to_pylist()) == 2
    assert ettr_by_bucket(table, RunRules(min_hours=1)).to_pylist()[0]["runs"] == 3


def _simulated_run(
    rng: np.random.Generator, job_id: str, c: Checkpointing, queue_s: int, work_h: int
) -> tuple[list[dict[str, Any]], float]:
    """Attempts of one run simulated with whole-second failure times, and its true ETTR."""
    lam, dt, w, u0 = 1 / (6 * 3600), int(c.ckpt_s), int(c.write_s), int(c.restart_s)
    work, done, wall, t, restarting, rows = work_h * 3600, 0, 0, 0, False, []
    while True:
        restart = u0 if restarting else 0
        need = restart + (work - done) // dt * (dt + w)
        x = max(1, int(rng.exponential(1 / lam)))
        ran = min(x, need)
        start = t + queue_s
        rows.append(
            attempt(
                job_id,
                start / 3600,
                (start + ran) / 3600,
                "COMPLETED" if x >= need else "NODE_FAIL",
                len(rows) + 1,
                submit=t / 3600,
                user=job_id,
            )
        )
        wall += queue_s + ran
        if x >= need:
            return rows, work / wall
        done += max(x - restart, 0) // (dt + w) * dt
        t, restarting = start + ran, True


@pytest.mark.parametrize("write_s", [0.0, 90.0])
def test_measured_ettr_equals_the_truth_on_simulated_runs(con, write_s: float) -> None:
    rng = np.random.default_rng(20241029)
    c = Checkpointing(3600.0, 300.0, write_s)
    truth, rows = {}, []
    for i in range(8):
        attempts, ettr = _simulated_run(rng, f"r{i}", c, queue_s=600, work_h=72)
        truth[f"c1:r{i}"] = ettr
        rows += attempts
    jobs, failures = load(con, rows)
    measured = by_run(runs(jobs, failures, ckpt=c))
    assert sum(r["interruptions"] for r in measured.values()) > 50
    for run_id, want in truth.items():
        assert measured[run_id]["ettr"] == pytest.approx(want, abs=1e-9)
        assert measured[run_id]["ettr_infra"] == pytest.approx(want, abs=1e-9)


# --- per-node failures ------------------------------------------------------------------------


def test_node_failures_charge_the_cause_node_or_the_only_node(con) -> None:
    jobs, failures = load(
        con,
        [
            attempt("1", 0, 24, "FAILED", gpus=16, nodes=["n1", "n2"]),  # cause on n2
            attempt("2", 0, 48, "NODE_FAIL", gpus=8, nodes=["n3"]),  # unattributed, one node
            attempt("3", 0, 24, "NODE_FAIL", gpus=16, nodes=["n1", "n4"]),  # cannot charge
            attempt("4", 0, 24, "FAILED", gpus=8, nodes=["n4"]),  # user failure: not counted
        ],
        [failing_check("n2", 24, "gpu_unavailable")],
    )
    result = node_failures(jobs, failures).run()
    rows = {r["node"]: (r["failures"], r["node_days"]) for r in result.per_node.to_pylist()}
    assert rows == {"n1": (0, 2.0), "n2": (1, 1.0), "n3": (1, 2.0), "n4": (0, 2.0)}
    assert result.unassigned == 1


# --- the command ------------------------------------------------------------------------------


def test_runs_command_prints_the_table_and_every_run_as_json(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    store = Warehouse.open(path)
    rows = [
        attempt("1", 0, 30.5, "NODE_FAIL", gpus=64),
        attempt("1", 31, 60, "COMPLETED", 2, gpus=64),
        attempt("2", 0, 5, gpus=8, user="b"),  # too short for the table
    ]
    store.write(
        "jobs",
        canonical_table("jobs", [{k: v for k, v in r.items() if k != "attempt"} for r in rows]),
    )
    store.close()
    result = CliRunner().invoke(app, ["runs", "-w", str(path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert [r["run_id"] for r in doc["runs"]] == ["c1:1"]
    run = doc["runs"][0]
    assert run["job_keys"] == ["1#1", "1#2"] and run["interruptions"] == 1
    # 30.5 h mod 1 h = 30 min lost, then a 5-min restart; no queue time (submitted at start)
    assert run["ettr"] == pytest.approx((59.5 * 3600 - 35 * 60) / (59.5 * 3600))
    assert doc["by_bucket"][0]["bucket"] == 64 and doc["checkpointing"]["ckpt_s"] == 3600
    table = CliRunner().invoke(app, ["runs", "-w", str(path), "--min-hours", "1", "--ckpt", "30m"])
    assert table.exit_code == 0, table.output
    assert "Measured ETTR of job runs ≥ 1 h" in table.output
