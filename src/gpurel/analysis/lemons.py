"""Lemon nodes (PAPER.md §6): per-node signals over a rolling window, in the engine.

The window is ``(as_of - window, as_of]`` (default 28 days up to the data's end: the latest job
time, event time or inventory bound). The nodes rated are the inventory nodes in service during
the window, and every node seen in jobs or events for clusters without an inventory (as for
node-days). Signals, per (cluster, node):

- ``excl_jobid_count``: jobs submitted in the window whose ``excluded_nodes`` list the node
  (distinct job ids);
- ``xid_cnt``: node-event records with an XID code;
- ``tickets``: repair tickets opened in the window (``sources.tickets``);
- ``out_count``: times the node was taken out of scheduling: failing node events of high
  severity (removed at once) or low severity (drained), Slurm down/drain records included,
  merged per node across categories like failure episodes (a record more than the merge gap,
  default 1 h, after the latest end so far starts a new outage), so co-occurring checks of
  one fault count once;
- ``multi_node_node_fails`` / ``single_node_node_fails``: infrastructure failures
  (``metrics.is_infra_failure``: hardware or system-software cause, or an unattributed
  NODE_FAIL; the count of MTTF and of lost goodput) of attempts on more than one node / one
  node that ended in the window, charged to a node as ``node_failures`` does: the node of the
  attributed cause, else the attempt's only node (a multi-node NODE_FAIL without a cause
  cannot be charged to any node and is left out). Failures of one kind on one node merged like
  episodes (ends less than the merge gap apart) count once: a fault that kills every job on a
  node is one node failure;
- ``single_node_node_failure_rate``: ``single_node_node_fails`` / single-node attempts that
  ran on the node and ended in the window (null for a node with fewer than
  ``min_single_jobs``, default 10, such attempts: too few to rate).

A signal whose input is missing is absent (null on every node), never 0: exclusions when no
job records ``excluded_nodes``, XIDs when no node event carries an XID code, tickets without a
ticket file, out_count without node events, the job signals without job accounting, and also
without node events when no NODE_FAIL can be charged to a node: then infrastructure failures
cannot be told apart from user failures. ``Lemons.available`` says which signals were
computed, and why the others were not; ``Lemons.warnings`` says what the signals cannot see
(without node events, the job signals count NODE_FAIL alone) and when no signal at all can be
computed. A cluster without any signal has its nodes unranked (score and rank null).

Detection (``models.lemon_rule``), one cluster at a time: thresholds from each signal's
distribution across the cluster's rated nodes (clusters differ in baseline failure rates: a
node is judged against its own cluster), a node flagged when enough signals reach its
cluster's thresholds, and a score in threshold multiples that ranks all.
Each flagged node comes with its evidence: the jobs (failures, exclusions) and node events
(outages, XID records, tickets) behind its signals.
"""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gpurel import hostlist
from gpurel.analysis import metrics
from gpurel.analysis.attribution import JOB_KEY, first_node, ran, seconds_between
from gpurel.analysis.node_failures import with_charged_node
from gpurel.analysis.stacking import fetch_together, sorted_by
from gpurel.errors import ConfigError
from gpurel.formatting import number
from gpurel.models.failure_model import poisson_interval
from gpurel.models.lemon_rule import Detection, LemonRule, detect
from gpurel.schema import Result, Severity

NODE_KEY = ("cluster", "node")
OUT_SEVERITIES = (Severity.HIGH.value, Severity.LOW.value)
MULTI, SINGLE, RATE = (
    "multi_node_node_fails",
    "single_node_node_fails",
    "single_node_node_failure_rate",
)
EXCLUDED, XID, TICKETS, OUT = "excl_jobid_count", "xid_cnt", "tickets", "out_count"


@dataclass(frozen=True)
class Signal:
    """A lemon signal: its name, its floor (the least value that can fire) and its meaning."""

    name: str
    floor: float
    doc: str


SIGNALS = (
    Signal(EXCLUDED, 3, "jobs that excluded the node"),
    Signal(XID, 3, "node-event records with an XID code"),
    Signal(TICKETS, 2, "repair tickets opened"),
    Signal(OUT, 3, "times taken out of scheduling (merged outages)"),
    Signal(MULTI, 3, "node failures of multi-node attempts"),
    Signal(SINGLE, 3, "node failures of single-node attempts"),
    Signal(RATE, 0.25, "node failures per single-node attempt"),
)
NAMES = tuple(s.name for s in SIGNALS)


@dataclass(frozen=True)
class LemonSettings:
    """The window, the outage merge gap and the detection rule."""

    window_s: int = 28 * metrics.DAY_S
    as_of: datetime | None = None  # None: the data's end
    merge_gap_s: int = 3600
    min_single_jobs: int = 10  # fewer single-node attempts leave the rate null
    rule: LemonRule = field(default_factory=LemonRule)

    def __post_init__(self) -> None:
        if self.window_s <= 0 or self.merge_gap_s < 0 or self.min_single_jobs < 1:
            raise ConfigError(
                "lemons: the window must be positive, the merge gap >= 0, min_single_jobs >= 1"
            )


@dataclass(frozen=True)
class Inputs:
    """What the signals are computed from: canonical tables, ``failures``, optional tickets."""

    jobs: ir.Table  # ``Warehouse.jobs()``: with ``attempt``
    events: ir.Table
    nodes: ir.Table
    failures: ir.Table  # ``attribution.attribute``
    tickets: ir.Table | None = None  # ``sources.tickets``


@dataclass
class Lemons:
    """Signals, thresholds, the ranked nodes and the evidence behind the flagged ones."""

    settings: LemonSettings
    period: metrics.Period
    available: dict[str, str | None]  # signal -> None, or why it is absent
    warnings: list[str]  # what the signals cannot see, for people
    thresholds: pa.Table  # per cluster and signal: THRESHOLDS' columns
    nodes: pa.Table  # rank, cluster, node, score, fired, signals, flagged, each signal, ...
    evidence_jobs: pa.Table
    evidence_events: pa.Table

    @property
    def flagged(self) -> pa.Table:
        """The flagged nodes, highest score first."""
        return self.nodes.filter(self.nodes["flagged"])


# --- window and nodes -------------------------------------------------------------------------


def window(
    inputs: Inputs, settings: LemonSettings, data_end: datetime | None = None
) -> metrics.Period:
    """``(as_of - window, as_of]``, ``as_of`` defaulting to the end of the data (``data_end``
    where the caller has measured it, ``metrics.analysis_period``'s)."""
    end = settings.as_of or data_end
    if end is None:
        end = metrics.analysis_period(inputs.jobs, inputs.events, inputs.nodes).end
    return metrics.Period(end - timedelta(seconds=settings.window_s), end)


def within(t: ir.TimestampValue, period: metrics.Period) -> ir.BooleanValue:
    """``t`` in ``(period.start, period.end]``: consecutive windows never share a record."""
    return (t > period.start) & (t <= period.end)


def rated_nodes(inputs: Inputs, period: metrics.Period) -> ir.Table:
    """(cluster, node) of every node in service during ``period`` (see the module docstring)."""
    # the spans that define node-days: inventory spans, else observed nodes over the period
    spans = metrics.node_spans(inputs.jobs, inputs.events, inputs.nodes, period)
    live = spans.filter(spans.start < period.end, spans.end > period.start)
    return live.select(*NODE_KEY).distinct()


NO_EVENTS_NO_NODE_FAIL = (
    "no node events and no NODE_FAIL on a node: infrastructure failures cannot be told apart "
    "from user failures"
)
WARN_NO_EVENTS = (
    "no node events ingested: infrastructure failures cannot be told apart from user "
    "failures, so the job failure signals are absent; ingest health checks or Slurm node "
    "events to rate nodes by their failures"
)
WARN_NODE_FAIL_ONLY = (
    "no node events ingested: the job failure signals count NODE_FAIL alone, as FAILED jobs "
    "with an infrastructure cause cannot be told apart from user failures"
)
WARN_NO_SIGNAL = "no lemon signal can be computed from this input: nodes are not ranked"


def _input_counts(inputs: Inputs) -> dict[str, int]:
    """Jobs, jobs recording exclusions, node events, events with an XID code, and (without
    node events) the infrastructure failures charged to a node."""
    jobs, events = inputs.jobs, inputs.events
    j = jobs.aggregate(n=jobs.count(), excl=jobs.excluded_nodes.notnull().cast("int64").sum())
    e = events.aggregate(events=events.count(), xid=events.xid.notnull().cast("int64").sum())
    row = {k: int(v or 0) for k, v in j.cross_join(e).to_pyarrow().to_pylist()[0].items()}
    charged = charged_failures(inputs) if row["n"] and not row["events"] else None
    row["charged"] = 0 if charged is None else int(charged.count().to_pyarrow().as_py())
    return row


def _availability(counts: dict[str, int], has_tickets: bool) -> dict[str, str | None]:
    """Per signal: None when its input is there, else why the signal is absent."""
    no_failures = None
    if not counts["n"]:
        no_failures = "no job accounting"
    elif not counts["events"] and not counts["charged"]:
        no_failures = NO_EVENTS_NO_NODE_FAIL
    return {
        EXCLUDED: None if counts["excl"] else "no job records excluded nodes",
        XID: None if counts["xid"] else "no node event carries an XID code",
        TICKETS: None if has_tickets else "no ticket file given",
        OUT: None if counts["events"] else "no node events",
        MULTI: no_failures,
        SINGLE: no_failures,
        RATE: no_failures,
    }


def _warnings(counts: dict[str, int], available: dict[str, str | None]) -> list[str]:
    """What people must know before reading the signals of this input."""
    out = []
    if counts["n"] and not counts["events"]:
        out.append(WARN_NODE_FAIL_ONLY if counts["charged"] else WARN_NO_EVENTS)
    if all(why is not None for why in available.values()):
        out.append(WARN_NO_SIGNAL)
    return out


# --- what the signals count -------------------------------------------------------------------


def charged_failures(inputs: Inputs) -> ir.Table:
    """Infrastructure failures with the node each is charged to and whether it was multi-node."""
    f = inputs.failures
    f = with_charged_node(f.filter(metrics.is_infra_failure(f)), inputs.jobs)
    f = f.mutate(multi=f.n_nodes.fill_null(f.width) > 1)
    return f.filter(f.charged.notnull()).select(
        *JOB_KEY,
        "state",
        "category",
        "check",
        "n_gpus",
        "end_time",
        "attributed",
        "multi",
        node="charged",
    )


def exclusions(jobs: ir.Table, period: metrics.Period) -> ir.Table:
    """(cluster, job_id, node, time) for jobs submitted in ``period`` that excluded the node."""
    j = jobs.filter(jobs.excluded_nodes.notnull())
    j = j.filter(within(j.submit_time.fill_null(j.end_time), period))
    picked = j.select("cluster", "job_id", time=j.submit_time, node=j.excluded_nodes)
    picked = picked.unnest("node")
    return picked.group_by("cluster", "job_id", "node").aggregate(time=picked.time.min())


def outages(events: ir.Table, period: metrics.Period, merge_gap_s: int) -> ir.Table:
    """Failing high/low-severity records in ``period`` merged per node across categories.

    Columns as ``metrics.episodes``; ``check`` is the first record's ``category: check`` (just
    the category where the check has its name).
    """
    e = events.filter(within(events.time, period), events.severity.isin(OUT_SEVERITIES))
    e = e.mutate(
        category=ibis.literal("out"),
        domain=ibis.literal("out"),
        check=ibis.cases((e.check == e.category, e.check), else_=e.category.concat(": ", e.check)),
    )
    return metrics.episodes(e, merge_gap_s)


def xid_records(events: ir.Table, period: metrics.Period) -> ir.Table:
    """Node events with an XID code in ``period``."""
    return events.filter(events.xid.notnull(), within(events.time, period))


def tickets_on(tickets: ir.Table, rated: ir.Table, period: metrics.Period) -> ir.Table:
    """Tickets opened in ``period`` on rated nodes (a ticket without cluster matches any)."""
    t = tickets.filter(within(tickets.opened, period))
    j = rated.join(t, [rated.node == t.node, t.cluster.isnull() | (t.cluster == rated.cluster)])
    return j.select(rated.cluster, rated.node, "opened", "closed", "outcome", "confirmed")


def single_node_attempts(jobs: ir.Table, period: metrics.Period) -> ir.Table:
    """(cluster, node, job_id, attempt) of single-node attempts that ran and ended in period."""
    width = jobs.n_nodes.fill_null(jobs.nodes.length())
    j = jobs.filter(ran(jobs), width == 1, within(jobs.end_time, period))
    return j.select(*JOB_KEY, node=first_node(j.nodes))


# --- signals ----------------------------------------------------------------------------------


def _per_node(t: ir.Table, name: str) -> ir.Table:
    return t.group_by(*NODE_KEY).aggregate(**{name: t.count()})


def incidents(failures: ir.Table, merge_gap_s: int) -> ir.Table:
    """Charged failures merged per node and kind (``category`` multi / single) like episodes:
    one fault that kills every job on a node is one incident."""
    as_events = failures.select(
        *NODE_KEY,
        time="end_time",
        end_time="end_time",
        check="job_id",
        category=ibis.cases((failures.multi, MULTI), else_=SINGLE),
        domain=ibis.literal("job"),
        result=ibis.literal(Result.FAIL.value),
    )
    return metrics.episodes(as_events, merge_gap_s)


def _signal_tables(
    inputs: Inputs, rated: ir.Table, period: metrics.Period, settings: LemonSettings
) -> list[ir.Table]:
    """Per-node counts of every signal, and single-node attempts (the rate's exposure)."""
    failures = charged_failures(inputs)
    failures = incidents(failures.filter(within(failures.end_time, period)), settings.merge_gap_s)
    tables = [
        _per_node(exclusions(inputs.jobs, period), EXCLUDED),
        _per_node(xid_records(inputs.events, period), XID),
        _per_node(outages(inputs.events, period, settings.merge_gap_s), OUT),
        _per_node(failures.filter(failures.category == MULTI), MULTI),
        _per_node(failures.filter(failures.category == SINGLE), SINGLE),
        _per_node(single_node_attempts(inputs.jobs, period), "single_node_jobs"),
    ]
    if inputs.tickets is not None:
        tables.append(_per_node(tickets_on(inputs.tickets, rated, period), TICKETS))
    return tables


def signals(
    inputs: Inputs,
    period: metrics.Period,
    settings: LemonSettings,
    available: dict[str, str | None],
) -> pa.Table:
    """Per rated node every signal, null where ``available`` says it is absent."""
    rated = rated_nodes(inputs, period)
    t = rated
    for counts in _signal_tables(inputs, rated, period, settings):
        counts = counts.rename({f"{k}_": k for k in NODE_KEY})
        t = t.left_join(counts, [t[k] == counts[f"{k}_"] for k in NODE_KEY]).drop(
            *(f"{k}_" for k in NODE_KEY)
        )
    t = t.mutate(single_node_jobs=t.single_node_jobs.fill_null(0))
    values = {
        name: t[name].fill_null(0).cast("float64")
        if available[name] is None
        else ibis.null("float64")
        for name in NAMES
        if name != RATE
    }
    single = t[SINGLE].fill_null(0).cast("float64")
    rated_jobs = t.single_node_jobs >= settings.min_single_jobs
    rate = ibis.cases((rated_jobs, single / t.single_node_jobs), else_=ibis.null("float64"))
    values[RATE] = rate if available[RATE] is None else ibis.null("float64")
    table = t.select(*NODE_KEY, "single_node_jobs", **{n: values[n] for n in NAMES})
    return table.order_by(*NODE_KEY).to_pyarrow()


# --- detection and evidence -------------------------------------------------------------------


THRESHOLDS = pa.schema(
    [
        ("cluster", pa.string()),
        ("signal", pa.string()),
        ("meaning", pa.string()),
        ("available", pa.bool_()),
        ("absent_reason", pa.string()),
        ("floor", pa.float64()),
        ("threshold", pa.float64()),  # null: no node of the cluster has a value
        ("firing", pa.int64()),  # null with the threshold
    ]
)


def _thresholds(
    cluster: str, available: dict[str, str | None], d: Detection
) -> list[dict[str, Any]]:
    """One cluster's rows of the thresholds table, one per signal."""
    return [
        {
            "cluster": cluster,
            "signal": s.name,
            "meaning": s.doc,
            "available": available[s.name] is None,
            "absent_reason": available[s.name],
            "floor": s.floor,
            "threshold": None if np.isnan(cut) else float(cut),
            "firing": None if np.isnan(cut) else int(firing),
        }
        for s, cut, firing in zip(SIGNALS, d.thresholds, d.fires.sum(axis=0), strict=True)
    ]


def _ranked(
    values: pa.Table, fires: np.ndarray, score: np.ndarray, flagged: np.ndarray
) -> pa.Table:
    """The nodes with score, fired signals and flag, highest score first (rank from 1); a
    node without a score (no signal available in its cluster) has no rank and comes last."""
    fired_names = [", ".join(n for n, f in zip(NAMES, row, strict=True) if f) for row in fires]
    unscored = np.isnan(score)
    t = values.append_column("score", pa.array(score, pa.float64(), mask=unscored))
    t = t.append_column("fired", pa.array(fires.sum(axis=1), pa.int64()))
    t = t.append_column("signals", pa.array(fired_names, pa.string()))
    t = t.append_column("flagged", pa.array(flagged, pa.bool_()))
    t = t.sort_by(
        [
            ("score", "descending"),
            ("fired", "descending"),
            ("cluster", "ascending"),
            ("node", "ascending"),
        ]
    )  # a null score sorts last
    unranked = pc.is_null(t["score"]).to_numpy(zero_copy_only=False)
    rank = pa.array(np.arange(1, t.num_rows + 1), pa.int64(), mask=unranked)
    return t.add_column(0, "rank", rank)


def _job_evidence(inputs: Inputs, period: metrics.Period, flagged: ir.Table) -> ir.Table:
    """The failures and exclusions behind the job signals of the flagged nodes."""
    f = charged_failures(inputs)
    f = f.filter(within(f.end_time, period)).semi_join(flagged, list(NODE_KEY))
    failures = f.select(
        *NODE_KEY,
        signal=ibis.cases((f.multi, MULTI), else_=SINGLE),
        job_id=f.job_id,
        attempt=f.attempt.cast("int64"),
        time=f.end_time,
        state=f.state,
        category=f.category,
        check=f.check,
        n_gpus=f.n_gpus.cast("int64"),
        attributed=f.attributed,
    )
    x = exclusions(inputs.jobs, period).semi_join(flagged, list(NODE_KEY))
    excluded = x.select(
        *NODE_KEY,
        signal=ibis.literal(EXCLUDED),
        job_id=x.job_id,
        attempt=ibis.null("int64"),
        time=x.time,
        state=ibis.null("string"),
        category=ibis.null("string"),
        check=ibis.null("string"),
        n_gpus=ibis.null("int64"),
        attributed=ibis.null("boolean"),
    )
    return metrics.union_all(failures, excluded)


def _event_rows(
    t: ir.Table,
    signal: str,
    span: tuple[ir.Value, ir.Value],
    detail: ir.Value,
    records: ir.Value | None = None,
    message: ir.Value | None = None,
) -> ir.Table:
    """Event evidence of ``signal``: node, time span, records (default 1), detail, message."""
    return t.select(
        *NODE_KEY,
        signal=ibis.literal(signal),
        time=span[0],
        end_time=span[1],
        records=ibis.literal(1, "int64") if records is None else records.cast("int64"),
        detail=detail,
        message=ibis.null("string") if message is None else message,
    )


def _event_evidence(
    inputs: Inputs, period: metrics.Period, settings: LemonSettings, flagged: ir.Table
) -> ir.Table:
    """The outages, XID records and tickets behind the event signals of the flagged nodes."""
    o = outages(inputs.events, period, settings.merge_gap_s).semi_join(flagged, list(NODE_KEY))
    more = o.check.concat(" (+", (o.checks - 1).cast("string"), " more)")
    detail = ibis.cases((o.checks > 1, more), else_=o.check)
    parts = [_event_rows(o, OUT, (o.start, o.end), detail, records=o.records)]
    x = xid_records(inputs.events, period).semi_join(flagged, list(NODE_KEY))
    detail = ibis.literal("XID ").concat(x.xid.cast("string"), ": ", x.check)
    parts.append(_event_rows(x, XID, (x.time, x.end_time), detail, message=x.message))
    if inputs.tickets is not None:
        t = tickets_on(inputs.tickets, flagged, period)
        detail = ibis.literal("ticket: ").concat(t.outcome.fill_null("open"))
        parts.append(_event_rows(t, TICKETS, (t.opened, t.closed), detail))
    return metrics.union_all(*parts)


def _matrix(values: pa.Table) -> np.ndarray:
    """Nodes x signals as floats, NaN where a value is null."""
    columns = [values[n].cast(pa.float64()).to_numpy(zero_copy_only=False) for n in NAMES]
    return np.column_stack(columns) if columns else np.empty((0, 0))


def detect_per_cluster(
    values: pa.Table, available: dict[str, str | None], rule: LemonRule
) -> tuple[pa.Table, pa.Table]:
    """The rule applied to each cluster's nodes: thresholds (per cluster and signal), and the
    nodes ranked by score."""
    x = _matrix(values)
    clusters = values["cluster"].to_numpy(zero_copy_only=False)
    fires, score = np.zeros(x.shape, dtype=bool), np.full(len(x), np.nan)
    flagged = np.zeros(len(x), dtype=bool)
    rows: list[dict[str, Any]] = []
    for cluster in sorted(set(clusters)):
        mine = clusters == cluster
        d = detect(x[mine], [s.floor for s in SIGNALS], rule)
        fires[mine], score[mine], flagged[mine] = d.fires, d.score, d.flagged
        rows += _thresholds(cluster, available, d)
    thresholds = pa.Table.from_pylist(rows, schema=THRESHOLDS)
    return thresholds, _ranked(values, fires, score, flagged)


def find_lemons(
    inputs: Inputs, settings: LemonSettings | None = None, data_end: datetime | None = None
) -> Lemons:
    """Signals over the window, each cluster's thresholds and flags, and the flagged nodes'
    evidence; ``data_end``: the end of the data (``window``), where the caller knows it."""
    s = settings or LemonSettings()
    period = window(inputs, s, data_end)
    counts = _input_counts(inputs)
    available = _availability(counts, inputs.tickets is not None)
    values = signals(inputs, period, s, available)
    thresholds, nodes = detect_per_cluster(values, available, s.rule)
    flagged = ibis.memtable(nodes.filter(nodes["flagged"]).select(list(NODE_KEY)))
    jobs, events = fetch_together(
        _job_evidence(inputs, period, flagged), _event_evidence(inputs, period, s, flagged)
    )
    order = [*NODE_KEY, "signal", "time"]
    return Lemons(
        settings=s,
        period=period,
        available=available,
        warnings=_warnings(counts, available),
        thresholds=thresholds,
        nodes=nodes,
        evidence_jobs=sorted_by(jobs, [*order, "job_id", "attempt"]),
        evidence_events=sorted_by(events, [*order, "detail", "end_time", "message"]),
    )


def _what_event(e: dict[str, Any]) -> str:
    return e["detail"] + (f" ({e['records']} records)" if e["records"] > 1 else "")


def _what_job(j: dict[str, Any]) -> str:
    what = f"job {j['job_id']}" + (f"#{j['attempt']}" if j["attempt"] is not None else "")
    if j["state"] is not None:
        what += f" {j['state']} {j['category']}"
        what += "" if j["n_gpus"] is None else f", {j['n_gpus']:,} GPUs"
    return what


def evidence_rows(found: Lemons) -> list[dict[str, Any]]:
    """The flagged nodes' evidence for people, by rank then time: node, signal, time, what."""
    rank = {(r["cluster"], r["node"]): r["rank"] for r in found.flagged.to_pylist()}
    rows = [e | {"what": _what_event(e)} for e in found.evidence_events.to_pylist()]
    rows += [j | {"what": _what_job(j)} for j in found.evidence_jobs.to_pylist()]
    rows.sort(key=lambda r: (rank[(r["cluster"], r["node"])], r["time"], r["signal"]))
    keep = ("cluster", "node", "signal", "time", "what")
    return [{k: r[k] for k in keep} for r in rows]


# --- what to do about them --------------------------------------------------------------------


def _by_cluster(lemons: Lemons) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in lemons.flagged.to_pylist():
        groups.setdefault(row["cluster"], []).append(row)
    return dict(sorted(groups.items()))


def _reason(row: dict[str, Any], thresholds: dict[tuple[str, str], float]) -> str:
    """Why ``row`` is flagged: its score and each fired signal against its cluster's threshold."""
    fired = row["signals"].split(", ") if row["signals"] else []
    parts = [f"{n} {number(row[n])}>={number(thresholds[row['cluster'], n])}" for n in fired]
    return f"gpurel: lemon score {row['score']:.2f}" + (f": {', '.join(parts)}" if parts else "")


@dataclass(frozen=True)
class SlurmLists:
    """One cluster's flagged nodes for Slurm, to be reviewed and run by an operator.

    ``hostlist``: the flagged nodes Slurm can name (``hostlist.slurm_name_problem``), "" if
    none; ``drain``: one ``scontrol update ... state=drain`` per such node, shell-quoted;
    ``not_slurm_names``: the flagged names no Slurm node can have, with why, left out of both.
    """

    hostlist: str
    drain: list[str]
    not_slurm_names: dict[str, str]

    @property
    def exclude_option(self) -> str | None:
        """``--exclude=HOSTLIST`` quoted for a POSIX shell (None without a Slurm name)."""
        return f"--exclude={shlex.quote(self.hostlist)}" if self.hostlist else None


def slurm_lists(lemons: Lemons) -> dict[str, SlurmLists]:
    """Per cluster with flagged nodes: the exclude hostlist and drain commands (never run)."""
    cuts = {(r["cluster"], r["signal"]): r["threshold"] for r in lemons.thresholds.to_pylist()}
    out = {}
    for cluster, rows in _by_cluster(lemons).items():
        hosts, problems = hostlist.compress_slurm_names(r["node"] for r in rows)
        drain = [
            f"scontrol update nodename={shlex.quote(r['node'])} state=drain "
            f"reason={shlex.quote(_reason(r, cuts))}"
            for r in rows
            if r["node"] not in problems
        ]
        out[cluster] = SlurmLists(hosts, drain, problems)
    return out


# --- backtest ---------------------------------------------------------------------------------


@dataclass
class Backtest:
    """What happened after the as-of time on the flagged nodes and on the others.

    ``rates``: per group (flagged, other): nodes, node-days after as-of, outages and node
    failures (counted as the signals count them) with rates per 1000 node-days and exact 95%
    Poisson intervals. ``large_jobs``: attempts of at least ``min_gpus`` GPUs that ran and
    ended after as-of, their infrastructure failures and failure share; the failures charged
    to a flagged node and the failure share without them (what excluding the flagged nodes
    would have saved, everything else unchanged); the attempts that touched a flagged node,
    their failures, and the failure share of the attempts that did not (a noisier check).
    ``truth`` and ``tickets``: precision and recall of the flags against the known lemons, and
    against nodes with a confirmed repair ticket opened after as-of (None without them).
    """

    after: metrics.Period
    rates: pa.Table
    large_jobs: dict[str, Any]
    truth: dict[str, Any] | None
    tickets: dict[str, Any] | None


def precision_recall(flagged: set[Any], actual: set[Any]) -> dict[str, Any]:
    """Precision and recall of ``flagged`` against ``actual`` (null where undefined)."""
    hits = len(flagged & actual)
    return {
        "flagged": len(flagged),
        "actual": len(actual),
        "true_positives": hits,
        "precision": hits / len(flagged) if flagged else None,
        "recall": hits / len(actual) if actual else None,
    }


def _flag_column(t: ir.Table, flagged: ir.Table) -> ir.Table:
    """``t`` with ``flagged``: whether its (cluster, node) is among ``flagged``."""
    marked = flagged.select(f_cluster="cluster", f_node="node", hit=ibis.literal(True))
    j = t.left_join(marked, [t.cluster == marked.f_cluster, t.node == marked.f_node])
    return j.mutate(flagged=j.hit.fill_null(False)).drop("f_cluster", "f_node", "hit")


def _group_rates(
    inputs: Inputs, lemons: Lemons, after: metrics.Period, flagged: ir.Table
) -> pa.Table:
    spans = metrics.node_spans(inputs.jobs, inputs.events, inputs.nodes, after)
    start, end = ibis.literal(after.start), ibis.literal(after.end)
    overlap = seconds_between(ibis.greatest(spans.start, start), ibis.least(spans.end, end))
    exposure = spans.filter(overlap > 0).select(*NODE_KEY, days=overlap / metrics.DAY_S)
    failures = charged_failures(inputs)
    gap = lemons.settings.merge_gap_s
    counts = {
        "outages": outages(inputs.events, after, gap),
        "node_failures": incidents(failures.filter(within(failures.end_time, after)), gap),
    }
    t = _flag_column(exposure, flagged)
    per_group = t.group_by("flagged").aggregate(
        nodes=t.node.nunique(), node_days=metrics.exact_sum(t.days)
    )
    for name, table in counts.items():
        c = _flag_column(table.select(*NODE_KEY), flagged)
        c = c.group_by(c_flagged=c.flagged).aggregate(**{name: c.count()})
        per_group = per_group.left_join(c, per_group.flagged == c.c_flagged).drop("c_flagged")
    rows = per_group.order_by(ibis.desc("flagged")).to_pyarrow().to_pylist()
    measured = {
        "outages": lemons.available[OUT] is None,
        "node_failures": lemons.available[SINGLE] is None,
    }
    return pa.Table.from_pylist([_with_rates(r, measured) for r in rows])


def _with_rates(row: dict[str, Any], measured: dict[str, bool]) -> dict[str, Any]:
    """A group's counts with rates and intervals; null where the count was not measured
    (its signal is absent)."""
    node_days = float(row["node_days"] or 0.0)
    out: dict[str, Any] = {
        "group": "flagged" if row["flagged"] else "other",
        "nodes": row["nodes"],
        "node_days": node_days,
    }
    for name, known in measured.items():
        if not known:
            out |= dict.fromkeys([name, f"{name}_per_1000_node_days", f"{name}_lo", f"{name}_hi"])
            continue
        k = int(row[name] or 0)
        rate, lo, hi = poisson_interval(k, node_days)
        out |= {name: k, f"{name}_per_1000_node_days": rate * 1000}
        out |= {f"{name}_lo": lo * 1000, f"{name}_hi": hi * 1000}
    return out


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _large_jobs(
    inputs: Inputs, after: metrics.Period, flagged: ir.Table, min_gpus: int
) -> dict[str, Any]:
    jobs, key = inputs.jobs, list(JOB_KEY)
    big = jobs.filter(ran(jobs), jobs.n_gpus >= min_gpus, within(jobs.end_time, after))
    on_node = big.select(*JOB_KEY, node=big.nodes).unnest("node")
    touching = big.semi_join(on_node.semi_join(flagged, list(NODE_KEY)), key)
    infra = inputs.failures.filter(metrics.is_infra_failure(inputs.failures))
    on_flagged = charged_failures(inputs).semi_join(flagged, list(NODE_KEY))
    parts = {
        "attempts": big,
        "failures": big.semi_join(infra, key),
        "failures_on_flagged": big.semi_join(on_flagged, key),
        "touching_attempts": touching,
        "touching_failures": touching.semi_join(infra, key),
    }
    counted = [t.aggregate(**{name: t.count()}) for name, t in parts.items()]
    c = {k: int(v or 0) for k, v in metrics.one_row(*counted).items()}
    untouched = c["attempts"] - c["touching_attempts"]
    return {"min_gpus": min_gpus, **c} | {
        "failure_share": _share(c["failures"], c["attempts"]),
        "failure_share_without_flagged": _share(
            c["failures"] - c["failures_on_flagged"], c["attempts"]
        ),
        "untouched_failure_share": _share(c["failures"] - c["touching_failures"], untouched),
    }


def _confirmed_repairs(inputs: Inputs, rated: ir.Table, after: metrics.Period) -> set[Any]:
    assert inputs.tickets is not None
    t = tickets_on(inputs.tickets, rated, after)
    rows = t.filter(t.confirmed.fill_null(False)).select(*NODE_KEY).distinct().to_pyarrow()
    return set(zip(rows["cluster"].to_pylist(), rows["node"].to_pylist(), strict=True))


def backtest(
    inputs: Inputs,
    lemons: Lemons,
    horizon_s: int | None = None,
    large_job_gpus: int = 512,
    truth: set[tuple[str, str]] | None = None,
) -> Backtest:
    """Measure after ``lemons.period.end`` (for ``horizon_s``, default to the data's end)."""
    as_of = lemons.period.end
    end = metrics.analysis_period(inputs.jobs, inputs.events, inputs.nodes).end
    if horizon_s is not None:
        end = min(end, as_of + timedelta(seconds=horizon_s))
    if end <= as_of:
        raise ConfigError(f"backtest: no data after the as-of time {as_of:%Y-%m-%d %H:%M}")
    after = metrics.Period(as_of, end)
    flagged_rows = lemons.flagged.select(list(NODE_KEY))
    flagged = ibis.memtable(flagged_rows)
    flagged_set = set(
        zip(flagged_rows["cluster"].to_pylist(), flagged_rows["node"].to_pylist(), strict=True)
    )
    rated = ibis.memtable(lemons.nodes.select(list(NODE_KEY)))
    repairs = _confirmed_repairs(inputs, rated, after) if inputs.tickets is not None else None
    return Backtest(
        after=after,
        rates=_group_rates(inputs, lemons, after, flagged),
        large_jobs=_large_jobs(inputs, after, flagged, large_job_gpus),
        truth=None if truth is None else precision_recall(flagged_set, truth),
        tickets=None if repairs is None else precision_recall(flagged_set, repairs),
    )


# --- documents --------------------------------------------------------------------------------


def backtest_doc(b: Backtest) -> dict[str, Any]:
    """A backtest as a JSON-ready mapping (tables and times still to convert)."""
    return {
        "after_start": b.after.start,
        "after_end": b.after.end,
        "rates": b.rates,
        "large_jobs": b.large_jobs,
        "truth": b.truth,
        "tickets": b.tickets,
    }


def to_doc(lemons: Lemons, top: int | None = None) -> dict[str, Any]:
    """The detection as a mapping (tables and times still to convert): ``top`` ranked nodes
    and every flagged one (None: every node)."""
    nodes = lemons.nodes
    if top is not None:
        keep = pc.or_(pc.less_equal(nodes["rank"], top), nodes["flagged"])
        nodes = nodes.filter(keep)
    return {
        "settings": asdict(lemons.settings),
        "window_start": lemons.period.start,
        "as_of": lemons.period.end,
        "signals": lemons.thresholds,
        "rated_nodes": lemons.nodes.num_rows,
        "flagged": lemons.flagged.num_rows,
        "nodes": nodes,
        "evidence_jobs": lemons.evidence_jobs,
        "evidence_events": lemons.evidence_events,
        "warnings": lemons.warnings,
        **_slurm_doc(slurm_lists(lemons)),
    }


def _slurm_doc(lists: dict[str, SlurmLists]) -> dict[str, Any]:
    """``exclude`` (hostlists), ``drain`` (commands) and ``not_slurm_names`` per cluster."""
    return {
        "exclude": {c: x.hostlist for c, x in lists.items() if x.hostlist},
        "drain": {c: x.drain for c, x in lists.items() if x.drain},
        "not_slurm_names": {c: x.not_slurm_names for c, x in lists.items() if x.not_slurm_names},
    }
