"""Lemon detection judges each cluster's nodes against their own cluster: a quiet cluster and a
noisy one, each with one lemon, in one warehouse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from canonical_rows import canonical_table, failing_event

from gpurel.analysis import lemons
from gpurel.analysis.summary import Settings, lemon_inputs
from gpurel.models.lemon_rule import LemonRule, threshold
from gpurel.report import figures
from gpurel.warehouse import Warehouse

T0 = datetime(2024, 1, 1, tzinfo=UTC)
SETTINGS = lemons.LemonSettings(as_of=T0 + timedelta(days=28))
# outages per node in the window: the quiet cluster's nodes have none, its lemon 4; the noisy
# cluster's nodes 8 to 10, its lemon 20
QUIET = {f"q{i:02d}": 0 for i in range(2, 41)} | {"q01": 4}
NOISY = {f"r{i:02d}": 8 + i % 3 for i in range(2, 11)} | {"r01": 20}


def _outages(cluster: str, counts: dict[str, int]) -> list[dict[str, Any]]:
    return [
        failing_event(node, T0 + timedelta(days=day + 0.5), "gpu_memory", cluster=cluster)
        for node, n in counts.items()
        for day in range(n)
    ]


def _inventory(cluster: str, nodes: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {
            "cluster": cluster,
            "node": node,
            "gpus": 8,
            "in_service_start": T0 - timedelta(days=10),
            "in_service_end": T0 + timedelta(days=40),
            "source": "test",
        }
        for node in nodes
    ]


@pytest.fixture(scope="module")
def warehouse() -> Warehouse:
    w = Warehouse.in_memory()
    w.write("jobs", canonical_table("jobs", []))
    events = _outages("c1", QUIET) + _outages("c2", NOISY)
    w.write("node_events", canonical_table("node_events", events))
    w.write("nodes", canonical_table("nodes", _inventory("c1", QUIET) + _inventory("c2", NOISY)))
    return w


@pytest.fixture(scope="module")
def found(warehouse: Warehouse) -> lemons.Lemons:
    return lemons.find_lemons(lemon_inputs(warehouse, Settings()), SETTINGS)


def _cuts(t: pa.Table, signal: str = lemons.OUT) -> dict[str, float]:
    return {r["cluster"]: r["threshold"] for r in t.to_pylist() if r["signal"] == signal}


def test_pooled_thresholds_would_misjudge_both_clusters(found: lemons.Lemons) -> None:
    pooled = threshold(found.nodes[lemons.OUT].to_numpy(), 3, LemonRule())
    assert QUIET["q01"] < pooled <= max(NOISY[n] for n in NOISY if n != "r01")


def test_each_cluster_flags_exactly_its_lemon(found: lemons.Lemons) -> None:
    flagged = found.flagged.select(["cluster", "node"]).to_pylist()
    assert flagged == [{"cluster": "c2", "node": "r01"}, {"cluster": "c1", "node": "q01"}]
    assert found.thresholds.num_rows == 2 * len(lemons.SIGNALS)
    cuts = _cuts(found.thresholds)
    assert cuts["c1"] == 3  # the floor: the quiet cluster's nodes have no outage
    assert cuts["c2"] == pytest.approx(9 + 3.5 * 1.4826)  # median 9, MAD 1
    firing = {(r["cluster"], r["signal"]): r["firing"] for r in found.thresholds.to_pylist()}
    assert (firing["c1", lemons.OUT], firing["c2", lemons.OUT]) == (1, 1)


def test_drain_reasons_cite_the_nodes_own_cluster(found: lemons.Lemons) -> None:
    lists = lemons.slurm_lists(found)
    assert lists["c1"].drain[0].endswith("out_count 4>=3'")
    assert lists["c2"].drain[0].endswith("out_count 20>=14.2'")


def test_one_named_cluster_keeps_its_thresholds(warehouse: Warehouse, found: lemons.Lemons) -> None:
    alone = lemons.find_lemons(lemon_inputs(warehouse, Settings(cluster="c2")), SETTINGS)
    assert set(alone.thresholds["cluster"].to_pylist()) == {"c2"}
    assert _cuts(alone.thresholds)["c2"] == _cuts(found.thresholds)["c2"]
    assert alone.flagged["node"].to_pylist() == ["r01"]


def test_the_figure_has_a_panel_per_cluster(found: lemons.Lemons) -> None:
    fig = figures.lemon_signals(found.nodes, found.thresholds)
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_visible()]
    assert titles == ["c1: out_count (threshold 3)", "c2: out_count (threshold 14.2)"]
