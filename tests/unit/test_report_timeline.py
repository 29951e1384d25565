"""Engine-side helpers of the report: first appearance of checks, infrastructure share,
the largest interrupted attempts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import pyarrow as pa

from gpurel import schema, taxonomy
from gpurel.analysis import metrics, timeline
from gpurel.analysis.attribution import attribute

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def event(node: str, hours: float, check: str, result: str = "fail", **kw: Any) -> dict[str, Any]:
    return {
        "cluster": "c1",
        "node": node,
        "time": h(hours),
        "source": "test",
        "check": check,
        "category": kw.get("category", "ib_link"),
        "domain": kw.get("domain", "hardware"),
        "severity": kw.get("severity", "high"),
        "result": result,
        "message": kw.get("message"),
    }


def job(job_id: str, state: str, gpus: int, hours: float, nodes: list[str]) -> dict[str, Any]:
    return {
        "cluster": "c1",
        "job_id": job_id,
        "attempt": 1,
        "state": state,
        "n_gpus": gpus,
        "n_nodes": len(nodes),
        "nodes": nodes,
        "start_time": T0,
        "end_time": h(hours),
        "source": "test",
        "name": f"train-{job_id}",
        "user": "alice",
        "account": "ml",
        "partition": "gpu",
    }


def _events(rows: list[dict[str, Any]]) -> ibis.Table:
    return ibis.memtable(pa.Table.from_pylist(rows, schema=schema.NODE_EVENTS))


def test_first_appearances() -> None:
    events = _events(
        [
            event("n1", 0, "ibstat", "ok"),
            event("n2", 30, "ibstat", message="port down"),
            event("n1", 30, "ibstat", message="flap"),  # same time: node n1 first
            event("n3", 200, "pci", category="pcie", message="width x8"),
            event("n1", 1, "gpu_num", "ok"),
        ]
    )
    rows = timeline.first_appearances(events, new_after=h(168)).run().to_pylist()
    assert [r["check"] for r in rows] == ["ibstat", "gpu_num", "pci"]
    ibstat, gpu_num, pci = rows
    assert (ibstat["records"], ibstat["failing"], ibstat["first_fail"]) == (3, 2, h(30))
    assert (ibstat["node"], ibstat["message"], ibstat["new"]) == ("n1", "flap", False)
    assert (gpu_num["failing"], gpu_num["first_fail"], gpu_num["category"]) == (0, None, None)
    assert (pci["first_seen"], pci["category"], pci["new"]) == (h(200), "pcie", True)


def test_first_appearances_without_a_threshold_marks_nothing_new() -> None:
    rows = timeline.first_appearances(_events([event("n1", 500, "pci")])).run().to_pylist()
    assert [r["new"] for r in rows] == [False]


def test_infra_failure_share() -> None:
    jobs = ibis.memtable(
        pa.Table.from_pylist(
            [
                job("1", "COMPLETED", 8, 10, ["n1"]),
                job("2", "NODE_FAIL", 16, 5, ["n2", "n3"]),  # unattributed: infrastructure
                job("3", "FAILED", 8, 5, ["n4"]),  # no candidate: presumed user
                job("4", "FAILED", 8, 5, ["n5"]),  # ib_link at its end: infrastructure
            ]
        )
    )
    events = _events([event("n5", 5, "ibstat")])
    failures = attribute(jobs, events, taxonomy.default().priorities())
    share = metrics.infra_failure_share(jobs, failures).run()
    assert share["attempts"] == 4 and share["gpu_hours"] == 80 + 80 + 40 + 40
    assert share["infra_attempts"] == 2 and share["infra_gpu_hours"] == 120
    assert share["attempt_share"] == 0.5 and share["gpu_hours_share"] == 0.5


def test_infra_failure_share_without_jobs() -> None:
    jobs = ibis.memtable(schema.empty("jobs").append_column("attempt", pa.array([], pa.int32())))
    failures = attribute(jobs, _events([]), taxonomy.default().priorities())
    share = metrics.infra_failure_share(jobs, failures).run()
    assert share["attempts"] == 0 and share["gpu_hours_share"] is None


def test_largest_failures() -> None:
    jobs = ibis.memtable(
        pa.Table.from_pylist(
            [
                job("1", "COMPLETED", 64, 10, ["n1"]),  # not interrupted
                job("2", "NODE_FAIL", 16, 5, ["n2", "n3"]),  # 80 GPU-hours
                job("4", "FAILED", 8, 5, ["n5"]),  # 40 GPU-hours, ib_link at its end
                job("3", "FAILED", 8, 5, ["n4"]),  # 40 GPU-hours: ties go by job id
            ]
        )
    )
    failures = attribute(jobs, _events([event("n5", 5, "ibstat")]), taxonomy.default().priorities())
    rows = metrics.largest_failures(jobs, failures, n=3).run().to_pylist()
    assert [(r["job_id"], r["gpu_hours"], r["runtime_hours"]) for r in rows] == [
        ("2", 80, 5),
        ("3", 40, 5),
        ("4", 40, 5),
    ]
    assert (rows[0]["name"], rows[0]["user"], rows[0]["category"]) == (
        "train-2",
        "alice",
        "unattributed",
    )
    assert (rows[2]["category"], rows[2]["check"], rows[2]["node"]) == ("ib_link", "ibstat", "n5")
    assert [
        r["job_id"] for r in metrics.largest_failures(jobs, failures, n=1).run().to_pylist()
    ] == ["2"]
