"""Attribution of interrupted job attempts to failing checks, engine vs plain Python."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpurel import schema, taxonomy
from gpurel.analysis.attribution import (
    FAILURE_COLUMNS,
    AttributionWindow,
    attribute,
    candidates,
    python_reference,
    window_sensitivity,
)

END = datetime(2024, 3, 4, 12, 0, tzinfo=UTC)  # every job ends here unless told otherwise
PRIORITIES = taxonomy.default().priorities()
PRIORITY = dict(
    zip(PRIORITIES["category"].to_pylist(), PRIORITIES["priority"].to_pylist(), strict=True)
)
DOMAIN = dict(
    zip(PRIORITIES["category"].to_pylist(), PRIORITIES["domain"].to_pylist(), strict=True)
)


def at(seconds: float) -> datetime:
    """A time ``seconds`` after END (negative: before)."""
    return END + timedelta(seconds=seconds)


def job(
    job_id: str = "1",
    attempt: int = 1,
    state: str = "NODE_FAIL",
    nodes: tuple[str, ...] = ("n1", "n2"),
    start: float | None = -3600,
    end: float = 0,
    cluster: str = "c1",
) -> dict[str, Any]:
    return {
        "cluster": cluster,
        "job_id": job_id,
        "attempt": attempt,
        "state": state,
        "start_time": None if start is None else at(start),
        "end_time": at(end),
        "nodes": list(nodes),
        "n_nodes": len(nodes),
        "n_gpus": 8 * len(nodes),
        "source": "test",
    }


def event(
    t: float = 0,
    node: str = "n1",
    category: str = "ib_link",
    severity: str | None = None,
    check: str | None = None,
    result: str = "fail",
    cluster: str = "c1",
) -> dict[str, Any]:
    cat = taxonomy.default().categories.get(category)
    return {
        "cluster": cluster,
        "node": node,
        "time": at(t),
        "source": "nhc",
        "check": check or f"check_{category}",
        "category": category,
        "domain": DOMAIN.get(category, "unknown"),
        "severity": severity or (cat.severity if cat else "low"),
        "result": result,
    }


@pytest.fixture(scope="module")
def con() -> ibis.BaseBackend:
    return ibis.duckdb.connect()


def load(
    con: ibis.BaseBackend, jobs: list[dict[str, Any]], events: list[dict[str, Any]]
) -> tuple[ir.Table, ir.Table]:
    """The fixtures as engine tables with the canonical schemas (+ ``attempt`` on jobs)."""
    j = schema.conform("jobs", pa.Table.from_pylist(jobs, schema=_loose(schema.JOBS, jobs)))
    j = j.append_column("attempt", pa.array([r["attempt"] for r in jobs], pa.int64()))
    e = schema.conform(
        "node_events", pa.Table.from_pylist(events, schema=_loose(schema.NODE_EVENTS, events))
    )
    return (
        con.create_table("jobs", j, overwrite=True),
        con.create_table("node_events", e, overwrite=True),
    )


def _loose(full: pa.Schema, rows: list[dict[str, Any]]) -> pa.Schema:
    """The canonical fields present in ``rows`` (all of ``full`` when there are none)."""
    names = set().union(*rows) if rows else set(full.names)
    return pa.schema([f.with_nullable(True) for f in full if f.name in names])


def attributed(con: ibis.BaseBackend, jobs: list[dict], events: list[dict], **kw: Any) -> list:
    j, e = load(con, jobs, events)
    rows = attribute(j, e, PRIORITIES, **kw).to_pyarrow().to_pylist()
    return sorted(rows, key=lambda r: (r["cluster"], r["job_id"], r["attempt"]))


def candidate_rows(con: ibis.BaseBackend, jobs: list[dict], events: list[dict]) -> list:
    j, e = load(con, jobs, events)
    return candidates(j, e, PRIORITIES).to_pyarrow().to_pylist()


# --- window edges -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "inside"),
    [
        (-600, True),  # exactly 10 min before the end
        (300, True),  # exactly 5 min after
        (0, True),
        (-601, False),  # 10 min 1 s before
        (301, False),  # 5 min 1 s after
        (-660, False),  # 11 min before
    ],
)
def test_window_edges_are_inclusive(con: ibis.BaseBackend, offset: int, inside: bool) -> None:
    [row] = attributed(con, [job()], [event(offset)])
    assert row["attributed"] is inside
    assert row["category"] == ("ib_link" if inside else "unattributed")
    assert len(candidate_rows(con, [job()], [event(offset)])) == int(inside)


def test_window_is_configurable(con: ibis.BaseBackend) -> None:
    [row] = attributed(con, [job()], [event(-900)], window=AttributionWindow(1200, 0))
    assert row["attributed"] and row["offset_s"] == -900.0


# --- choice among several candidates ----------------------------------------------------------


def test_priority_picks_the_most_likely_cause_and_keeps_all(con: ibis.BaseBackend) -> None:
    events = [
        event(-30, "n1", "ib_link"),  # high, priority 13, closest
        event(-500, "n2", "pcie"),  # high, priority 10: wins
        event(0, "n1", "thermal"),  # low severity: loses whatever its priority
        event(10, "n2", "user"),  # info
    ]
    [row] = attributed(con, [job()], events)
    assert (row["category"], row["node"], row["offset_s"]) == ("pcie", "n2", -500.0)
    assert row["n_candidates"] == 4
    assert row["event_time"] == at(-500)
    cands = candidate_rows(con, [job()], events)
    assert sorted(c["category"] for c in cands) == ["ib_link", "pcie", "thermal", "user"]
    assert {c["category"]: c["priority"] for c in cands}["pcie"] == PRIORITY["pcie"]


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param(
            [event(0, category="pcie", severity="low"), event(0, category="gpu_unavailable")],
            ("gpu_unavailable", "n1", 0),
            id="high-severity-first",
        ),
        pytest.param(
            [event(0, category="gpu_unavailable"), event(-400, category="pcie")],
            ("pcie", "n1", -400),
            id="smaller-priority",
        ),
        pytest.param(
            [event(-200), event(100, node="n2")], ("ib_link", "n2", 100), id="closer-to-end"
        ),
        pytest.param(
            [event(60, node="n1"), event(-60, node="n2")], ("ib_link", "n2", -60), id="earlier"
        ),
        pytest.param(
            [event(-5, node="n2"), event(-5, node="n1")], ("ib_link", "n1", -5), id="node-name"
        ),
        pytest.param(
            [event(0, category="martian", severity="high"), event(-500, category="os_kernel")],
            ("os_kernel", "n1", -500),
            id="unknown-category-last",
        ),
    ],
)
def test_priority_order(con: ibis.BaseBackend, events: list[dict], expected: tuple) -> None:
    [row] = attributed(con, [job()], events)
    assert (row["category"], row["node"], row["offset_s"]) == expected


def test_check_name_breaks_the_last_tie(con: ibis.BaseBackend) -> None:
    events = [event(0, check="zeta"), event(0, check="alpha")]
    [row] = attributed(con, [job()], events)
    assert row["check"] == "alpha"


# --- which events and which attempts ----------------------------------------------------------


def test_events_off_the_job_are_ignored(con: ibis.BaseBackend) -> None:
    events = [
        event(0, node="n9"),  # a node the job did not use
        event(0, cluster="c2"),  # same node name, other cluster
        event(0, result="warn"),  # not a failure
        event(0, result="ok"),
    ]
    [row] = attributed(con, [job()], events)
    assert (row["attributed"], row["n_candidates"], row["category"]) == (False, 0, "unattributed")
    assert candidate_rows(con, [job()], events) == []


def test_attempt_without_node_list_cannot_be_attributed(con: ibis.BaseBackend) -> None:
    [row] = attributed(con, [job(nodes=())], [event(0)])
    assert (row["attributed"], row["category"]) == (False, "unattributed")


def test_attempts_that_did_not_run_or_did_not_fail_are_left_out(con: ibis.BaseBackend) -> None:
    jobs = [
        job("1", start=None),  # NODE_FAIL that never started
        job("2", start=0),  # started and ended at once
        job("3", state="COMPLETED"),
        job("4", state="TIMEOUT"),
        job("5", state="PREEMPTED"),
        job("6", state="FAILED"),
    ]
    rows = attributed(con, jobs, [event(0)])
    assert [r["job_id"] for r in rows] == ["6"]


def test_attempts_without_candidates(con: ibis.BaseBackend) -> None:
    jobs = [job("1", state="NODE_FAIL"), job("2", state="FAILED")]
    node_fail, failed = attributed(con, jobs, [])
    assert (node_fail["category"], node_fail["domain"]) == ("unattributed", "unknown")
    assert (failed["category"], failed["domain"]) == ("none", "user")
    for row in (node_fail, failed):
        assert row["attributed"] is False and row["n_candidates"] == 0
        assert row["severity"] is row["check"] is row["node"] is row["event_time"] is None


def test_scheduler_heartbeat_loss_is_not_a_cause(con: ibis.BaseBackend) -> None:
    """Slurm's own "Not responding" record (evidence = false) leaves a NODE_FAIL unattributed."""
    jobs = [job("1", state="NODE_FAIL")]
    events = [event(-30, "n1", "node_unresponsive", check="slurm_state:DOWN")]
    (row,) = attributed(con, jobs, events)
    assert (row["category"], row["attributed"], row["n_candidates"]) == ("unattributed", False, 0)
    assert python_reference(jobs, events, PRIORITY)[0]["category"] == "unattributed"
    events.append(event(-20, "n2", "gpu_memory"))
    (row,) = attributed(con, jobs, events)
    assert (row["category"], row["n_candidates"]) == ("gpu_memory", 1)


def test_requeued_attempts_are_attributed_separately(con: ibis.BaseBackend) -> None:
    jobs = [
        job("7", 1, nodes=("n1",), start=-7200, end=0),
        job("7", 2, nodes=("n3",), start=600, end=7200),
        job("7", 3, state="COMPLETED", nodes=("n4",), start=7800, end=9000),
    ]
    events = [event(-60, "n1", "pcie"), event(7200 + 120, "n3", "ib_link")]
    first, second = attributed(con, jobs, events)
    assert (first["attempt"], first["category"], first["node"]) == (1, "pcie", "n1")
    assert (second["attempt"], second["category"], second["node"]) == (2, "ib_link", "n3")
    assert first["n_candidates"] == second["n_candidates"] == 1


def test_failures_table_shape(con: ibis.BaseBackend) -> None:
    j, e = load(con, [job()], [event(-10)])
    failures = attribute(j, e, PRIORITIES)
    assert tuple(failures.columns) == FAILURE_COLUMNS
    [row] = failures.to_pyarrow().to_pylist()
    assert (row["runtime_s"], row["n_gpus"], row["n_nodes"]) == (3600.0, 16, 2)
    assert (row["severity"], row["domain"], row["check"]) == ("high", "hardware", "check_ib_link")


def test_window_sensitivity(con: ibis.BaseBackend) -> None:
    jobs = [job("1"), job("2", state="FAILED", nodes=("n5",)), job("3", nodes=("n6",))]
    events = [event(-240, "n1"), event(-900, "n5"), event(-3000, "n6")]
    j, e = load(con, jobs, events)
    t = window_sensitivity(j, e, PRIORITIES).to_pylist()
    assert [(r["before_s"], r["after_s"]) for r in t] == [(300, 120), (600, 300), (1200, 600)]
    assert [r["attributed"] for r in t] == [1, 1, 2]
    assert [r["attributed_share"] for r in t] == pytest.approx([1 / 3, 1 / 3, 2 / 3])
    assert [r["node_fail_attributed_share"] for r in t] == [0.5, 0.5, 0.5]


# --- engine == plain-Python reference ---------------------------------------------------------

NODES = ("a", "b", "c", "d")
CATEGORIES = ("pcie", "ib_link", "martian")  # few, so that ties go deep into the order
STEP = 30  # seconds; windows and times share it so that the edges are hit often


def _near(
    draw: st.DrawFn, near: dict[str, Any], window: AttributionWindow, clusters: st.SearchStrategy
) -> dict:
    """A random event, usually on a node of the attempt ``near`` and around its window."""
    steps = st.integers(-window.before_s // STEP - 2, window.after_s // STEP + 2)
    return event(
        (near["end_time"] - END).total_seconds() + STEP * draw(steps),
        node=draw(st.sampled_from((*near["nodes"], "e"))),
        category=draw(st.sampled_from(CATEGORIES)),
        severity=draw(st.sampled_from(["high", "high", "low", "odd"])),
        check=draw(st.sampled_from(["x", "y"])),
        result=draw(st.sampled_from(["fail", "fail", "warn"])),
        cluster=draw(st.one_of(st.just(near["cluster"]), clusters)),
    )


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[dict], list[dict], AttributionWindow]:
    """A few attempts on a few nodes, and events clustered around their ends."""
    clusters = st.sampled_from(["c1", "c2"])
    jobs, attempts = [], Counter[str]()
    for _ in range(draw(st.integers(1, 6))):
        job_id = draw(st.sampled_from(["1", "2", "3"]))
        attempts[job_id] += 1
        end = STEP * draw(st.integers(0, 60))
        length = STEP * draw(st.integers(-3, 60))  # -3: never started; -2..0: did not run
        row = job(
            job_id,
            attempts[job_id],
            state=draw(st.sampled_from(["FAILED", "NODE_FAIL", "NODE_FAIL", "COMPLETED"])),
            nodes=tuple(draw(st.lists(st.sampled_from(NODES), min_size=1, max_size=3))),
            start=None if length == -3 * STEP else end - length,
            end=end,
            cluster=draw(clusters),
        )
        jobs.append(row)
    window = draw(
        st.sampled_from([AttributionWindow(), AttributionWindow(60, 0), AttributionWindow(0, 90)])
    )
    n_events = draw(st.integers(0, 16))
    events = [_near(draw, draw(st.sampled_from(jobs)), window, clusters) for _ in range(n_events)]
    return jobs, events, window


@settings(max_examples=30, deadline=None)
@given(scenario())
def test_engine_matches_python_reference(
    con: ibis.BaseBackend, case: tuple[list[dict], list[dict], AttributionWindow]
) -> None:
    jobs, events, window = case
    expected = python_reference(jobs, events, PRIORITY, window)
    assert attributed(con, jobs, events, window=window) == expected
