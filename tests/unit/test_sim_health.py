"""Health-check timing and the records faults leave."""

from __future__ import annotations

import numpy as np

from gpurel.sim.faults import IPMI, XID79
from gpurel.sim.health import XID79_CHECK, XID79_CODE, HealthLog


def test_next_check_is_within_one_interval() -> None:
    log = HealthLog(np.array([0, 120]), 300)
    assert log.next_check(0, 0) == 300
    assert log.next_check(0, 299) == 300
    assert log.next_check(1, 0) == 120
    assert log.next_check(1, 120) == 420


def test_detection_records_cooccurring_checks_at_once() -> None:
    log = HealthLog(np.array([0]), 300)
    log.detected(0, 1000, "pcie", XID79 | IPMI, fault=5)
    assert log.check == ["pcie", XID79_CHECK, "ipmi_critical"]
    assert log.xid == [-1, XID79_CODE, -1]
    assert set(log.time) == {1000} and set(log.fault) == {5}


def test_draining_records_are_dense_then_sparse_and_bounded() -> None:
    log = HealthLog(np.array([0]), 300)
    log.draining(0, 0, 4 * 3600, "thermal", fault=1, dense=3600, sparse=1800)
    gaps = np.diff(log.time)
    assert log.time[0] == 0 and log.time[-1] <= 4 * 3600
    assert set(gaps[:12]) == {300} and set(gaps[12:]) == {1800}
    assert len(log) == 12 + 7
