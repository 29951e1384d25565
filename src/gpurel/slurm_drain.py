"""Lemon drains through Slurm: plan, run and record ``scontrol`` drains and resumes.

A drain is ``scontrol update NodeName=N State=DRAIN Reason="gpurel lemon: SIGNALS"``, given
as an argument list (never through a shell). What gpurel drained, when, why and by which run is
kept in the warehouse's side table ``lemon_drains``, one row per drain; a row is open until
gpurel resumes the node or finds that someone else did.

- Drain: a flagged node of the Slurm cluster that is not drained yet, most suspect first, while
  fewer than ``cap`` nodes are drained by gpurel (its open drains count: the cap bounds how many
  nodes gpurel keeps out of service at one time); the rest are held back by the cap.
- Resume (``State=RESUME``): a node gpurel drained, still drained with gpurel's reason, not
  flagged now, and without a failing node-event record for ``clean_s`` (nor since its drain).
- Never touched: a node drained by anyone else (another reason, or no open drain of gpurel's).
  A node of gpurel's that someone resumed or drained again with another reason closes its
  drain row, which says so.

``plan`` decides from the flagged nodes, the nodes' live states (``scontrol show node -o``)
and the stored drains; ``apply`` runs the plan and records it, so a rerun changes nothing.
"""

from __future__ import annotations

import math
import re
import shlex
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from gpurel import hostlist, schema, slurm_client
from gpurel.errors import GpurelError
from gpurel.formatting import number
from gpurel.slurm_client import exit_text, last_line
from gpurel.warehouse import Warehouse

DRAINS = "lemon_drains"
DRAIN_SCHEMA = pa.schema(
    [
        pa.field("drain_id", pa.string(), nullable=False),  # cluster/node/drained_at
        pa.field("cluster", pa.string(), nullable=False),
        pa.field("node", pa.string(), nullable=False),
        pa.field("drained_at", schema.TIME, nullable=False),
        pa.field("reason", pa.string(), nullable=False),  # the Reason given to Slurm
        pa.field("run_id", pa.string(), nullable=False),  # the gpurel run that drained it
        pa.field("ended_at", schema.TIME),  # null while the node is drained by gpurel
        pa.field("ended_how", pa.string()),
        pa.field("ended_run", pa.string()),
    ]
)
REASON_PREFIX = "gpurel lemon: "
CAP_SHARE = 0.02  # default cap: this share of the cluster's nodes, at least one

RESUMED = "resumed by gpurel"
RESUMED_ELSEWHERE = "found no longer drained: resumed by someone else"
TAKEN_OVER = "found drained again by someone else"

# scontrol show node -o: Reason=TEXT [USER@TIME] (the last such stamp ends the text), or
# Reason=TEXT to the end of the line
_REASON = re.compile(r"\sReason=(?P<text>.*?)(?:\s\[[^\]\s]*@[^\]\s]*\]|\s*$)")
_NAME = re.compile(r"^NodeName=(\S+)")
_STATE = re.compile(r"\sState=(\S+)")

Runner = Callable[[list[str]], str]


class DrainError(GpurelError):
    """A Slurm command of a drain or resume failed, or its answer cannot be read."""


def run_scontrol(args: list[str]) -> str:
    """Run a Slurm client (argument list, no shell) with UTC times; its stdout, or DrainError."""

    def fail(detail: str, transient: bool) -> DrainError:
        return DrainError(f"{shlex.join(args)}: {detail}")

    done = slurm_client.run(args, fail)
    if done.returncode != 0:
        said = last_line(done.stderr) or last_line(done.stdout)
        raise fail(said or exit_text(done.returncode), False)
    return done.stdout


@dataclass(frozen=True)
class NodeState:
    """A Slurm node's state flags (``IDLE+DRAIN`` -> IDLE, DRAIN) and its reason, if any."""

    node: str
    flags: frozenset[str]
    reason: str | None

    @property
    def drained(self) -> bool:
        """Drained or draining: taken out of scheduling by a drain."""
        return "DRAIN" in self.flags


def parse_nodes(text: str) -> dict[str, NodeState]:
    """``scontrol show node -o`` output (one node per line) by node name."""
    out: dict[str, NodeState] = {}
    for number_, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, state = _NAME.search(line), _STATE.search(line)
        if name is None or state is None:
            raise DrainError(f"scontrol show node, line {number_}: no NodeName or State: {line!r}")
        reason = _REASON.search(line)
        flags = frozenset(state.group(1).replace("*", "").split("+"))
        out[name.group(1)] = NodeState(name.group(1), flags, reason and reason.group("text"))
    return out


def node_states(run: Runner = run_scontrol) -> dict[str, NodeState]:
    """Every node of the local Slurm cluster, as the controller sees it now."""
    return parse_nodes(run(["scontrol", "show", "node", "-o"]))


def default_cap(nodes: int) -> int:
    """The default ``--max-drain``: 2% of the cluster's nodes, at least one."""
    return max(1, math.floor(nodes * CAP_SHARE))


def reason_for(row: dict[str, Any]) -> str:
    """The drain reason of a flagged node: its fired signals with their values (no ``=``,
    which would read as the next field of ``scontrol show node``)."""
    fired = row["signals"].split(", ") if row["signals"] else []
    return REASON_PREFIX + ", ".join(f"{name} {number(row[name])}" for name in fired)


def drain_argv(node: str, reason: str) -> list[str]:
    """The ``scontrol`` arguments that drain ``node`` with ``reason``."""
    return ["scontrol", "update", f"NodeName={node}", "State=DRAIN", f"Reason={reason}"]


def resume_argv(node: str) -> list[str]:
    """The ``scontrol`` arguments that return ``node`` to service."""
    return ["scontrol", "update", f"NodeName={node}", "State=RESUME"]


@dataclass
class Plan:
    """What one run does on one Slurm cluster, and why it leaves the other nodes as they are.

    ``drain``: (node, reason) to drain, most suspect first; ``resume``: open drains to resume;
    ``close``: open drains someone else ended, with how; ``held``: flagged nodes held back by
    the cap; ``left``: flagged or drained nodes left as they are, with why.
    """

    cluster: str
    cap: int
    drain: list[tuple[str, str]] = field(default_factory=list)
    resume: list[dict[str, Any]] = field(default_factory=list)
    close: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    left: dict[str, str] = field(default_factory=dict)


def plan(
    cluster: str,
    flagged: Iterable[dict[str, Any]],
    live: dict[str, NodeState],
    open_drains: Iterable[dict[str, Any]],
    *,
    cap: int,
    drain: bool = True,
    clean: dict[str, bool] | None = None,
) -> Plan:
    """The drains and resumes of one run on ``cluster``.

    ``flagged``: the flagged rows (``cluster``, ``node``, ``rank``, ``signals`` and the signal
    values) of every cluster; ``open_drains``: gpurel's open drain rows of ``cluster``;
    ``drain``: whether to drain flagged nodes; ``clean``: per open drain's node, whether it has
    been clean long enough to resume (None: resume nothing).
    """
    if cap < 1:
        raise GpurelError(f"--max-drain must be at least 1, not {cap}")
    out = Plan(cluster, cap)
    ours: dict[str, dict[str, Any]] = {}
    for row in open_drains:
        state = live.get(row["node"])
        if state is None or not state.drained:
            out.close.append((row, RESUMED_ELSEWHERE))
        elif state.reason != row["reason"]:
            out.close.append((row, TAKEN_OVER))
        else:
            ours[row["node"]] = row
    flagged_here = [r for r in flagged if r["cluster"] == cluster]
    flagged_nodes = {r["node"] for r in flagged_here}
    if clean is not None:
        for node, row in sorted(ours.items()):
            if node not in flagged_nodes and clean.get(node, False):
                out.resume.append(row)
    if not drain:
        return out
    room = cap - len(ours) + len(out.resume)
    for row in sorted(flagged_here, key=lambda r: (r["rank"], r["node"])):
        node = row["node"]
        state = live.get(node)
        problem = hostlist.slurm_name_problem(node)
        if problem is not None:
            out.left[node] = f"no Slurm node can be called {node!r} ({problem})"
        elif state is None:
            out.left[node] = f"not a node of Slurm cluster {cluster}"
        elif node in ours:
            out.left[node] = f"already drained by gpurel run {ours[node]['run_id']}"
        elif state.drained:
            out.left[node] = f"drained by someone else: {state.reason or 'no reason given'}"
        elif room > 0:
            out.drain.append((node, reason_for(row)))
            room -= 1
        else:
            out.held.append(node)
    return out


def open_drains(warehouse: Warehouse, cluster: str) -> list[dict[str, Any]]:
    """gpurel's open drain rows of ``cluster`` (the node still out of service)."""
    t = warehouse.side(DRAINS, DRAIN_SCHEMA)
    rows = warehouse.fetch(t.filter((t.cluster == cluster) & t.ended_at.isnull()))
    return rows.to_pylist()


def clean_nodes(
    warehouse: Warehouse, drains: list[dict[str, Any]], clean_s: float, now: datetime
) -> dict[str, bool]:
    """Per node of ``drains``: drained and without a failing node-event record for
    ``clean_s`` seconds before ``now``."""
    since = now - timedelta(seconds=clean_s)
    nodes = [row["node"] for row in drains if row["drained_at"] <= since]
    if not nodes:
        return {row["node"]: False for row in drains}
    e = warehouse.table("node_events")
    cluster = drains[0]["cluster"]
    failing = e.filter(
        (e.cluster == cluster) & e.node.isin(nodes) & (e.result == "fail") & (e.time > since)
    )
    dirty = set(warehouse.fetch(failing.select("node").distinct())["node"].to_pylist())
    return {row["node"]: row["node"] in nodes and row["node"] not in dirty for row in drains}


@dataclass
class Outcome:
    """What ``apply`` did: drained and resumed nodes, and the commands that failed."""

    drained: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def new_run_id(now: datetime) -> str:
    """An id for one gpurel run: its UTC start and a random suffix."""
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def apply(
    warehouse: Warehouse,
    todo: Plan,
    run_id: str,
    now: datetime,
    run: Runner = run_scontrol,
) -> Outcome:
    """Run ``todo``'s resumes and drains and record each in ``lemon_drains`` as it succeeds."""
    done = Outcome()
    ended = [_ended(row, how, now, run_id) for row, how in todo.close]
    for row in todo.resume:
        try:
            run(resume_argv(row["node"]))
        except DrainError as exc:
            done.failed[row["node"]] = str(exc)
            continue
        done.resumed.append(row["node"])
        ended.append(_ended(row, RESUMED, now, run_id))
    _store(warehouse, ended)
    for node, reason in todo.drain:
        try:
            run(drain_argv(node, reason))
        except DrainError as exc:
            done.failed[node] = str(exc)
            continue
        done.drained.append(node)
        _store(warehouse, [_drained(todo.cluster, node, reason, now, run_id)])
    return done


def _drained(cluster: str, node: str, reason: str, now: datetime, run_id: str) -> dict[str, Any]:
    return {
        "drain_id": f"{cluster}/{node}/{now.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%fZ}",
        "cluster": cluster,
        "node": node,
        "drained_at": now,
        "reason": reason,
        "run_id": run_id,
        "ended_at": None,
        "ended_how": None,
        "ended_run": None,
    }


def _ended(row: dict[str, Any], how: str, now: datetime, run_id: str) -> dict[str, Any]:
    return row | {"ended_at": now, "ended_how": how, "ended_run": run_id}


def _store(warehouse: Warehouse, rows: list[dict[str, Any]]) -> None:
    if rows:
        table = pa.Table.from_pylist(rows, schema=DRAIN_SCHEMA)
        warehouse.upsert_side(DRAINS, DRAIN_SCHEMA, table, on="drain_id")


def drain_history(warehouse: Warehouse) -> pa.Table:
    """Every drain row gpurel recorded, oldest first."""
    t = warehouse.side(DRAINS, DRAIN_SCHEMA)
    return warehouse.fetch(t.order_by([t.drained_at, t.node]))
