"""Node state, allocation, shadow times and preemption candidates."""

from __future__ import annotations

from gpurel.sim.cluster import Cluster
from gpurel.sim.codes import DOWN, UP

NEVER = 10**12


def cluster(nodes: int = 4, spares: int = 0) -> tuple[Cluster, list[int], list[int], list[int]]:
    qos: list[int] = []
    start: list[int] = []
    limit: list[int] = []
    return Cluster(nodes, 8, spares, qos, start, limit), qos, start, limit


def job(c: tuple, q: int, s: int, lim: int = 3600) -> int:
    _, qos, start, limit = c
    qos.append(q)
    start.append(s)
    limit.append(lim)
    return len(qos) - 1


def test_small_jobs_pack_best_fit() -> None:
    c = cluster()
    cl = c[0]
    first = cl.allocate(4, True)
    second = cl.allocate(2, True)
    assert first == second  # the partly used node before a free one
    assert cl.free[first[0]] == 2
    assert cl.full_nodes() == 3
    assert cl.allocate(4, False) is None or cl.free[first[0]] == 2


def test_whole_nodes_need_full_nodes() -> None:
    cl = cluster()[0]
    assert cl.allocate(1, True) is not None
    assert cl.allocate(32, True) is None
    assert len(cl.allocate(24, True) or []) == 3
    assert cl.allocate(8, False) is None


def test_release_and_service_states() -> None:
    c = cluster(2)
    cl = c[0]
    j = job(c, 0, 0)
    nodes = cl.allocate(8, True)
    assert nodes is not None
    cl.occupy(j, nodes, 0)
    cl.set_state(nodes[0], DOWN)
    cl.release(j, nodes, 8)
    assert cl.full_nodes() == 1
    cl.set_state(nodes[0], UP)
    assert cl.full_nodes() == 2
    assert cl.top_qos[nodes[0]] == -1


def test_spares_start_out_of_service() -> None:
    cl = cluster(4, spares=1)[0]
    assert cl.full_nodes() == 3
    assert cl.spares == [3]


def test_preemptible_lowest_qos_youngest_first() -> None:
    c = cluster(3)
    cl = c[0]
    for q, s in ((0, 0), (0, 100), (1, 0)):
        j = job(c, q, s)
        nodes = cl.allocate(8, True)
        assert nodes is not None
        cl.occupy(j, nodes, s)
    order = cl.preemptible(2, cutoff=100)
    assert [int(cl.top_qos[n]) for n in order] == [0, 0, 1]
    assert int(cl.last_start[order[0]]) == 100
    assert len(cl.preemptible(1, cutoff=50)) == 1


def test_shadow_time_counts_time_limits() -> None:
    c = cluster(3)
    cl = c[0]
    for s, lim in ((0, 100), (0, 500)):
        j = job(c, 0, s, lim)
        nodes = cl.allocate(8, True)
        assert nodes is not None
        cl.occupy(j, nodes, s)
    assert cl.shadow_time(1, NEVER) == 0
    assert cl.shadow_time(2, NEVER) == 100
    assert cl.shadow_time(3, NEVER) == 500
    assert cl.shadow_time(4, NEVER) == NEVER
