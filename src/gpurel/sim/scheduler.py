"""The scheduler: priority order with backfill, gang allocation and preemption.

Pending jobs wait in one queue per (QoS, size), ordered by first submission (so a requeued
job keeps its place). A pass walks the heads of all queues in priority order: higher QoS
first, older first. A job starts when its size fits; otherwise its size is blocked for the
rest of the pass (a later job of the same size cannot fit either). The first blocked job of
whole nodes gets a reservation at its *shadow time*, when enough nodes will be free if every
running job runs to its time limit; lower-priority jobs may then take fully free nodes only if
their own time limit ends before that (backfill), else they fill partly used nodes only, so big
gangs are not starved by small jobs. A job held back only by the reservation does not block its
size: up to ``BACKFILL_DEPTH`` such jobs per pass are set aside so that shorter ones behind them
can backfill.

A requeued gang is queued at once but may start only when it is eligible again (Slurm's
``BeginTime``): until then it is set aside like a deferred job, and if it is the first blocked
gang its reservation begins no earlier than that, so the nodes it just left are not handed to
jobs that would outlast its return.

On preemption passes a blocked job above the lowest QoS may preempt jobs of a lower QoS that
have run at least ``preempt_exempt`` seconds (the paper's 2 hours). A gang needs whole nodes:
it takes nodes whose every job qualifies, lowest QoS first and youngest first, until it fits.
A job smaller than a node preempts jobs one by one, as Slurm does: on the first node (of at
most ``PREEMPT_SCAN``, lowest QoS first) where its free GPUs and those of the qualifying jobs
make room, the qualifying jobs are evicted youngest first until it fits; the node's other jobs
run on. Preempted jobs are requeued by the engine.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from gpurel.sim.cluster import Cluster

PENDING = 0
NEVER = 1 << 62
BACKFILL_DEPTH = 16
PREEMPT_SCAN = 64  # nodes a job smaller than a node looks at for preemptible jobs, per try


class Scheduler:
    """Pending queues and scheduling passes over a ``Cluster``."""

    def __init__(
        self,
        cluster: Cluster,
        gpus_of: list[int],
        qos_of: list[int],
        status_of: list[int],
        limit_of: list[int],
        levels: int,
        exempt: int,
    ) -> None:
        self.cluster = cluster
        self.gpus_of = gpus_of
        self.qos_of = qos_of
        self.status_of = status_of
        self.limit_of = limit_of
        self.exempt = exempt
        self.queues: list[dict[int, list[tuple[int, int]]]] = [{} for _ in range(levels)]
        self.not_before: dict[int, int] = {}  # queued job -> when it becomes eligible

    def enqueue(self, job: int, key: int, not_before: int = 0) -> None:
        """Make ``job`` pending, ordered by ``key`` (its first submission) within its QoS;
        it may start from ``not_before`` on."""
        queue = self.queues[self.qos_of[job]].setdefault(self.gpus_of[job], [])
        heapq.heappush(queue, (key, job))
        if not_before:
            self.not_before[job] = not_before

    def pending(self) -> int:
        """Jobs waiting in the queues (including cancelled ones not yet dropped)."""
        return sum(len(q) for level in self.queues for q in level.values())

    def run(
        self,
        now: int,
        preempt: bool,
        start: Callable[[int, list[int]], None],
        evict: Callable[[int, int], None],
    ) -> bool:
        """One pass: start what fits, preempt if ``preempt``; True if a job above the lowest
        QoS is still waiting."""
        status, cluster, limit = self.status_of, self.cluster, self.limit_of
        shadow = NEVER  # no reservation yet: anything may use full nodes
        deferred: list[tuple[tuple[int, int], list[tuple[int, int]]]] = []
        waiting_above_low = False
        for level in range(len(self.queues) - 1, -1, -1):
            queues = self.queues[level]
            heads = [(q[0], size) for size, q in queues.items() if q]
            heapq.heapify(heads)
            while heads:
                (_, job), size = heapq.heappop(heads)
                queue = queues[size]
                if status[job] != PENDING:
                    heapq.heappop(queue)
                    self.not_before.pop(job, None)
                elif (begin := self._begin(job, now)) > now:
                    deferred.append((heapq.heappop(queue), queue))  # not yet eligible
                    if size >= cluster.gpn and shadow == NEVER:
                        shadow = max(cluster.shadow_time(size // cluster.gpn, NEVER - 1), begin)
                    waiting_above_low |= level > 0
                elif (nodes := cluster.allocate(size, now + limit[job] <= shadow)) is not None or (
                    preempt
                    and level > 0
                    and self._preempt(job, size, level, now, evict)
                    and (nodes := cluster.allocate(size, True)) is not None
                ):
                    heapq.heappop(queue)
                    start(job, nodes)
                elif shadow != NEVER and len(deferred) < BACKFILL_DEPTH and cluster.fits(size):
                    deferred.append((heapq.heappop(queue), queue))  # held back by the reservation
                else:
                    if size >= cluster.gpn and shadow == NEVER:
                        shadow = cluster.shadow_time(size // cluster.gpn, NEVER - 1)
                    waiting_above_low |= level > 0
                    continue
                if queue:
                    heapq.heappush(heads, (queue[0], size))
        for entry, queue in deferred:
            heapq.heappush(queue, entry)
        return waiting_above_low or any(self.qos_of[job] > 0 for (_, job), _ in deferred)

    def _begin(self, job: int, now: int) -> int:
        """When ``job`` becomes eligible (``now`` or earlier when it already is)."""
        begin = self.not_before.get(job, 0)
        if begin and begin <= now:
            del self.not_before[job]
        return begin

    def _preempt(
        self, job: int, size: int, level: int, now: int, evict: Callable[[int, int], None]
    ) -> bool:
        """Evict lower-QoS jobs that ran long enough until ``job`` fits; False if it cannot."""
        cluster = self.cluster
        if size >= cluster.gpn:
            candidates = cluster.preemptible(level, now - self.exempt)
            need = size // cluster.gpn
            if len(candidates) < need - cluster.full_nodes():
                return False
            for node in candidates.tolist():
                if cluster.full_nodes() >= need:
                    break
                for victim in list(cluster.jobs[node]):
                    evict(victim, job)
            return True
        return self._preempt_jobs(job, size, level, now - self.exempt, evict)

    def _preempt_jobs(
        self, job: int, size: int, level: int, cutoff: int, evict: Callable[[int, int], None]
    ) -> bool:
        """Evict lower-QoS jobs that started by ``cutoff`` from one node, youngest first,
        until ``size`` GPUs are free there; False if no node scanned can make room."""
        cluster, qos, start, gpus = self.cluster, self.qos_of, self.cluster.start_of, self.gpus_of
        for node in cluster.partly_preemptible(level)[:PREEMPT_SCAN].tolist():
            victims = [j for j in cluster.jobs[node] if qos[j] < level and start[j] <= cutoff]
            room = cluster.free[node] + sum(min(gpus[j], cluster.gpn) for j in victims)
            if room < size:
                continue
            for victim in sorted(victims, key=lambda j: -start[j]):
                evict(victim, job)
                if cluster.free[node] >= size:
                    break
            return True
        return False
