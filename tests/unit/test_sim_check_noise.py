"""Checks that fail on healthy nodes: epilog checks at a job's end and noise records.

An epilog check that fails on a healthy node stamps a high-severity record at the job's end
and drains the node; a user failure that ends there is then attributed to it, so attribution
precision is honestly below 1. Noise records are warnings: recorded, no action, never a
cause.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import pyarrow.compute as pc
import pytest

from gpurel.analysis.attribution import AttributionWindow
from gpurel.sim.config import DAY, preset
from gpurel.sim.run import SimResult, simulate
from gpurel.sim.validation import recovery
from gpurel.warehouse import Warehouse

# no faults at all: only the checks' own mistakes
QUIET = dataclasses.replace(
    preset("rsc1"),
    scale=0.05,
    days=4.0,
    fault_scale=0.0,
    false_positive_rate=0.0,
    epilog_false_positive=0.0,
    noise_per_node_day=0.0,
)


def _run(**changes: float) -> SimResult:
    return simulate(dataclasses.replace(QUIET, **changes), seed=3, warmup_s=2 * DAY)


@pytest.fixture(scope="module")
def epilog() -> SimResult:
    return _run(epilog_false_positive=0.02)


def test_epilog_failures_are_stamped_at_job_ends_and_kill_nothing(epilog: SimResult) -> None:
    events = epilog.tables["node_events"]
    assert events.num_rows > 20
    assert set(events["severity"].to_pylist()) == {"high"}
    jobs = epilog.tables["jobs"]
    ends = {
        (node, end)
        for nodes, end in zip(jobs["nodes"].to_pylist(), jobs["end_time"].to_pylist(), strict=True)
        for node in nodes or ()
    }
    stamps = zip(events["node"].to_pylist(), events["time"].to_pylist(), strict=True)
    assert all(pair in ends for pair in stamps)
    states = Counter(jobs["state"].to_pylist())
    assert states["NODE_FAIL"] == 0  # the node drains: its other jobs run on
    causes = set(epilog.truth["truth_jobs"]["cause"].to_pylist())
    assert not causes & {"fault", "false_positive", "silent_fault"}


def test_epilog_failures_drain_the_node_for_a_recheck(epilog: SimResult) -> None:
    """Nothing else takes nodes out here, so a node's failed epilog keeps it out of service:
    no job starts on it within a minute of the record."""
    events = epilog.tables["node_events"].to_pylist()
    jobs = epilog.tables["jobs"].to_pylist()
    for event in events:
        starts = [
            (j["start_time"] - event["time"]).total_seconds()
            for j in jobs
            if j["start_time"] is not None and event["node"] in (j["nodes"] or ())
        ]
        assert not any(0 <= s < 60 for s in starts)


def test_user_failures_on_a_failed_epilog_are_misattributed(epilog: SimResult) -> None:
    warehouse = Warehouse.in_memory()
    try:
        epilog.store(warehouse)
        (found,) = recovery(epilog, warehouse, (AttributionWindow(600, 300),))
    finally:
        warehouse.close()
    assert found.attributed > 0 and found.caused == 0
    assert found.precision == 0.0 and found.recall is None


def test_noise_records_are_warnings_that_change_nothing() -> None:
    noisy = _run(noise_per_node_day=2.0)
    quiet = _run()
    faults = noisy.truth["truth_faults"]
    assert faults.num_rows > 0 and pc.all(faults["noise"]).as_py()
    events = noisy.tables["node_events"]
    assert events.num_rows == faults.num_rows
    assert set(events["result"].to_pylist()) == {"warn"}
    assert len(set(events["category"].to_pylist())) > 3  # any check may warn
    node_days = noisy.config.effective_nodes * noisy.config.days
    assert events.num_rows == pytest.approx(2.0 * node_days, rel=0.2)
    assert noisy.tables["jobs"].equals(quiet.tables["jobs"])  # no action on any job
    warehouse = Warehouse.in_memory()
    try:
        noisy.store(warehouse)
        (found,) = recovery(noisy, warehouse, (AttributionWindow(600, 300),))
    finally:
        warehouse.close()
    assert found.attributed == 0  # a warning explains no failure
