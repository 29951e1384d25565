"""Lemon drains: reading scontrol's node states, planning under the cap, recording and
resuming only what gpurel drained."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from canonical_rows import canonical_table, failing_event

from gpurel import slurm_drain
from gpurel.errors import GpurelError
from gpurel.slurm_drain import NodeState, plan
from gpurel.warehouse import Warehouse

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)

# as Slurm 22.05 prints them (scontrol show node -o), shortened in the middle
SHOW_NODE = """\
NodeName=gpu001 Arch=x86_64 CoresPerSocket=1  CPUAlloc=0 Gres=gpu:8 State=IDLE ThreadsPerCore=1 \
CfgTRES=cpu=4,mem=1000M,billing=4,gres/gpu=8 AllocTRES= CapWatts=n/a ExtSensorsTemp=n/s
NodeName=gpu002 Arch=x86_64 CPUAlloc=0 State=IDLE+DRAIN ThreadsPerCore=1 \
ExtSensorsTemp=n/s Reason=gpurel lemon: out_count 3 [root@2026-12-07T22:10:57]
NodeName=gpu003 Arch=x86_64 State=MIXED+DRAIN Partitions=main \
Reason=NHC: check_fs_used: /tmp 97% [root@2026-12-07T22:11:00]
NodeName=gpu004 State=DOWN*+DRAIN Reason=Not responding [slurm@2026-12-07T22:12:00]
"""


def test_node_states_and_reasons_from_scontrol() -> None:
    nodes = slurm_drain.parse_nodes(SHOW_NODE)
    assert sorted(nodes) == ["gpu001", "gpu002", "gpu003", "gpu004"]
    assert nodes["gpu001"] == NodeState("gpu001", frozenset({"IDLE"}), None)
    assert nodes["gpu002"].drained and nodes["gpu002"].reason == "gpurel lemon: out_count 3"
    assert nodes["gpu003"].reason == "NHC: check_fs_used: /tmp 97%"
    assert nodes["gpu004"].flags == {"DOWN", "DRAIN"}


def test_an_unreadable_scontrol_line_is_an_error_naming_it() -> None:
    with pytest.raises(slurm_drain.DrainError, match="line 2"):
        slurm_drain.parse_nodes("NodeName=a State=IDLE\nnonsense\n")


def test_default_cap_is_two_percent_at_least_one() -> None:
    assert [slurm_drain.default_cap(n) for n in (1, 10, 49, 50, 100, 1000)] == [1, 1, 1, 1, 2, 20]


def _flag(node: str, rank: int, cluster: str = "c1") -> dict[str, Any]:
    return {"cluster": cluster, "node": node, "rank": rank, "signals": "out_count", "out_count": 4}


def _live(*drained: tuple[str, str]) -> dict[str, NodeState]:
    nodes = {f"n{i}": NodeState(f"n{i}", frozenset({"IDLE"}), None) for i in range(1, 9)}
    for node, reason in drained:
        nodes[node] = NodeState(node, frozenset({"IDLE", "DRAIN"}), reason)
    return nodes


def _open(node: str, reason: str = "gpurel lemon: out_count 4") -> dict[str, Any]:
    return {
        "drain_id": f"c1/{node}/x",
        "cluster": "c1",
        "node": node,
        "drained_at": NOW - timedelta(days=2),
        "reason": reason,
        "run_id": "r0",
        "ended_at": None,
        "ended_how": None,
        "ended_run": None,
    }


def test_plan_drains_the_most_suspect_first_up_to_the_cap() -> None:
    flagged = [_flag("n3", 2), _flag("n1", 1), _flag("n5", 3), _flag("x9", 1, cluster="c2")]
    todo = plan("c1", flagged, _live(), [], cap=2)
    assert todo.drain == [("n1", "gpurel lemon: out_count 4"), ("n3", "gpurel lemon: out_count 4")]
    assert todo.held == ["n5"]
    assert todo.left == {} and todo.resume == [] and todo.close == []


def test_plan_leaves_nodes_drained_by_someone_else_and_unknown_names() -> None:
    flagged = [_flag("n1", 1), _flag("n2", 2), _flag("gpu[1]", 3), _flag("n99", 4)]
    live = _live(("n1", "maintenance"))
    todo = plan("c1", flagged, live, [], cap=5)
    assert todo.drain == [("n2", "gpurel lemon: out_count 4")]
    assert todo.left["n1"] == "drained by someone else: maintenance"
    assert todo.left["n99"] == "not a node of Slurm cluster c1"
    assert "no Slurm node can be called" in todo.left["gpu[1]"]


def test_gpurels_open_drains_count_toward_the_cap_and_are_not_drained_again() -> None:
    reason = "gpurel lemon: out_count 4"
    todo = plan("c1", [_flag("n1", 1), _flag("n2", 2)], _live(("n1", reason)), [_open("n1")], cap=1)
    assert todo.drain == [] and todo.held == ["n2"]
    assert todo.left == {"n1": "already drained by gpurel run r0"}


def test_open_drains_someone_else_ended_are_closed_never_touched() -> None:
    live = _live(("n2", "hardware swap"))  # n1 resumed by someone, n2 drained again
    todo = plan("c1", [], live, [_open("n1"), _open("n2")], cap=1, clean={"n1": True, "n2": True})
    assert [(row["node"], how) for row, how in todo.close] == [
        ("n1", slurm_drain.RESUMED_ELSEWHERE),
        ("n2", slurm_drain.TAKEN_OVER),
    ]
    assert todo.resume == []


def test_resume_only_clean_unflagged_nodes_gpurel_drained() -> None:
    reason = "gpurel lemon: out_count 4"
    live = _live(("n1", reason), ("n2", reason), ("n3", reason), ("n4", "maintenance"))
    drains = [_open("n1"), _open("n2"), _open("n3")]
    clean = {"n1": True, "n2": False, "n3": True}
    todo = plan("c1", [_flag("n3", 1)], live, drains, cap=1, drain=False, clean=clean)
    assert [row["node"] for row in todo.resume] == ["n1"]  # n2 not clean, n3 still flagged
    assert todo.drain == [] and todo.close == []


def test_a_cap_below_one_is_refused() -> None:
    with pytest.raises(GpurelError, match="--max-drain"):
        plan("c1", [], {}, [], cap=0)


class FakeSlurm:
    """scontrol against node states held in memory; records every command."""

    def __init__(self, live: dict[str, NodeState], refuse: str | None = None) -> None:
        self.live = dict(live)
        self.calls: list[list[str]] = []
        self.refuse = refuse

    def __call__(self, args: list[str]) -> str:
        self.calls.append(args)
        fields = dict(a.split("=", 1) for a in args[2:])
        node = fields["NodeName"]
        if node == self.refuse:
            raise slurm_drain.DrainError(f"{node}: Invalid node name specified")
        if fields["State"] == "DRAIN":
            self.live[node] = NodeState(node, frozenset({"IDLE", "DRAIN"}), fields["Reason"])
        else:
            self.live[node] = NodeState(node, frozenset({"IDLE"}), None)
        return ""


def _run(w: Warehouse, slurm: FakeSlurm, flagged: list[dict[str, Any]], **kw: Any) -> Any:
    opened = slurm_drain.open_drains(w, "c1")
    clean_s = kw.pop("clean_s", None)
    clean = None if clean_s is None else slurm_drain.clean_nodes(w, opened, clean_s, kw["now"])
    todo = plan("c1", flagged, slurm.live, opened, cap=kw.pop("cap", 2), clean=clean)
    return todo, slurm_drain.apply(w, todo, kw.pop("run_id", "r1"), kw["now"], slurm)


def test_apply_runs_argv_records_and_a_rerun_changes_nothing() -> None:
    w = Warehouse.in_memory()
    slurm = FakeSlurm(_live())
    _, done = _run(w, slurm, [_flag("n1", 1), _flag("n2", 2), _flag("n3", 3)], now=NOW)
    assert done.drained == ["n1", "n2"] and done.failed == {}
    assert slurm.calls == [
        ["scontrol", "update", "NodeName=n1", "State=DRAIN", "Reason=gpurel lemon: out_count 4"],
        ["scontrol", "update", "NodeName=n2", "State=DRAIN", "Reason=gpurel lemon: out_count 4"],
    ]
    history = slurm_drain.drain_history(w).to_pylist()
    assert [(r["node"], r["run_id"], r["drained_at"], r["ended_at"]) for r in history] == [
        ("n1", "r1", NOW, None),
        ("n2", "r1", NOW, None),
    ]
    later = NOW + timedelta(hours=1)
    todo, again = _run(w, slurm, [_flag("n1", 1), _flag("n2", 2), _flag("n3", 3)], now=later)
    assert again.drained == [] and len(slurm.calls) == 2
    assert todo.held == ["n3"]
    assert slurm_drain.drain_history(w).to_pylist() == history


def test_a_failed_command_is_reported_and_not_recorded() -> None:
    w = Warehouse.in_memory()
    slurm = FakeSlurm(_live(), refuse="n1")
    _, done = _run(w, slurm, [_flag("n1", 1), _flag("n2", 2)], now=NOW)
    assert done.drained == ["n2"] and "Invalid node name" in done.failed["n1"]
    assert [r["node"] for r in slurm_drain.drain_history(w).to_pylist()] == ["n2"]


def test_resume_after_a_clean_spell_and_close_what_someone_else_resumed() -> None:
    w = Warehouse.in_memory()
    failed_at = NOW + timedelta(minutes=30)
    w.write("node_events", canonical_table("node_events", [failing_event("n2", failed_at, "pcie")]))
    slurm = FakeSlurm(_live())
    _run(w, slurm, [_flag("n1", 1), _flag("n2", 2), _flag("n3", 3)], now=NOW, cap=3)
    slurm.live["n3"] = NodeState("n3", frozenset({"IDLE"}), None)  # an operator resumed n3
    an_hour = NOW + timedelta(hours=1)
    _, done = _run(w, slurm, [], now=an_hour, clean_s=3600, run_id="r2")
    # n2 had a failing record in the last hour: not clean yet
    assert done.resumed == ["n1"]
    assert slurm.calls[-1] == ["scontrol", "update", "NodeName=n1", "State=RESUME"]
    ended = {
        r["node"]: (r["ended_how"], r["ended_run"])
        for r in slurm_drain.drain_history(w).to_pylist()
    }
    assert ended == {
        "n1": (slurm_drain.RESUMED, "r2"),
        "n2": (None, None),
        "n3": (slurm_drain.RESUMED_ELSEWHERE, "r2"),
    }
    _, later = _run(w, slurm, [], now=failed_at + timedelta(hours=1), clean_s=3600, run_id="r3")
    assert later.resumed == ["n2"]
