"""Reliability metrics on small hand-made fixtures with answers computed by hand."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest
from canonical_rows import canonical_table, failing_event

from gpurel import schema, taxonomy
from gpurel.analysis import metrics
from gpurel.analysis.attribution import attribute
from gpurel.errors import ConfigError, GpurelError
from gpurel.models.failure_model import mttf_interval, poisson_interval

T0 = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday, ISO week 2024-W01
PRIORITIES = taxonomy.default().priorities()
TEN_DAYS = metrics.Period(T0, T0 + timedelta(days=10))


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def job(
    job_id: str,
    state: str = "COMPLETED",
    n_gpus: int | None = 8,
    hours: float = 1.0,
    start: float | None = 0.0,
    nodes: list[str] | None = None,
    cluster: str = "c1",
) -> dict[str, Any]:
    """An attempt of ``hours`` starting ``start`` hours after T0, on ceil(n_gpus / 8) nodes."""
    n_nodes = max(1, math.ceil((n_gpus or 0) / 8))
    begin = 0.0 if start is None else start
    return {
        "cluster": cluster,
        "job_id": job_id,
        "attempt": 1,
        "state": state,
        "n_gpus": n_gpus,
        "n_nodes": n_nodes,
        "nodes": nodes if nodes is not None else [f"{job_id}-{i}" for i in range(n_nodes)],
        "start_time": None if start is None else h(begin),
        "end_time": h(begin + hours),
        "source": "test",
    }


def event(
    node: str,
    hours: float,
    category: str = "ib_link",
    check: str | None = None,
    end_hours: float | None = None,
    result: str = "fail",
    cluster: str = "c1",
) -> dict[str, Any]:
    end_time = None if end_hours is None else h(end_hours)
    extra = {"check": check or category, "end_time": end_time, "result": result}
    return failing_event(node, h(hours), category, cluster=cluster, **extra)


def node(name: str, start: datetime | None = None, end: datetime | None = None) -> dict:
    return {
        "cluster": "c1",
        "node": name,
        "in_service_start": start,
        "in_service_end": end,
        "source": "test",
    }


@pytest.fixture(scope="module")
def con() -> ibis.BaseBackend:
    return ibis.duckdb.connect()


def load(
    con: ibis.BaseBackend,
    jobs: Sequence[dict[str, Any]] = (),
    events: Sequence[dict[str, Any]] = (),
    nodes: Sequence[dict[str, Any]] = (),
) -> tuple[ir.Table, ir.Table, ir.Table]:
    """Jobs (with ``attempt``), node events and inventory as engine tables."""
    j = canonical_table("jobs", jobs)
    j = j.append_column("attempt", pa.array([r["attempt"] for r in jobs], pa.int64()))
    return (
        con.create_table("jobs", j, overwrite=True),
        con.create_table("node_events", canonical_table("node_events", events), overwrite=True),
        con.create_table("nodes", canonical_table("nodes", nodes), overwrite=True),
    )


# --- job mix ----------------------------------------------------------------------------------


def test_job_states_by_count_and_gpu_time(con: ibis.BaseBackend) -> None:
    jobs, _, _ = load(
        con,
        [
            job("1", n_gpus=8, hours=2),  # 16 GPU-h
            job("2", n_gpus=1, hours=4),  # 4 GPU-h
            job("3", "FAILED", n_gpus=16, hours=1),  # 16 GPU-h
            job("4", "NODE_FAIL", n_gpus=8, start=None),  # never started: 0 GPU-h
        ],
    )
    rows = metrics.job_states(jobs).run().to_pylist()
    assert [(r["state"], r["jobs"], r["gpu_hours"]) for r in rows] == [
        ("COMPLETED", 2, 20.0),
        ("FAILED", 1, 16.0),
        ("NODE_FAIL", 1, 0.0),
    ]
    assert [r["jobs_share"] for r in rows] == [0.5, 0.25, 0.25]
    assert [r["gpu_hours_share"] for r in rows] == pytest.approx([20 / 36, 16 / 36, 0.0])


def test_size_buckets_are_powers_of_two(con: ibis.BaseBackend) -> None:
    sizes = [None, 0, 1, 2, 3, 4, 5, 8, 9, 16, 17, 1024, 1025]
    jobs, _, _ = load(con, [job(str(i), n_gpus=n) for i, n in enumerate(sizes)])
    rows = metrics.size_distribution(jobs).run().to_pylist()
    assert [(r["bucket"], r["label"], r["jobs"]) for r in rows] == [
        (0, "cpu", 2),
        (1, "1", 1),
        (2, "2", 1),
        (4, "4", 2),
        (8, "8", 2),  # 5 and 8 GPUs
        (16, "16", 2),  # 9 and 16 GPUs
        (32, "32", 1),
        (1024, "1024", 1),
        (2048, "2048", 1),
    ]
    by_bucket = {r["bucket"]: r for r in rows}
    assert by_bucket[16]["gpu_hours"] == 25.0
    assert sum(r["jobs_share"] for r in rows) == pytest.approx(1.0)
    assert by_bucket[2048]["gpu_hours_share"] == pytest.approx(1025 / sum(s or 0 for s in sizes))


# --- node-days --------------------------------------------------------------------------------


def test_node_days_from_inventory(con: ibis.BaseBackend) -> None:
    jobs, events, nodes = load(
        con,
        [job("1", nodes=["zz"])],  # a node missing from the inventory does not count
        [],
        [
            node("a"),  # in service throughout: 10 days
            node("b", start=T0 + timedelta(days=5)),  # 5 days, 2 of them in the first week
            node("c", end=datetime(2023, 12, 15, tzinfo=UTC)),  # retired before the period
        ],
    )
    nd = metrics.node_days(jobs, events, nodes, TEN_DAYS)
    assert (nd.method, nd.node_days) == ("inventory", pytest.approx(15.0))
    assert nd.by_cluster.to_pylist() == [
        {"cluster": "c1", "method": "inventory", "nodes": 2, "node_days": pytest.approx(15.0)}
    ]
    weeks = nd.by_week.to_pylist()
    assert [w["iso_week"] for w in weeks] == ["2024-W01", "2024-W02"]
    assert [w["node_days"] for w in weeks] == pytest.approx([9.0, 6.0])


def test_node_days_fall_back_to_observed_nodes(con: ibis.BaseBackend) -> None:
    jobs, events, nodes = load(
        con, [job("1", nodes=["a", "b"])], [event("c", 1), event("a", 2, result="ok")]
    )
    nd = metrics.node_days(jobs, events, nodes, TEN_DAYS)
    assert (nd.method, nd.node_days) == ("observed", pytest.approx(30.0))
    assert [w["node_days"] for w in nd.by_week.to_pylist()] == pytest.approx([21.0, 9.0])


def test_node_days_per_cluster_method(con: ibis.BaseBackend) -> None:
    jobs, events, nodes = load(con, [job("1", nodes=["x", "y"], cluster="c2")], [], [node("a")])
    nd = metrics.node_days(jobs, events, nodes, TEN_DAYS)
    assert nd.method == "mixed"
    assert [(r["cluster"], r["method"], r["nodes"]) for r in nd.by_cluster.to_pylist()] == [
        ("c1", "inventory", 1),
        ("c2", "observed", 2),
    ]
    assert nd.node_days == pytest.approx(30.0)


def test_analysis_period_spans_jobs_and_events(con: ibis.BaseBackend) -> None:
    jobs, events, nodes = load(con, [job("1", start=1, hours=2, nodes=["a"])], [event("a", 5)])
    nd = metrics.node_days(jobs, events, nodes)
    assert (nd.period.start, nd.period.end) == (h(1), h(5))
    assert nd.node_days == pytest.approx(4 / 24)


def test_period_is_validated(con: ibis.BaseBackend) -> None:
    with pytest.raises(ConfigError):
        metrics.Period(datetime(2024, 1, 1), datetime(2024, 1, 2))
    with pytest.raises(ConfigError):
        metrics.Period(h(2), h(1))
    jobs, events, _ = load(con)
    with pytest.raises(GpurelError):
        metrics.analysis_period(jobs, events)


# --- failure episodes -------------------------------------------------------------------------


def episode_rows(con: ibis.BaseBackend, events: list[dict], gap: int = 3600) -> list[dict]:
    _, ev, _ = load(con, [], events)
    rows = metrics.episodes(ev, merge_gap_s=gap).to_pyarrow().to_pylist()
    return sorted(rows, key=lambda r: (r["cluster"], r["node"], r["check"], r["start"]))


EPISODE_EVENTS = [
    # the 5-minute check fails on node a for 3 hours: one episode ...
    *(event("a", i / 12) for i in range(37)),
    event("a", 4),  # ... still, exactly one merge gap after the last failure
    event("a", 5 + 1 / 3600),  # a gap of 1 h 1 s: a new episode
    event("a", 1, "gpu_error", check="xid"),  # another check on the same node
    event("a", 1, result="warn"),  # not a failure
    event("a", 1, cluster="c2"),  # same node name, other cluster
    # a record with a span covers later ones
    event("b", 0, "pcie", end_hours=6),
    event("b", 2, "pcie"),
    event("b", 6.5, "pcie"),
]


def test_episodes_merge_records_within_the_gap(con: ibis.BaseBackend) -> None:
    rows = episode_rows(con, EPISODE_EVENTS)
    summary = [
        (r["cluster"], r["node"], r["check"], r["start"], r["end"], r["records"]) for r in rows
    ]
    assert summary == [
        ("c1", "a", "ib_link", h(0), h(4), 38),
        ("c1", "a", "ib_link", h(5 + 1 / 3600), h(5 + 1 / 3600), 1),
        ("c1", "a", "xid", h(1), h(1), 1),
        ("c1", "b", "pcie", h(0), h(6.5), 3),
        ("c2", "a", "ib_link", h(1), h(1), 1),
    ]


def test_episode_merge_gap_is_configurable(con: ibis.BaseBackend) -> None:
    rows = episode_rows(con, EPISODE_EVENTS, gap=600)
    counts: dict[tuple[str, str], int] = {}
    for r in rows:
        counts[r["node"], r["check"]] = counts.get((r["node"], r["check"]), 0) + 1
    assert counts == {("a", "ib_link"): 4, ("a", "xid"): 1, ("b", "pcie"): 2}


RATE_EVENTS = [
    event("a", 24, "ib_link"),
    event("b", 48, "ib_link"),
    event("c", 72, "gsp_timeout"),  # system software
    event("a", 24 * 9, "pcie"),
    event("a", 24 * 20, "pcie"),  # outside the period
]
TWO_WEEKS = metrics.NodeDays(
    period=metrics.Period(T0, T0 + timedelta(days=14)),
    method="inventory",
    node_days=1000.0,
    by_cluster=pa.table({"cluster": ["c1"]}),
    by_week=pa.table(
        {
            "week_start": pa.array([T0, T0 + timedelta(days=7)], schema.TIME),
            "iso_week": ["2024-W01", "2024-W02"],
            "node_days": [500.0, 500.0],
        }
    ),
)


def rate_of(k: int, node_days: float) -> list[float]:
    return [v * 1000 for v in poisson_interval(k, node_days)]


def test_episode_rates_per_category_and_domain(con: ibis.BaseBackend) -> None:
    _, ev, _ = load(con, [], RATE_EVENTS)
    eps = metrics.episodes(ev)
    rows = metrics.episode_rates(eps, TWO_WEEKS).to_pylist()
    assert [(r["category"], r["domain"], r["episodes"]) for r in rows] == [
        ("ib_link", "hardware", 2),
        ("gsp_timeout", "system_software", 1),
        ("pcie", "hardware", 1),
    ]
    assert [rows[0][c] for c in metrics.RATE_COLUMNS] == pytest.approx(rate_of(2, 1000))
    by_domain = metrics.episode_rates(eps, TWO_WEEKS, by=("domain",)).to_pylist()
    assert [(r["domain"], r["episodes"]) for r in by_domain] == [
        ("hardware", 3),
        ("system_software", 1),
    ]
    summary = metrics.episode_summary(eps, TWO_WEEKS).to_pylist()
    assert [(r["scope"], r["episodes"], r["per_1000_node_days"]) for r in summary] == [
        ("all", 4, 4.0),
        ("hardware", 3, 3.0),
    ]


def test_weekly_episode_rates_use_each_weeks_node_days(con: ibis.BaseBackend) -> None:
    _, ev, _ = load(con, [], RATE_EVENTS)
    eps = metrics.episodes(ev)
    rows = metrics.weekly_episode_rates(eps, TWO_WEEKS).to_pylist()
    assert [(r["iso_week"], r["episodes"], r["per_1000_node_days"]) for r in rows] == [
        ("2024-W01", 3, 6.0),
        ("2024-W02", 1, 2.0),
    ]
    assert [rows[1][c] for c in metrics.RATE_COLUMNS] == pytest.approx(rate_of(1, 500))
    grid = metrics.weekly_episode_rates(eps, TWO_WEEKS, by=("category",)).to_pylist()
    assert len(grid) == 6  # 2 weeks x 3 categories, empty cells included
    cells = {(r["iso_week"], r["category"]): r["episodes"] for r in grid}
    assert cells[("2024-W02", "ib_link")] == 0
    assert cells[("2024-W02", "pcie")] == 1


def test_top_nodes(con: ibis.BaseBackend) -> None:
    _, ev, _ = load(con, [], RATE_EVENTS)
    rows = metrics.top_nodes(metrics.episodes(ev), n=2).run().to_pylist()
    assert [(r["rank"], r["node"], r["total"], r["category"], r["episodes"]) for r in rows] == [
        (1, "a", 3, "pcie", 2),
        (1, "a", 3, "ib_link", 1),
        (2, "b", 1, "ib_link", 1),  # b before c: same count, name order
    ]


# --- job failures, r_f, MTTF ------------------------------------------------------------------


def failures_of(con: ibis.BaseBackend, jobs: list, events: list) -> tuple[ir.Table, ir.Table]:
    j, e, _ = load(con, jobs, events)
    return j, attribute(j, e, PRIORITIES)


def test_job_failure_rates_per_category(con: ibis.BaseBackend) -> None:
    jobs = [
        job("1", "NODE_FAIL", n_gpus=16, hours=12),  # unattributed; 1 node-day, 192 GPU-h
        job("2", "FAILED", hours=24),  # PCIe; 1 node-day, 192 GPU-h
        job("3", "FAILED", hours=24),  # no candidate: "none"
        job("4", hours=48),  # completed; 2 node-days, 384 GPU-h
    ]
    j, f = failures_of(con, jobs, [event("2-0", 23.9, "pcie")])
    rows = metrics.job_failure_rates(j, f).run().to_pylist()
    assert [(r["category"], r["domain"], r["failures"]) for r in rows] == [
        ("none", "user", 1),
        ("pcie", "hardware", 1),
        ("unattributed", "unknown", 1),
    ]
    for r in rows:
        assert (r["job_node_days"], r["job_gpu_hours"]) == pytest.approx((5.0, 960.0))
        assert r["failed_gpu_hours"] == pytest.approx(192.0)
        assert r["failed_gpu_hours_share"] == pytest.approx(1 / 3)
        assert r["per_gpu_hour"] == pytest.approx(1 / 960)
        assert [r[c] for c in metrics.RATE_COLUMNS] == pytest.approx(rate_of(1, 5.0))


def test_node_failure_rate_by_the_papers_procedure(con: ibis.BaseBackend) -> None:
    jobs = [
        job("A", "NODE_FAIL", n_gpus=256, hours=24),  # counts; 32 node-days
        job("B", n_gpus=256, hours=48),  # 64 node-days
        job("C", "FAILED", n_gpus=136, hours=12),  # high-severity PCIe: counts; 17 x 0.5
        job("D", "FAILED", n_gpus=512, hours=24),  # low-severity cause only; 64 node-days
        job("E", "FAILED", n_gpus=256, hours=24),  # no cause; 32 node-days
        job("F", "NODE_FAIL", n_gpus=128, hours=24),  # not above the threshold
        job("G", "NODE_FAIL", n_gpus=256, start=None),  # never started
    ]
    events = [event("C-3", 11.95, "pcie"), event("D-0", 24, "thermal"), event("F-0", 24, "pcie")]
    j, f = failures_of(con, jobs, events)
    rf = metrics.node_failure_rate(j, f)
    node_days = 32 + 64 + 8.5 + 64 + 32
    assert (rf.min_gpus, rf.failures, rf.node_days) == (128, 2, pytest.approx(node_days))
    assert rf.per_node_day == pytest.approx(2 / node_days)
    got = [rf.per_1000_node_days, rf.lo_per_1000_node_days, rf.hi_per_1000_node_days]
    assert got == pytest.approx(rate_of(2, node_days))
    assert metrics.node_failure_rate(j, f, min_gpus=100).failures == 3  # F now counts


def test_mttf_by_size_counts_infrastructure_failures(con: ibis.BaseBackend) -> None:
    jobs = [
        job("A", n_gpus=8, hours=38),
        job("B", "NODE_FAIL", n_gpus=8, hours=8),  # unattributed: counts
        job("C", "FAILED", n_gpus=8, hours=2),  # no cause, presumed user: does not count
        job("D", n_gpus=9, hours=10),
        job("E", "FAILED", n_gpus=16, hours=2),  # user XID: does not count
        job("F", "NODE_FAIL", n_gpus=1025, hours=1),  # lost heartbeat only: counts
        job("G", "FAILED", n_gpus=1025, hours=1),  # GSP timeout: counts
        job("H", "NODE_FAIL", n_gpus=1025, hours=1),  # user-domain cause: does not count
        job("I", "NODE_FAIL", n_gpus=1025, start=None),  # never started
    ]
    events = [
        event("E-0", 2, "user"),
        event("F-0", 1, "node_unresponsive"),
        event("G-0", 1, "gsp_timeout"),
        event("H-0", 1, "user"),
    ]
    j, f = failures_of(con, jobs, events)
    rows = {r["bucket"]: r for r in metrics.mttf_by_size(j, f).run().to_pylist()}
    assert sorted(rows) == [8, 16, 2048]
    eight, sixteen, big = rows[8], rows[16], rows[2048]
    assert (eight["jobs"], eight["runtime_hours"], eight["failures"]) == (3, 48.0, 1)
    got = (eight["mttf_hours"], eight["mttf_lo_hours"], eight["mttf_hi_hours"])
    assert got == pytest.approx(mttf_interval(1, 48.0))
    assert (sixteen["failures"], sixteen["mttf_hours"], sixteen["mttf_hi_hours"]) == (0, None, None)
    assert sixteen["mttf_lo_hours"] == pytest.approx(12.0 / 3.6889, rel=1e-4)
    assert (big["jobs"], big["failures"], big["mttf_hours"]) == (3, 2, pytest.approx(1.5))
