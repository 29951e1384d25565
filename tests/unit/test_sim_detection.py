"""Detection lags: a check sees a fault only some time after it strikes, or never."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow.compute as pc

from gpurel.sim.config import DAY, FaultKind, preset
from gpurel.sim.faults import UNSEEN, _lags
from gpurel.sim.run import SimResult, simulate

BASE = dataclasses.replace(
    preset("rsc1"),
    scale=0.05,
    days=4.0,
    false_positive_rate=0.0,
    epilog_false_positive=0.0,
    noise_per_node_day=0.0,
    lemon_fraction=0.0,
)


def _run(lag: int, unseen: float, crash: float = 1.0) -> SimResult:
    kind = FaultKind("gpu_memory", 150.0, 0.0, crash, lag, unseen)
    config = dataclasses.replace(BASE, faults=(kind,), detect_lag_sigma=0.0)
    return simulate(config, seed=5, warmup_s=2 * DAY)


def _struck(result: SimResult):
    faults = result.truth["truth_faults"]
    return faults.filter(pc.greater(faults["attempts_ended"], 0))


def test_lags_follow_the_median_and_unseen_share() -> None:
    rng = np.random.default_rng(0)
    config = dataclasses.replace(BASE, detect_lag_sigma=1.0)
    lags = _lags(rng, config, FaultKind("driver", 1.0, 0.0, 0.5, 300, 0.2), 20_000)
    seen = lags[lags != UNSEEN]
    assert abs(np.mean(lags == UNSEEN) - 0.2) < 0.02
    assert 270 <= np.median(seen) <= 330
    immediate = _lags(rng, config, FaultKind("ib_link", 1.0, 0.0, 0.5, 0, 0.0), 100)
    assert (immediate == 0).all()


def test_an_unseen_fault_leaves_no_record_and_its_jobs_fail() -> None:
    result = _run(lag=0, unseen=1.0)
    struck = _struck(result)
    assert struck.num_rows > 0
    assert struck["detected_time"].null_count == struck.num_rows
    assert result.tables["node_events"].num_rows == 0
    truth = result.truth["truth_jobs"]
    ended = truth.filter(pc.equal(truth["cause"], "fault"))
    assert set(ended["state"].to_pylist()) == {"FAILED"}


def test_a_fault_seen_at_once_is_recorded_by_the_crashed_jobs_end() -> None:
    """The first crash's epilog (or an earlier periodic check) records it: at or shortly
    before the end of every job that crashed on it."""
    result = _run(lag=0, unseen=0.0)
    truth = result.truth["truth_jobs"]
    failed = truth.filter(
        pc.and_(pc.equal(truth["cause"], "fault"), pc.equal(truth["state"], "FAILED"))
    )
    assert failed.num_rows > 0
    stamps = result.tables["node_events"]["time"].to_pylist()
    for end in failed["end_time"].to_pylist():
        assert any(0 <= (end - s).total_seconds() <= 600 for s in stamps)


def test_a_late_check_records_the_fault_after_the_crashed_jobs_end() -> None:
    lag = 3600
    result = _run(lag=lag, unseen=0.0)
    struck = _struck(result)
    assert struck.num_rows > 0
    delay = pc.subtract(struck["detected_time"], struck["time"]).to_pylist()
    assert all(d.total_seconds() >= lag for d in delay if d is not None)
    truth = result.truth["truth_jobs"]
    failed = truth.filter(
        pc.and_(pc.equal(truth["cause"], "fault"), pc.equal(truth["state"], "FAILED"))
    )
    stamps = set(result.tables["node_events"]["time"].to_pylist())
    assert failed.num_rows > 0
    assert not any(end in stamps for end in failed["end_time"].to_pylist())


def test_jobs_left_on_a_detected_node_end_kill_delay_after_the_record() -> None:
    result = _run(lag=0, unseen=0.0, crash=0.0)
    truth = result.truth["truth_jobs"]
    killed = truth.filter(pc.equal(truth["state"], "NODE_FAIL"))
    assert killed.num_rows > 0
    stamps = set(result.tables["node_events"]["time"].to_pylist())
    delay = dataclasses.replace(BASE).kill_delay
    ends = killed["end_time"].to_pylist()
    assert all(any((end - s).total_seconds() == delay for s in stamps) for end in ends)
