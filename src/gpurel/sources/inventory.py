"""The node inventory of a node-history input that lists only the nodes that failed.

Failure rates need node-days, and a fault log names only faulty nodes. ``--nodes N`` says how
many nodes the cluster had and ``--days D`` how long the input covers: the inventory is the
nodes the input names plus unnamed ones up to N (``<cluster>-unseen-001``...), each in
service from day 0 (``--trace-start``, else the input's first record) for D days (else to the
input's last record). Inputs with an inventory of their own, and job accounting, refuse them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from gpurel import schema
from gpurel.errors import ConfigError
from gpurel.sources.base import ReadOptions

SOURCE = "inventory"
# formats whose inventory comes from the data, and job accounting: --nodes/--days refused
OWN_INVENTORY = frozenset({"titan-gpus", "k8s-nodes"})
JOB_FORMATS = frozenset({"sacct", "sacct-json", "dirlab-trace", "k8s-pods"})
READS_OPTIONS = frozenset({"infinitehbd"})  # readers that build it from the options themselves


def wanted(options: ReadOptions) -> bool:
    """True when the user gave --nodes or --days."""
    return options.inventory_nodes is not None or options.inventory_days is not None


def check_format(fmt: str) -> None:
    """ConfigError when --nodes/--days cannot apply to inputs of format ``fmt``."""
    if fmt in OWN_INVENTORY:
        raise ConfigError(f"--nodes/--days: {fmt} files hold their own node inventory")
    if fmt in JOB_FORMATS:
        raise ConfigError(
            f"--nodes/--days describe a node-history input that lists only failing nodes; "
            f"{fmt} is job accounting"
        )


class Seen:
    """The nodes and the time span of the node events read so far, per cluster."""

    def __init__(self) -> None:
        self.nodes: dict[str, set[str]] = {}
        self.first: dict[str, datetime] = {}
        self.last: dict[str, datetime] = {}

    def add(self, events: pa.Table) -> None:
        """Note the clusters, nodes and times of a part's node_events."""
        pairs = events.group_by(["cluster", "node"]).aggregate([("time", "min"), ("time", "max")])
        for cluster in pc.unique(pairs["cluster"]).to_pylist():
            mine = pairs.filter(pc.equal(pairs["cluster"], cluster))
            self.nodes.setdefault(cluster, set()).update(mine["node"].to_pylist())
            first, last = pc.min(mine["time_min"]).as_py(), pc.max(mine["time_max"]).as_py()
            self.first[cluster] = min(self.first.get(cluster, first), first)
            self.last[cluster] = max(self.last.get(cluster, last), last)

    def table(self, options: ReadOptions) -> pa.Table:
        """The inventory of every cluster seen, as canonical nodes rows."""
        rows = []
        for cluster, named in sorted(self.nodes.items()):
            start = options.trace_start or self.first[cluster]
            days = options.inventory_days
            end = self.last[cluster] if days is None else start + timedelta(days=days)
            if end <= start:
                raise ConfigError(f"--days: the inventory of {cluster!r} would end at its start")
            for node in sorted(named) + _unseen(cluster, named, options.inventory_nodes):
                rows.append(
                    {"cluster": cluster, "node": node, "gpus": options.gpus_per_node,
                     "in_service_start": start, "in_service_end": end, "source": SOURCE}
                )  # fmt: skip
        return schema.conform("nodes", pa.Table.from_pylist(rows, schema=schema.NODES))


def _unseen(cluster: str, named: set[str], size: int | None) -> list[str]:
    if size is None:
        return []
    if size < len(named):
        raise ConfigError(f"--nodes {size}: the input names {len(named):,} nodes of {cluster!r}")
    count = size - len(named)
    width = max(3, len(str(count)))
    return [f"{cluster}-unseen-{i:0{width}d}" for i in range(1, count + 1)]
