"""Scheduling passes: priority order, reservations, preemption after the exempt time."""

from __future__ import annotations

from gpurel.sim.cluster import Cluster
from gpurel.sim.scheduler import PENDING, Scheduler

EXEMPT = 7200


class Jobs:
    """A tiny job table and the callbacks a pass needs."""

    def __init__(self, nodes: int) -> None:
        self.gpus: list[int] = []
        self.qos: list[int] = []
        self.status: list[int] = []
        self.start: list[int] = []
        self.limit: list[int] = []
        self.cluster = Cluster(nodes, 8, 0, self.qos, self.start, self.limit)
        self.scheduler = Scheduler(
            self.cluster, self.gpus, self.qos, self.status, self.limit, 3, EXEMPT
        )
        self.started: list[int] = []
        self.evicted: list[tuple[int, int]] = []
        self.now = 0

    def submit(self, gpus: int, qos: int, limit: int = 3600) -> int:
        for column, value in zip(
            (self.gpus, self.qos, self.status, self.start, self.limit),
            (gpus, qos, PENDING, -1, limit),
            strict=True,
        ):
            column.append(value)
        j = len(self.gpus) - 1
        self.scheduler.enqueue(j, j)
        return j

    def start_job(self, j: int, nodes: list[int]) -> None:
        self.status[j] = 1
        self.start[j] = self.now
        self.cluster.occupy(j, nodes, self.now)
        self.started.append(j)

    def evict(self, victim: int, by: int) -> None:
        self.status[victim] = 2
        self.cluster.release(
            victim, [n for n, js in enumerate(self.cluster.jobs) if victim in js], 8
        )
        self.evicted.append((victim, by))

    def run(self, preempt: bool = True) -> bool:
        return self.scheduler.run(self.now, preempt, self.start_job, self.evict)


def test_higher_qos_first_then_older() -> None:
    jobs = Jobs(1)
    low, high_old, high_new = jobs.submit(8, 0), jobs.submit(8, 2), jobs.submit(8, 2)
    assert jobs.run() is True
    assert jobs.started == [high_old]
    assert jobs.status[low] == PENDING and jobs.status[high_new] == PENDING


def test_preemption_only_after_exempt_time() -> None:
    jobs = Jobs(1)
    victim = jobs.submit(8, 0)
    jobs.run()
    jobs.now = EXEMPT - 1
    urgent = jobs.submit(8, 2)
    jobs.run()
    assert jobs.evicted == []
    jobs.now = EXEMPT
    jobs.run()
    assert jobs.evicted == [(victim, urgent)]
    assert jobs.started == [victim, urgent]


def test_same_qos_is_never_preempted() -> None:
    jobs = Jobs(1)
    jobs.submit(8, 1)
    jobs.run()
    jobs.now = 10 * EXEMPT
    jobs.submit(8, 1)
    jobs.run()
    assert jobs.evicted == []


def test_blocked_gang_reserves_full_nodes_except_for_backfill() -> None:
    jobs = Jobs(2)
    running = jobs.submit(8, 2, limit=1000)
    jobs.run()
    gang = jobs.submit(16, 1)
    long_small = jobs.submit(1, 0, limit=5000)
    short_small = jobs.submit(1, 0, limit=500)
    jobs.run(preempt=False)
    assert running in jobs.started and gang not in jobs.started
    assert short_small in jobs.started  # ends before the gang's shadow time
    assert long_small not in jobs.started
