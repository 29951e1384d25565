"""Lost goodput on a hand-made cluster whose losses are computed by hand (Δt_cp = 60 min, so
each loss is min(runtime, 30 min) x GPUs)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from canonical_rows import canonical_table
from typer.testing import CliRunner

from gpurel.analysis import goodput
from gpurel.analysis.summary import Settings, attributed_failures, lost_goodput
from gpurel.cli.app import app
from gpurel.errors import ConfigError
from gpurel.warehouse import Warehouse

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MIN = 1 / 60


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def attempt(
    job_id: str, nodes: list[str], start: float, end: float, state: str, gpus: int
) -> dict[str, Any]:
    """An attempt from ``start`` to ``end`` hours after T0 (submitted as it starts)."""
    return {
        "cluster": "c1",
        "job_id": job_id,
        "name": f"job-{job_id}",
        "user": "ada",
        "submit_time": h(start),
        "start_time": h(start),
        "end_time": h(end),
        "state": state,
        "n_nodes": len(nodes),
        "n_gpus": gpus,
        "nodes": nodes,
        "source": "test",
    }


def check(node: str, hours: float) -> dict[str, Any]:
    return {
        "cluster": "c1",
        "node": node,
        "time": h(hours),
        "source": "gcm",
        "check": "gpu_memory",
        "category": "gpu_memory",
        "domain": "hardware",
        "severity": "high",
        "result": "fail",
    }


BIG = [f"a{i:02d}" for i in range(1, 17)]
REQUEUE = 2 + 5 * MIN  # F1's requeue starts 2 h 5 min after T0


def _jobs() -> list[dict[str, Any]]:
    rows = [
        # F1: 128 GPUs, NODE_FAIL without a check after 2 h: loses 0.5 h x 128 = 64 GPU-h
        attempt("F1", BIG, 0, 2, "NODE_FAIL", 128),
        attempt("F1", [*BIG[:15], "b01"], REQUEUE, 10, "COMPLETED", 128),
        attempt("V1", ["b01"], REQUEUE - 3, REQUEUE - 0.5 * MIN, "PREEMPTED", 8),  # 4 GPU-h
        attempt("V2", ["b01"], REQUEUE - 10 * MIN, REQUEUE, "PREEMPTED", 4),  # 10 min: 0.667
        attempt("V3", ["c01"], REQUEUE - 3, REQUEUE, "PREEMPTED", 8),  # not F1's nodes
        attempt("V4", ["b01"], REQUEUE - 3, REQUEUE - 2 * MIN, "PREEMPTED", 8),  # too early
        # F2: 8 GPUs, FAILED with a GPU memory check after 20 min: 20/60 x 8 = 2.667 GPU-h
        attempt("F2", ["d01"], 1, 1 + 20 * MIN, "FAILED", 8),
        attempt("F2", ["d01"], 1.4, 3, "COMPLETED", 8),
        attempt("V5", ["d01"], -2.6, 1.4, "PREEMPTED", 2),  # 1 GPU-h
        # U1: a user failure; the preemption for its requeue is nobody's second-order loss
        attempt("U1", ["e01"], 0, 1, "FAILED", 8),
        attempt("U1", ["e01"], 1.1, 2, "COMPLETED", 8),
        attempt("V6", ["e01"], -2, 1.1, "PREEMPTED", 8),
        # F3, F4: 4 GPUs each, NODE_FAIL after 1 h (2 GPU-h each); both requeues land on g01
        attempt("F3", ["f01"], 0, 1, "NODE_FAIL", 4),
        attempt("F3", ["g01"], 1 + 20 / 3600, 2, "COMPLETED", 4),
        attempt("F4", ["f02"], 0, 1, "NODE_FAIL", 4),
        attempt("F4", ["g01"], 1 + 40 / 3600, 2, "COMPLETED", 4),
        attempt("V7", ["g01"], -2, 1, "PREEMPTED", 4),  # charged once, to the closer F3: 2
    ]
    # C1: 16 GPUs in a crash loop: 5 NODE_FAILs after 1 h (8 GPU-h each), each requeue
    # preempting a 4-GPU job that ran 3 h (2 GPU-h each)
    for i in range(5):
        start = 20 + 2 * i
        rows.append(attempt("C1", ["k01", "k02"], start, start + 1, "NODE_FAIL", 16))
        rows.append(attempt(f"W{i}", ["k01"], start - 1, start + 2, "PREEMPTED", 4))
    rows.append(attempt("C1", ["k01", "k02"], 30, 31, "COMPLETED", 16))
    return rows


@pytest.fixture(scope="module")
def warehouse() -> Warehouse:
    w = Warehouse.in_memory()
    w.write("jobs", canonical_table("jobs", _jobs()))
    w.write("node_events", canonical_table("node_events", [check("d01", 1 + 20 * MIN)]))
    return w


@pytest.fixture(scope="module")
def lost(warehouse: Warehouse) -> goodput.LostGoodput:
    return lost_goodput(warehouse, Settings())


def test_first_order_loss_per_failure(warehouse: Warehouse) -> None:
    failures = attributed_failures(warehouse, Settings())
    first = goodput.first_order(warehouse.jobs(), failures, 3600).to_pyarrow().to_pylist()
    loss = {(r["job_id"], r["attempt"]): r["lost_gpu_hours"] for r in first}
    assert {k: v for k, v in loss.items() if k[0] != "C1"} == pytest.approx(
        {("F1", 1): 64.0, ("F2", 1): 8 / 3, ("F3", 1): 2.0, ("F4", 1): 2.0}
    )
    assert [loss[("C1", a)] for a in range(1, 6)] == [8.0] * 5
    requeue = {r["job_id"]: r["requeue_start"] for r in first if r["attempt"] == 1}
    assert requeue["F1"] == h(REQUEUE)


def test_preemptions_are_charged_to_the_requeue_that_caused_them(warehouse: Warehouse) -> None:
    failures = attributed_failures(warehouse, Settings())
    rules = goodput.GoodputRules()
    first = goodput.first_order(warehouse.jobs(), failures, 3600)
    second = goodput.second_order(warehouse.jobs(), first, 3600, rules).to_pyarrow().to_pylist()
    charged = {r["job_id"]: r["failed_job_id"] for r in second}
    assert charged == {"V1": "F1", "V2": "F1", "V5": "F2", "V7": "F3"} | {
        f"W{i}": "C1" for i in range(5)
    }
    assert {r["job_id"]: r["failed_attempt"] for r in second if r["failed_job_id"] == "C1"} == {
        f"W{i}": i + 1 for i in range(5)
    }
    loss = {r["job_id"]: r["lost_gpu_hours"] for r in second}
    assert loss["V1"] == pytest.approx(4.0)
    assert loss["V2"] == pytest.approx(4 / 6)


def test_split_by_size_of_the_failed_job(lost: goodput.LostGoodput) -> None:
    rows = {r["bucket"]: r for r in lost.by_bucket.to_pylist()}
    assert sorted(rows) == [4, 8, 16, 128]
    expected = {  # failures, first order, preemptions, second order
        4: (2, 4.0, 1, 2.0),
        8: (1, 8 / 3, 1, 1.0),
        16: (5, 40.0, 5, 10.0),
        128: (1, 64.0, 2, 4 + 4 / 6),
    }
    for bucket, (n, first, preemptions, second) in expected.items():
        r = rows[bucket]
        assert (r["failures"], r["preemptions"]) == (n, preemptions)
        assert r["first_order_gpu_hours"] == pytest.approx(first)
        assert r["second_order_gpu_hours"] == pytest.approx(second)
        assert r["second_order_share"] == pytest.approx(second / (first + second))
    first, second = 4 + 8 / 3 + 40 + 64, 2 + 1 + 10 + 4 + 4 / 6
    assert lost.totals["failures"] == 9 and lost.totals["preemptions"] == 9
    assert lost.totals["lost_gpu_hours"] == pytest.approx(first + second)
    assert lost.totals["second_order_share"] == pytest.approx(second / (first + second))


def test_crash_loops(lost: goodput.LostGoodput) -> None:
    (loop,) = lost.crash_loops.to_pylist()
    assert (loop["job_id"], loop["name"], loop["n_gpus"]) == ("C1", "job-C1", 16)
    assert (loop["failures"], loop["requeues"], loop["preemptions"]) == (5, 5, 5)
    assert loop["preempted_gpus"] == 20
    assert loop["first_order_gpu_hours"] == pytest.approx(40.0)
    assert loop["second_order_gpu_hours"] == pytest.approx(10.0)
    assert (loop["first_failure"], loop["last_failure"]) == (h(21), h(29))


def test_tolerance_and_checkpoint_interval(warehouse: Warehouse) -> None:
    jobs, failures = warehouse.jobs(), attributed_failures(warehouse, Settings())
    wide = goodput.lost_goodput(jobs, failures, 3600, goodput.GoodputRules(tolerance_s=180))
    assert wide.totals["preemptions"] == 10  # V4, ended 2 min early, now counts too
    short = goodput.lost_goodput(jobs, failures, 600, goodput.GoodputRules(crash_loop_min=6))
    assert short.totals["first_order_gpu_hours"] == pytest.approx((128 + 8 + 4 + 4 + 5 * 16) / 12)
    assert short.crash_loops.num_rows == 0
    with pytest.raises(ConfigError):
        goodput.GoodputRules(tolerance_s=-1)


def test_goodput_command(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    w = Warehouse.open(path)
    w.write("jobs", canonical_table("jobs", _jobs()))
    w.close()
    runner = CliRunner()
    result = runner.invoke(app, ["goodput", "--json", "-w", str(path), "--crash-loops", "3"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ckpt_s"] == 3600 and doc["rules"] == {"tolerance_s": 60, "crash_loop_min": 3}
    assert doc["crash_loops"][0]["job_id"] == "C1"
    text = runner.invoke(app, ["goodput", "-w", str(path)], env={"COLUMNS": "200"})
    assert text.exit_code == 0, text.output
    assert "Crash loops: jobs requeued 5+ times after failures" in text.stdout
