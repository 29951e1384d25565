"""One analysis attributes failures once and asks the engine few, larger queries."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pytest

from gpurel import demo
from gpurel.analysis import attribution, summary
from gpurel.analysis.metrics import is_rf_failure
from gpurel.analysis.node_failures import node_failures, with_charged_node
from gpurel.analysis.summary import analyze, known_lemons
from gpurel.ingest import ingest
from gpurel.sim.truth import TRUTH_NODES
from gpurel.sources.base import ReadOptions
from gpurel.warehouse import Warehouse

QUERIES = ("execute", "to_pyarrow", "to_pyarrow_batches", "create_table", "_create_cached_table")
MAX_QUERIES = 15  # every engine query of one analysis of the demo week (40, then 30, before)


@pytest.fixture
def store() -> Iterator[Warehouse]:
    warehouse = Warehouse.in_memory()
    ingest(warehouse, demo.files(), ReadOptions(cluster=demo.CLUSTER, tz="UTC"))
    yield warehouse
    warehouse.close()


def _count_calls(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    calls = [0]
    original: Callable[..., Any] = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def _count_queries(monkeypatch: pytest.MonkeyPatch, backend: Any) -> list[str]:
    """The engine queries of ``backend`` (outermost calls only), each named by its method."""
    seen: list[str] = []
    depth = [0]
    for name in QUERIES:
        original = getattr(backend, name)

        def counted(*args: Any, _name: str = name, _run: Any = original, **kw: Any) -> Any:
            if not depth[0]:
                seen.append(_name)
            depth[0] += 1
            try:
                return _run(*args, **kw)
            finally:
                depth[0] -= 1

        monkeypatch.setattr(backend, name, counted)
    return seen


def test_attribution_runs_once_per_analysis(
    store: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    joins = _count_calls(monkeypatch, attribution, "candidates")
    stored = _count_calls(monkeypatch, store, "materialize")
    result = analyze(store)
    assert joins == [1]  # the attempts × failing events join, for every window at once
    assert stored == [3]  # candidates, failures, episodes
    windows = result.attribution_windows
    assert isinstance(windows, pa.Table) and windows.num_rows == 3


def test_an_analysis_asks_few_queries(store: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    queries = _count_queries(monkeypatch, store.con)
    analyze(store)
    assert len(queries) <= MAX_QUERIES, queries


def test_the_overview_is_one_query(store: Warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    queries = _count_queries(monkeypatch, store.con)
    jobs, events = store.jobs(), store.table("node_events")
    before = len(queries)
    row = summary._overview(jobs, events, store.table("nodes"), store.table("rejects"))
    assert len(queries) - before == 1
    assert row["cluster_names"] == [demo.CLUSTER]
    assert row["job_attempts"] == jobs.count().execute()
    assert row["failing_node_events"] == events.filter(events.result == "fail").count().execute()
    times = [*jobs.start_time.execute(), *jobs.end_time.execute(), *events.time.execute()]
    known = [t for t in times if t is not None and t == t]  # NaT is not equal to itself
    assert (row["records"].start, row["records"].end) == (min(known), max(known))


def test_known_lemons_read_the_simulators_truth() -> None:
    store = Warehouse.in_memory()
    try:
        assert known_lemons(store) is None
        rows = [
            {name: None for name in TRUTH_NODES.names} | {"cluster": "c", "node": n, "lemon": flag}
            for n, flag in (("n1", True), ("n2", False))
        ]
        store.replace_side("truth_nodes", pa.Table.from_pylist(rows, schema=TRUTH_NODES))
        assert known_lemons(store) == {("c", "n1")}
    finally:
        store.close()


def test_node_failures_count_the_unassigned_in_the_same_query(
    store: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = store.jobs()
    failures = summary.attributed_failures(store, summary.Settings())
    queries = _count_queries(monkeypatch, store.con)
    found = node_failures(jobs, failures).run()
    assert len(queries) == 1
    rf = failures.filter(is_rf_failure(failures))
    charged = with_charged_node(rf, jobs.filter(attribution.ran(jobs)))
    expected = charged.filter(charged.charged.isnull()).count().execute()
    assert found.unassigned == expected
    assert sum(found.per_node["failures"].to_pylist()) + expected == charged.count().execute()
    per_node = found.per_node
    keys = list(zip(per_node["cluster"].to_pylist(), per_node["node"].to_pylist(), strict=True))
    assert keys == sorted(keys) and all(node is not None for _, node in keys)
