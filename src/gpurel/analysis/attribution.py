"""Attribution of interrupted job attempts to failing health checks (PAPER.md §3).

A job attempt is *interrupted* when it ended ``FAILED`` or ``NODE_FAIL`` after actually running
(``start_time`` set and ``end_time > start_time``): a ``NODE_FAIL`` job that never started
interrupted nothing and is left out. Its *candidates* are the failing node events (``result ==
"fail"``) on the same cluster, on one of the attempt's nodes, timestamped within
``[end_time - before_s, end_time + after_s]`` (both edges inclusive; default the paper's
``[end - 10 min, end + 5 min]``).

The most likely cause is the first candidate in this order (the *priority heuristic*):

1. severity: high before low before info (a check that removes a node explains a dead job
   better than one that only drains it);
2. category priority from the taxonomy (smaller first; categories the taxonomy does not list
   rank after every listed one);
3. closeness to the job end (absolute offset);
4. earlier event time;
5. node name, check name, then category, domain and severity: a stable tie-break so that the
   choice never depends on row order.

Attempts without a candidate:

- ``NODE_FAIL`` → category ``"unattributed"``, domain ``"unknown"``: the node stopped answering
  and no check says why (the paper's "unattributed NODE_FAIL");
- ``FAILED`` → category ``"none"``, domain ``"user"``: presumed a user/application failure and
  not counted as an infrastructure failure by the metrics.

Everything runs in the engine through portable Ibis expressions (range join, window functions);
``python_reference`` is a plain-Python statement of the same rule for tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from gpurel.analysis.stacking import Query, sorted_by
from gpurel.schema import INTERRUPTING_STATES, Domain, JobState, Result, Severity

JOB_KEY = ("cluster", "job_id", "attempt")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
INTERRUPTING = [s.value for s in INTERRUPTING_STATES]

UNATTRIBUTED = "unattributed"  # category of a NODE_FAIL without candidate
NO_CAUSE = "none"  # category of a FAILED attempt without candidate (presumed user)
UNRANKED = 1_000_000  # priority of a category missing from the taxonomy

SEVERITY_RANK = {Severity.HIGH.value: 0, Severity.LOW.value: 1, Severity.INFO.value: 2}
_OTHER_SEVERITY = len(SEVERITY_RANK)

_NO_CANDIDATE = {
    JobState.NODE_FAIL.value: {"category": UNATTRIBUTED, "domain": Domain.UNKNOWN.value},
    JobState.FAILED.value: {"category": NO_CAUSE, "domain": Domain.USER.value},
}

_CAUSE = ("category", "domain", "severity", "check", "node", "event_time", "offset_s")

_EVENT = (
    "check",
    "category",
    "domain",
    "severity",
    "source",
    "xid",
    "message",
)  # a candidate's event

_ATTEMPT = (*JOB_KEY, "state", "n_gpus", "n_nodes", "start_time", "end_time")

FAILURE_COLUMNS = (*_ATTEMPT, "runtime_s", *_CAUSE, "n_candidates", "attributed")


@dataclass(frozen=True)
class AttributionWindow:
    """Seconds before and after a job's end in which a failing check is a candidate cause."""

    before_s: int = 600
    after_s: int = 300


# the windows of the sensitivity table: half, the paper's, and twice
SENSITIVITY_WINDOWS = (
    AttributionWindow(300, 120),
    AttributionWindow(600, 300),
    AttributionWindow(1200, 600),
)


def seconds_between(start: ir.TimestampValue, end: ir.TimestampValue) -> ir.FloatingValue:
    """``end - start`` in seconds, exact to the microsecond on every backend."""
    return end.delta(start, unit="microsecond") / 1_000_000


def time_bucket(time: ir.TimestampValue, width_us: int) -> ir.IntegerValue:
    """Start of the ``width_us``-microsecond bucket holding ``time`` (exact integers)."""
    us = time.delta(ibis.literal(EPOCH), unit="microsecond")
    return us - us % width_us


def first_node(nodes: ir.ArrayValue) -> ir.StringValue:
    """The first node of the list, null if empty (Spark's ANSI mode fails on a missing index)."""
    return ibis.cases((nodes.length() > 0, nodes[0]), else_=ibis.null("string"))


def ran(jobs: ir.Table) -> ir.BooleanValue:
    """The attempt actually ran: it has a start and ended after it."""
    return jobs.start_time.notnull() & jobs.end_time.notnull() & (jobs.end_time > jobs.start_time)


def runtime_s(jobs: ir.Table) -> ir.FloatingValue:
    """Runtime in seconds (``end - start``), 0 for attempts that did not run."""
    return ibis.cases((ran(jobs), seconds_between(jobs.start_time, jobs.end_time)), else_=0.0)


def interrupted(jobs: ir.Table) -> ir.Table:
    """Attempts that ran and ended FAILED or NODE_FAIL."""
    return jobs.filter(jobs.state.isin(INTERRUPTING), ran(jobs))


def as_table(priorities: ir.Table | pa.Table) -> ir.Table:
    """The taxonomy priorities (``taxonomy.default().priorities()``) as an Ibis table."""
    return ibis.memtable(priorities) if isinstance(priorities, pa.Table) else priorities


def candidates(
    jobs: ir.Table,
    events: ir.Table,
    priorities: ir.Table | pa.Table,
    window: AttributionWindow = AttributionWindow(),
) -> ir.Table:
    """Every (interrupted attempt, failing event on one of its nodes within the window) pair.

    A hash join on (cluster, node, time bucket) with the window as a filter: buckets as wide
    as the window, so each attempt meets its node's events of at most two buckets, and the
    work grows with the number of records, not with the square of the records per node.

    Events of categories the taxonomy marks ``evidence = false`` (the scheduler's own
    "Not responding") are never candidates.
    """
    before, after = ibis.interval(seconds=window.before_s), ibis.interval(seconds=window.after_s)
    width = max(window.before_s + window.after_s, 1) * 1_000_000
    attempts = interrupted(jobs).select(*JOB_KEY, "state", "end_time", node="nodes").unnest("node")
    attempts = (
        attempts.mutate(
            bucket=ibis.array(
                [
                    time_bucket(attempts.end_time - before, width),
                    time_bucket(attempts.end_time + after, width),
                ]
            )
        )
        .unnest("bucket")
        .distinct()
    )
    failing = events.filter(events.result == Result.FAIL.value)
    failing = failing.select(
        "cluster",
        "node",
        *_EVENT,
        event_time="time",
        bucket=time_bucket(failing.time, width),
    )
    ranking = as_table(priorities)
    if "evidence" in ranking.columns:
        failing = failing.anti_join(ranking.filter(~ranking.evidence), "category")
    pairs = attempts.join(
        failing,
        [
            attempts.cluster == failing.cluster,
            attempts.node == failing.node,
            attempts.bucket == failing.bucket,
            failing.event_time >= attempts.end_time - before,
            failing.event_time <= attempts.end_time + after,
        ],
    )
    ranks = ranking.select("category", rank="priority")
    with_priority = pairs.left_join(ranks, pairs.category == ranks.category)
    return with_priority.select(
        *JOB_KEY,
        "state",
        "end_time",
        "node",
        "event_time",
        *_EVENT,
        priority=with_priority["rank"].fill_null(UNRANKED),
        offset_s=seconds_between(with_priority.end_time, with_priority.event_time),
    )


def _choice_order(c: ir.Table) -> list[ir.Value]:
    severity_rank = c.severity.cases(*SEVERITY_RANK.items(), else_=_OTHER_SEVERITY)
    return [
        severity_rank,
        c.priority,
        c.offset_s.abs(),
        c.event_time,
        c.node,
        c.check,
        c.category,
        c.domain,
        c.severity,
    ]


def _chosen(c: ir.Table) -> ir.Table:
    """The first candidate of each attempt by the priority heuristic, with the candidate count."""
    by_attempt = [c[k] for k in JOB_KEY]
    ranked = c.mutate(
        pick=ibis.row_number().over(group_by=by_attempt, order_by=_choice_order(c)),
        n_candidates=c.event_time.count().over(group_by=by_attempt),
    )
    return ranked.filter(ranked.pick == 0).select(*JOB_KEY, *_CAUSE, "n_candidates")


def _no_candidate(state: ir.StringValue, field: str) -> ir.StringValue:
    return state.cases(*((s, v[field]) for s, v in _NO_CANDIDATE.items()))


def attribute(
    jobs: ir.Table,
    events: ir.Table,
    priorities: ir.Table | pa.Table,
    window: AttributionWindow = AttributionWindow(),
) -> ir.Table:
    """The ``failures`` table: one row per interrupted attempt with its most likely cause."""
    return _attributed(jobs, candidates(jobs, events, priorities, window))


def widest(windows: Iterable[AttributionWindow]) -> AttributionWindow:
    """The smallest window that holds every one of ``windows``."""
    windows = tuple(windows)
    return AttributionWindow(max(w.before_s for w in windows), max(w.after_s for w in windows))


def attribute_within(jobs: ir.Table, found: ir.Table, window: AttributionWindow) -> ir.Table:
    """``attribute`` in ``window`` from the ``candidates`` ``found`` in a window holding it: the
    candidates are found once (the join of attempts and events) and narrowed per window."""
    return _attributed(jobs, _within(found, window))


def _within(c: ir.Table, window: AttributionWindow) -> ir.Table:
    """The candidates of a narrower window than the one ``c`` was found in."""
    before, after = ibis.interval(seconds=window.before_s), ibis.interval(seconds=window.after_s)
    return c.filter(c.event_time >= c.end_time - before, c.event_time <= c.end_time + after)


def _attributed(jobs: ir.Table, found: ir.Table) -> ir.Table:
    """``attribute`` given the candidates ``found``."""
    base = interrupted(jobs)
    base = base.select(*_ATTEMPT, runtime_s=runtime_s(base))
    chosen = _chosen(found).rename({f"c_{k}": k for k in JOB_KEY})
    j = base.left_join(chosen, [base[k] == chosen[f"c_{k}"] for k in JOB_KEY])
    n = j.n_candidates.fill_null(0)
    return j.select(
        *_ATTEMPT,
        "runtime_s",
        category=j.category.fill_null(_no_candidate(j.state, "category")),
        domain=j.domain.fill_null(_no_candidate(j.state, "domain")),
        severity=j.severity,
        check=j.check,
        node=j.node,
        event_time=j.event_time,
        offset_s=j.offset_s,
        n_candidates=n,
        attributed=n > 0,
    )


def window_sensitivity(
    jobs: ir.Table,
    events: ir.Table,
    priorities: ir.Table | pa.Table,
    windows: Iterable[AttributionWindow] = SENSITIVITY_WINDOWS,
) -> pa.Table:
    """Attributed share of interrupted attempts (all, and NODE_FAIL only) for each window."""
    windows = tuple(windows)
    return sensitivity(jobs, candidates(jobs, events, priorities, widest(windows)), windows).run()


def sensitivity(
    jobs: ir.Table, found: ir.Table, windows: Iterable[AttributionWindow] = SENSITIVITY_WINDOWS
) -> Query[pa.Table]:
    """``window_sensitivity`` from the ``candidates`` ``found`` in a window holding every one of
    ``windows``: one engine query."""
    parts = []
    for w in windows:
        f = attribute_within(jobs, found, w)
        node_fail = f.state == JobState.NODE_FAIL.value
        counts = f.aggregate(
            interrupted=f.count(),
            attributed=f.attributed.sum(),
            node_fail=node_fail.sum(),
            node_fail_attributed=(node_fail & f.attributed).sum(),
        )
        parts.append(
            counts.mutate(
                before_s=ibis.literal(w.before_s, "int64"),
                after_s=ibis.literal(w.after_s, "int64"),
            )
        )
    t = ibis.union(*parts)
    t = t.mutate(
        **{c: t[c].fill_null(0) for c in ("attributed", "node_fail", "node_fail_attributed")}
    )
    t = t.mutate(
        attributed_share=t.attributed / t.interrupted.nullif(0),
        node_fail_attributed_share=t.node_fail_attributed / t.node_fail.nullif(0),
    )
    return Query(t, lambda rows: sorted_by(rows, ["before_s", "after_s"]))


# --- plain-Python reference -------------------------------------------------------------------


def _ran(job: dict[str, Any]) -> bool:
    start, end = job["start_time"], job["end_time"]
    return start is not None and end is not None and end > start


def _is_candidate(
    job: dict[str, Any], ev: dict[str, Any], window: AttributionWindow, not_evidence: Set[str]
) -> bool:
    end = job["end_time"]
    return (
        ev["result"] == Result.FAIL.value
        and ev["category"] not in not_evidence
        and ev["cluster"] == job["cluster"]
        and ev["node"] in (job["nodes"] or ())
        and end - timedelta(seconds=window.before_s)
        <= ev["time"]
        <= end + timedelta(seconds=window.after_s)
    )


def _sort_key(ev: dict[str, Any], end: datetime, priorities: dict[str, int]) -> tuple[Any, ...]:
    return (
        SEVERITY_RANK.get(ev["severity"], _OTHER_SEVERITY),
        priorities.get(ev["category"], UNRANKED),
        abs((ev["time"] - end).total_seconds()),
        ev["time"],
        ev["node"],
        ev["check"],
        ev["category"],
        ev["domain"],
        ev["severity"],
    )


def _reference_row(
    job: dict[str, Any], found: Sequence[dict[str, Any]], priorities: dict[str, int]
) -> dict[str, Any]:
    end = job["end_time"]
    row = {k: job[k] for k in _ATTEMPT}
    row["runtime_s"] = (end - job["start_time"]).total_seconds()
    if found:
        best = min(found, key=lambda ev: _sort_key(ev, end, priorities))
        cause = {k: best[k] for k in ("category", "domain", "severity", "check", "node")}
        cause |= {"event_time": best["time"], "offset_s": (best["time"] - end).total_seconds()}
    else:
        cause = dict.fromkeys(_CAUSE) | _NO_CANDIDATE[job["state"]]
    return row | cause | {"n_candidates": len(found), "attributed": bool(found)}


def python_reference(
    jobs: list[dict[str, Any]],
    events: list[dict[str, Any]],
    priorities: dict[str, int],
    window: AttributionWindow = AttributionWindow(),
    not_evidence: Set[str] = frozenset({"node_unresponsive"}),
) -> list[dict[str, Any]]:
    """``attribute`` in plain Python over lists of row dicts; rows sorted by the job key."""
    rows = []
    for job in jobs:
        if job["state"] not in INTERRUPTING or not _ran(job):
            continue
        found = [ev for ev in events if _is_candidate(job, ev, window, not_evidence)]
        rows.append(_reference_row(job, found, priorities))
    return sorted(rows, key=lambda r: tuple(r[k] for k in JOB_KEY))
