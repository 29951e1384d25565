"""A whole small simulation: determinism, consistency of tables and truth, classification."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pyarrow.compute as pc
import pytest

from gpurel import schema, taxonomy
from gpurel.sim.config import preset
from gpurel.sim.engine import last_checkpoint_within
from gpurel.sim.run import SimResult, simulate
from gpurel.sim.truth import TRUTH
from gpurel.sim.whatif import twin
from gpurel.warehouse import Warehouse

SEED = 13
CONFIG = dataclasses.replace(
    preset("rsc1"), scale=0.05, days=20.0, warmup_days=3.0, fault_scale=5.0
)


@pytest.fixture(scope="module")
def result() -> SimResult:
    return simulate(CONFIG, seed=SEED)


def test_same_seed_same_tables(result: SimResult) -> None:
    again = simulate(CONFIG, seed=SEED)
    for name, table in result.tables.items():
        assert table.equals(again.tables[name]), name
    for name, table in result.truth.items():
        assert table.equals(again.truth[name]), name


def test_other_seed_other_tables(result: SimResult) -> None:
    assert not simulate(CONFIG, seed=SEED + 1).tables["jobs"].equals(result.tables["jobs"])


def test_schemas(result: SimResult) -> None:
    for name, table in result.tables.items():
        assert table.schema.equals(schema.TABLES[name]), name
    for name, table in result.truth.items():
        assert table.schema.equals(TRUTH[name]), name
    assert result.truth["truth_jobs"].num_rows == result.tables["jobs"].num_rows


def test_states_match_true_causes(result: SimResult) -> None:
    truth = result.truth["truth_jobs"].to_pylist()
    causes = {(r["state"], r["cause"]) for r in truth}
    assert ("NODE_FAIL", "fault") in causes and ("PREEMPTED", "preempted") in causes
    for row in truth:
        if row["state"] == "NODE_FAIL":
            assert row["cause"] in ("fault", "silent_fault", "false_positive"), row
        if row["cause"] in ("fault", "silent_fault", "false_positive"):
            assert row["fault_id"] is not None and row["fault_node"] is not None
        if row["state"] == "PREEMPTED":
            assert row["preempted_by"] is not None


def test_attempt_times_are_ordered(result: SimResult) -> None:
    jobs = result.tables["jobs"]
    ran = jobs.filter(pc.is_valid(jobs["start_time"]))
    assert pc.all(pc.less_equal(ran["submit_time"], ran["start_time"])).as_py()
    ended = ran.filter(pc.is_valid(ran["end_time"]))
    assert pc.all(pc.less(ended["start_time"], ended["end_time"])).as_py()
    assert pc.all(pc.less_equal(ended["n_nodes"], ended["n_gpus"])).as_py()


def test_records_classify_as_simulated(result: SimResult) -> None:
    events = result.tables["node_events"].to_pylist()
    assert events
    tax = taxonomy.default()
    for row in events:
        expected = tax.classify_xid(row["xid"]) if row["xid"] else tax.classify_check(row["check"])
        assert row["category"] == expected.category == row["check"]
        assert row["severity"] == expected.severity and row["result"] in ("fail", "warn")
    assert any(row["xid"] == 79 for row in events)


def test_faults_and_runs_truth(result: SimResult) -> None:
    faults = result.truth["truth_faults"].to_pylist()
    assert faults and any(f["lemon_node"] for f in faults)
    for fault in faults:
        if fault["severity"] == "silent":
            assert not any(
                e["time"] == fault["detected_time"] and e["node"] == fault["node"]
                for e in result.tables["node_events"].to_pylist()
            )
    runs = result.truth["truth_runs"].to_pylist()
    assert runs
    for run in runs:
        assert (
            run["u0_s"] == CONFIG.u0 and run["checkpoint_interval_s"] == CONFIG.checkpoint_interval
        )
        if run["ettr"] is not None:
            assert 0 <= run["ettr"] <= 1


@pytest.mark.parametrize("target", ["sim.duckdb", "sim_parquet"])
def test_truth_tables_persist_in_a_duckdb_file_and_a_parquet_warehouse(
    result: SimResult, tmp_path: Path, target: str
) -> None:
    path = tmp_path / target
    warehouse = Warehouse.open(path)
    try:
        result.store(warehouse)
    finally:
        warehouse.close()
    again = Warehouse.open(path, read_only=True)
    try:
        for name, table in result.truth.items():
            assert again.has_side(name), name
            stored = again.fetch(again.side(name, TRUTH[name]))
            assert stored.num_rows == table.num_rows, name
    finally:
        again.close()


def test_a_twin_of_the_same_configuration_is_the_same_simulation(result: SimResult) -> None:
    again = twin(result, result.config)  # the base's measured warm-up given, not measured
    for name, table in result.tables.items():
        assert table.equals(again.tables[name]), name


def test_a_run_at_its_time_limit_stops_after_its_last_checkpoint(result: SimResult) -> None:
    truth = result.truth["truth_jobs"]
    requeued = truth.filter(pc.equal(truth["cause"], "time_limit_requeue"))
    assert requeued.num_rows > 0
    config = result.config
    for start, end in zip(
        requeued["start_time"].to_pylist(), requeued["end_time"].to_pylist(), strict=True
    ):
        elapsed = round((end - start).total_seconds())
        assert elapsed % config.checkpoint_interval in (0, config.u0)
        assert elapsed <= config.large_run_time_limit


def test_last_checkpoint_within_the_limit() -> None:
    config = preset("rsc1")  # hourly checkpoints, no blocking writes
    assert last_checkpoint_within(8 * 3600, 0, config) == 8 * 3600
    assert last_checkpoint_within(8 * 3600, 300, config) == 7 * 3600 + 300
    assert last_checkpoint_within(1800, 300, config) == 1800  # no checkpoint fits: the limit
    writes = dataclasses.replace(config, checkpoint_write=600)
    assert last_checkpoint_within(8 * 3600, 0, writes) == 6 * 4200
