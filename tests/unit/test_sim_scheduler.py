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
        nodes = [n for n, js in enumerate(self.cluster.jobs) if victim in js]
        self.cluster.release(victim, nodes, min(self.gpus[victim], 8))
        self.evicted.append((victim, by))

    def release_finished(self, j: int) -> None:
        self.status[j] = 2
        self.cluster.release(j, [n for n, js in enumerate(self.cluster.jobs) if j in js], 8)

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


def test_a_requeued_gang_keeps_its_nodes_until_it_is_eligible_again() -> None:
    jobs = Jobs(4)
    gang = jobs.submit(32, 2)
    jobs.run()
    jobs.evict(gang, -1)  # its nodes are free again; it comes back in 120 s
    jobs.status[gang] = PENDING
    jobs.scheduler.enqueue(gang, gang, not_before=120)
    long_job, short_job = jobs.submit(8, 0, limit=3600), jobs.submit(16, 0, limit=60)
    assert jobs.run(preempt=False) is True
    assert jobs.started == [gang, short_job]  # the long job would outlast the gang's return
    jobs.now = 120
    jobs.release_finished(short_job)
    jobs.run(preempt=False)
    assert jobs.started == [gang, short_job, gang]
    assert long_job not in jobs.started


def test_a_job_that_is_not_yet_eligible_does_not_block_its_size() -> None:
    jobs = Jobs(2)
    later = jobs.submit(8, 1)
    jobs.scheduler.not_before[later] = 600
    now, long_job = jobs.submit(8, 1, limit=300), jobs.submit(8, 1)
    jobs.run(preempt=False)
    assert jobs.started == [now]  # the long one would outlast the reservation at 600 s
    assert long_job not in jobs.started


def test_a_small_job_preempts_only_the_jobs_it_needs_and_the_others_run_on() -> None:
    """A job smaller than a node preempts lower-QoS jobs one by one (youngest first among
    those past the exempt time); a high-QoS or too-young neighbour does not protect them."""
    jobs = Jobs(1)
    old_low = jobs.submit(2, 0)
    jobs.run()
    jobs.now = 600
    young_low, high = jobs.submit(2, 0), jobs.submit(2, 2)
    jobs.run()
    jobs.submit(2, 0)  # fills the node
    jobs.run()
    assert jobs.cluster.free[0] == 0
    jobs.now = EXEMPT + 300  # old_low is past the exempt time, young_low is not
    urgent = jobs.submit(2, 1)
    jobs.run()
    assert jobs.evicted == [(old_low, urgent)]
    assert urgent in jobs.started
    assert {young_low, high} <= set(jobs.cluster.jobs[0])
