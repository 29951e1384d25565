"""When each check first appears in the node events (paper Fig. 5 markers).

Engine-side, for the report: new checks reveal new failure modes (PAPER.md §2), so failure
rates over time carry markers where a check first appears. Input: canonical ``node_events``.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from gpurel.analysis.stacking import Query, sorted_by
from gpurel.schema import Result


def first_appearances(events: ir.Table, new_after: datetime | None = None) -> Query[pa.Table]:
    """One row per check name: its first record of any result and its first failure.

    Columns: ``check``, ``first_seen`` (first record, any result), ``records``, ``failing``
    (failing records), ``first_fail``, and of the first failing record ``node``, ``category``,
    ``domain``, ``message`` (ties broken by node, category, message), plus ``new``: the check
    first appears after ``new_after`` (false when ``new_after`` is None). Sources that record
    only failures (traces, drain reasons) make ``first_seen`` the first failure. Ordered by
    ``first_seen``, then check.
    """
    fail = events.result == Result.FAIL.value
    seen = events.group_by("check").aggregate(
        first_seen=events.time.min(),
        records=events.count(),
        failing=fail.sum(),
    )
    failing = events.filter(fail)
    order = [failing.time, failing.node, failing.category, failing.message]
    ranked = failing.mutate(pick=ibis.row_number().over(group_by=failing.check, order_by=order))
    first = ranked.filter(ranked.pick == 0).select(
        f_check="check",
        first_fail="time",
        node="node",
        category="category",
        domain="domain",
        message="message",
    )
    j = seen.left_join(first, seen.check == first.f_check)
    new = (j.first_seen > new_after) if new_after is not None else ibis.literal(False)
    table = j.select(
        "check",
        "first_seen",
        "records",
        failing=j.failing.fill_null(0),
        first_fail=j.first_fail,
        node=j.node,
        category=j.category,
        domain=j.domain,
        message=j.message,
        new=new,
    )
    return Query(table, lambda t: sorted_by(t, ["first_seen", "check"]))
