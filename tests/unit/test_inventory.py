"""--nodes/--days give any node-history input its inventory, or are refused; never ignored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gpurel.ingest import ingest_file
from gpurel.sources.base import ReadOptions
from gpurel.warehouse import Warehouse

EVENTS = Path(__file__).parents[1] / "fixtures" / "events"
SACCT = Path(__file__).parents[1] / "fixtures" / "sacct" / "parsable2_header.txt"


def _nodes(path: Path, options: ReadOptions) -> tuple[list[dict], list[dict], str | None]:
    warehouse = Warehouse.in_memory()
    try:
        outcome = ingest_file(warehouse, path, options)
        nodes = warehouse.table("nodes").to_pyarrow().to_pylist()
        events = warehouse.table("node_events").to_pyarrow().to_pylist()
    finally:
        warehouse.close()
    return nodes, events, outcome.error


@pytest.mark.parametrize("name", ["events.csv", "sacctmgr_events.txt", "kernel_xid_iso.log"])
def test_every_node_history_input_takes_an_inventory(name: str) -> None:
    options = ReadOptions(cluster="c", tz="UTC", inventory_nodes=50, inventory_days=30)
    nodes, events, error = _nodes(EVENTS / name, options)
    assert error is None
    named = {(e["cluster"], e["node"]) for e in events}
    clusters = {cluster for cluster, _ in named}
    assert len(nodes) == 50 * len(clusters)
    assert named <= {(n["cluster"], n["node"]) for n in nodes}
    for cluster in clusters:
        first = min(e["time"] for e in events if e["cluster"] == cluster)
        spans = {
            (n["in_service_start"], n["in_service_end"]) for n in nodes if n["cluster"] == cluster
        }
        assert spans == {(first, first + timedelta(days=30))}


def test_without_days_the_inventory_spans_the_input_and_starts_at_trace_start() -> None:
    start = datetime(2024, 4, 1, tzinfo=UTC)
    options = ReadOptions(cluster="c", tz="UTC", inventory_nodes=10, trace_start=start)
    nodes, events, error = _nodes(EVENTS / "events.csv", options)
    assert error is None
    for cluster in {e["cluster"] for e in events}:
        last = max(e["time"] for e in events if e["cluster"] == cluster)
        mine = [n for n in nodes if n["cluster"] == cluster]
        assert {(n["in_service_start"], n["in_service_end"]) for n in mine} == {(start, last)}


@pytest.mark.parametrize(
    ("path", "words"),
    [(SACCT, "job accounting"), (EVENTS / "events.csv", "names")],
)
def test_inventory_options_that_cannot_apply_are_refused(path: Path, words: str) -> None:
    options = ReadOptions(cluster="c", tz="UTC", inventory_nodes=1)
    _, _, error = _nodes(path, options)
    assert error is not None and words in error and "--nodes" in error
