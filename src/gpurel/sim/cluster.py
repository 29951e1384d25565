"""Node state: which nodes are in service, their free GPUs, and the jobs on them.

Nodes in service (``UP``) sit in one bucket per free-GPU count, so allocation is a set pop:
a job smaller than a node goes to the fullest node it fits on (best fit, packing small jobs
together), a job of whole nodes takes fully free nodes. Two numpy arrays mirror what
preemption needs to look at all nodes at once: the highest QoS running on each node and the
latest start among its jobs, and the lowest QoS running on each.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gpurel.sim.codes import SPARE, UP

NO_JOB = 1 << 30  # low_qos of a node without jobs


class Cluster:
    """Nodes of ``gpn`` GPUs; ``spares`` of them start in the spare pool.

    ``qos_of``, ``start_of`` and ``limit_of`` are the job table's columns (QoS, start of the
    current attempt, time limit).
    """

    def __init__(
        self,
        n_nodes: int,
        gpn: int,
        spares: int,
        qos_of: list[int],
        start_of: list[int],
        limit_of: list[int],
    ) -> None:
        self.gpn = gpn
        self.qos_of = qos_of
        self.start_of = start_of
        self.limit_of = limit_of
        self.free = [gpn] * n_nodes  # free GPUs per node
        self.state = [UP] * n_nodes
        self.jobs: list[list[int]] = [[] for _ in range(n_nodes)]
        self.buckets: list[set[int]] = [set() for _ in range(gpn + 1)]  # by free GPUs, 1..gpn
        self.top_qos = np.full(n_nodes, -1, dtype=np.int64)  # -1 = no job running
        self.low_qos = np.full(n_nodes, NO_JOB, dtype=np.int64)  # lowest QoS running
        self.last_start = np.zeros(n_nodes, dtype=np.int64)
        self.free_at = np.zeros(n_nodes, dtype=np.int64)  # latest time limit of its jobs
        self.up = np.ones(n_nodes, dtype=bool)
        self.spares: list[int] = []
        for node in range(n_nodes):
            if node >= n_nodes - spares:
                self.state[node] = SPARE
                self.up[node] = False
                self.spares.append(node)
            else:
                self.buckets[gpn].add(node)

    def allocate(self, gpus: int, allow_full: bool) -> list[int] | None:
        """Nodes for a job of ``gpus`` (None if it does not fit); full nodes only if allowed."""
        gpn, buckets, free = self.gpn, self.buckets, self.free
        if gpus >= gpn:
            full = buckets[gpn]
            n = gpus // gpn
            if not allow_full or len(full) < n:
                return None
            nodes = [full.pop() for _ in range(n)]
            for node in nodes:
                free[node] = 0
            return nodes
        for k in range(gpus, gpn + 1):
            if buckets[k] and (k < gpn or allow_full):
                node = buckets[k].pop()
                rest = k - gpus
                free[node] = rest
                if rest:
                    buckets[rest].add(node)
                return [node]
        return None

    def fits(self, gpus: int) -> bool:
        """Whether a job of ``gpus`` would fit now, full nodes allowed (no side effects)."""
        if gpus >= self.gpn:
            return self.full_nodes() >= gpus // self.gpn
        return any(self.buckets[k] for k in range(gpus, self.gpn + 1))

    def occupy(self, job: int, nodes: list[int], now: int) -> None:
        """Record ``job`` (started ``now``) on ``nodes``."""
        jobs, top, last, free_at = self.jobs, self.top_qos, self.last_start, self.free_at
        low = self.low_qos
        qos, until = self.qos_of[job], now + self.limit_of[job]
        for node in nodes:
            if not jobs[node] or free_at[node] < until:
                free_at[node] = until
            jobs[node].append(job)
            if top[node] < qos:
                top[node] = qos
            if low[node] > qos:
                low[node] = qos
            last[node] = now

    def release(self, job: int, nodes: Sequence[int], per_node: int) -> None:
        """Take ``job`` off ``nodes``, freeing ``per_node`` GPUs on each."""
        buckets, free, state, jobs = self.buckets, self.free, self.state, self.jobs
        for node in nodes:
            left = jobs[node]
            left.remove(job)
            old = free[node]
            free[node] = old + per_node
            if state[node] == UP:
                if old:
                    buckets[old].discard(node)
                buckets[old + per_node].add(node)
            if left:
                self.top_qos[node] = max(self.qos_of[j] for j in left)
                self.low_qos[node] = min(self.qos_of[j] for j in left)
                self.last_start[node] = max(self.start_of[j] for j in left)
                self.free_at[node] = max(self.start_of[j] + self.limit_of[j] for j in left)
            else:
                self.top_qos[node] = -1
                self.low_qos[node] = NO_JOB

    def set_state(self, node: int, new: int) -> None:
        """Move ``node`` in or out of service, keeping the buckets right."""
        old = self.state[node]
        if old == new:
            return
        free = self.free[node]
        if old == UP and free:
            self.buckets[free].discard(node)
        if new == UP and free:
            self.buckets[free].add(node)
        self.state[node] = new
        self.up[node] = new == UP

    def full_nodes(self) -> int:
        """Fully free nodes in service."""
        return len(self.buckets[self.gpn])

    def shadow_time(self, nodes: int, never: int) -> int:
        """When ``nodes`` full nodes will be free if every job runs to its time limit
        (``never`` if the nodes in service are too few): the start a reservation promises."""
        missing = nodes - self.full_nodes()
        if missing <= 0:
            return 0
        busy = self.free_at[self.up & (self.top_qos >= 0)]
        if len(busy) < missing:
            return never
        return int(np.partition(busy, missing - 1)[missing - 1])

    def preemptible(self, qos: int, cutoff: int) -> np.ndarray:
        """Nodes in service whose every job has a QoS below ``qos`` and started by ``cutoff``,
        lowest QoS first, then youngest first."""
        top, last = self.top_qos, self.last_start
        nodes = np.flatnonzero(self.up & (top >= 0) & (top < qos) & (last <= cutoff))
        return nodes[np.lexsort((-last[nodes], top[nodes]))]

    def partly_preemptible(self, qos: int) -> np.ndarray:
        """Nodes in service running some job of a QoS below ``qos`` (whose jobs may be
        preempted one by one for a job smaller than a node), lowest such QoS first, then the
        node whose latest job started earliest."""
        low, last = self.low_qos, self.last_start
        nodes = np.flatnonzero(self.up & (low < qos))
        return nodes[np.lexsort((last[nodes], low[nodes]))]
