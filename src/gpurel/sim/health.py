"""Health checks: when a fault is seen, and the failing records the checks leave.

Every node runs its checks every ``check_interval`` seconds at its own phase, and in its
prolog and epilog. Only failing records and warnings are kept (a real cluster also logs every
passing run: ~290 per node-day, which nothing in gpurel needs):

- a high-severity fault leaves one record of its category when first seen (at the periodic
  check, or in the epilog of a job that crashed on it first), plus its co-occurring records at
  the same time (XID 79 as ``gpu_unavailable`` with xid 79; ``ipmi_critical``); the node is
  then out of service, so its checks stop reporting;
- a low-severity fault is recorded at every check while the node drains, every
  ``check_interval`` for ``low_repeat_after`` and every ``low_repeat_interval`` after that,
  until the node is idle and goes to repair;
- a silent fault leaves nothing; a false positive leaves one record like a real fault;
- noise is a warning (a check that warns on a healthy node and passes at its next run).

The prolog is not recorded on its own: a node with an undetected fault gets no new job (its
prolog would fail and Slurm would place the job elsewhere).
"""

from __future__ import annotations

import numpy as np

from gpurel.sim.faults import IPMI, XID79

XID79_CHECK = "gpu_unavailable"  # gpurel's check name for a GPU that fell off the bus
XID79_CODE = 79
IPMI_CHECK = "ipmi_critical"


class HealthLog:
    """Check phases per node and the failing records emitted so far (columnar)."""

    def __init__(self, phase: np.ndarray, interval: int) -> None:
        self.phase = phase.tolist()
        self.interval = interval
        self.node: list[int] = []
        self.time: list[int] = []
        self.check: list[str] = []
        self.xid: list[int] = []  # -1 = none
        self.fault: list[int] = []  # the fault behind the record
        self.warn: list[bool] = []  # a warning, not a failure

    def next_check(self, node: int, now: int) -> int:
        """Time of the first periodic check of ``node`` after ``now`` (within one interval)."""
        return now + (self.phase[node] - now - 1) % self.interval + 1

    def record(
        self, node: int, time: int, check: str, fault: int, xid: int = -1, warn: bool = False
    ) -> None:
        """Append one failing record (or a warning)."""
        self.node.append(node)
        self.time.append(time)
        self.check.append(check)
        self.xid.append(xid)
        self.fault.append(fault)
        self.warn.append(warn)

    def detected(self, node: int, time: int, check: str, cooccur: int, fault: int) -> None:
        """The records of a fault seen at ``time``: its own and its co-occurring ones."""
        self.record(node, time, check, fault)
        if cooccur & XID79:
            self.record(node, time, XID79_CHECK, fault, XID79_CODE)
        if cooccur & IPMI:
            self.record(node, time, IPMI_CHECK, fault)

    def draining(
        self, node: int, since: int, until: int, check: str, fault: int, dense: int, sparse: int
    ) -> None:
        """Records of a low-severity check failing from ``since`` until ``until``."""
        time = since
        while True:
            self.record(node, time, check, fault)
            time += self.interval if time - since < dense else sparse
            if time > until:
                return

    def __len__(self) -> int:
        return len(self.time)
