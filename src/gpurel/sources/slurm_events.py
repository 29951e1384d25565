"""Slurm node history from ``sacctmgr show event -P`` (FORMAT ``slurm-events``).

Input: the pipe-separated output with its header line, the default columns
(``Cluster|NodeName|TimeStart|TimeEnd|State|Reason|User``) or any ``Format=`` choice among
Cluster, ClusterNodes, Duration, End, Event, EventRaw, NodeName, Reason, Start, State,
StateRaw, TRES, User, in any order (``-p``'s trailing ``|`` is fine; a ``|`` inside the
reason is kept). Times are the controller's local time without offset, read in ``options.tz``
(None = this machine's zone); ``TimeEnd`` ``Unknown`` (still open) becomes null. StateRaw is
a version-dependent bitmask and is not decoded.

Rows: one node_events row per node of ``NodeName`` (a hostlist), source ``slurm_event``,
cluster from the row (else ``options.cluster``). Cluster events (``Event`` = Cluster, or no
node name) are not node events: they are rejected with the reason "cluster event, not a node
event", so that nothing is dropped silently.

Classification (shared with ``sinfo-reasons``):

- an NHC reason (``NHC: check_fs_mount:  /scratch not mounted``) gives check = the NHC check
  and message = its message, classified by the check's name (then by the message);
- any other reason gives check = ``slurm_state:<STATE>`` (DOWN, DRAIN, FAIL, ...; DRAINED,
  DRAINING and DRNG read as DRAIN) and message = the reason, classified by the reason text;
- result: ``fail`` in the down/drain/fail states (and when the state is not given), else
  ``warn`` (e.g. MAINT, REBOOT);
- severity: the classification's, except that DOWN and FAIL raise ``low`` to ``high``: the
  node was taken away at once and its jobs were killed, which is what high severity means in
  the paper. ``info`` categories (node not responding, user) stay ``info``: they are not causes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import lru_cache
from pathlib import Path

from gpurel.errors import InputError
from gpurel.hostlist import HostlistError, expand
from gpurel.schema import Severity
from gpurel.sources.base import ReadOptions, ReadResult, RejectSink, read_text
from gpurel.sources.event_rows import (
    CLASSIFIED,
    BadValue,
    Event,
    TextLines,
    classify,
    first_line,
    optional_time,
    parse_time,
    read_result,
    zone,
)
from gpurel.sources.nhc import parse_nhc_reason
from gpurel.taxonomy import Classification, Taxonomy

FORMAT = "slurm-events"
SOURCE = "slurm_event"

_RENAMES = {"nodename": "node", "timestart": "start", "timeend": "end", "eventraw": "event_raw"}
_STATE_NAMES = {"DRAINED": "DRAIN", "DRAINING": "DRAIN", "DRNG": "DRAIN", "FAILG": "FAILING"}
_STATE_ORDER = ("DOWN", "FAIL", "FAILING", "DRAIN", "ERROR", "INVAL")
_REMOVED = frozenset({"DOWN", "FAIL"})
_FAILED = frozenset(_STATE_ORDER)
_CLUSTER_EVENT = "1"  # slurmdb_event_type_t SLURMDB_EVENT_CLUSTER


def header_key(name: str) -> str:
    """A header name compared without case, spaces or underscores (``Time Start``)."""
    return re.sub(r"[\s_]", "", name).lower()


def ends_with(header: str, delimiter: str) -> bool:
    """Whether lines end with the delimiter (``sacctmgr -p``, ``sinfo -o "%N|%E|"``)."""
    return header.rstrip().endswith(delimiter)


def split_fields(
    line: str, delimiter: str, width: int, free: int | None, trailing: bool = False
) -> list[str]:
    """``width`` fields; surplus delimiters belong to the free-text field ``free``."""
    if trailing:
        line = line.rstrip().removesuffix(delimiter)
    parts = line.split(delimiter)
    surplus = len(parts) - width
    if surplus > 0 and free is not None:
        joined = delimiter.join(parts[free : free + surplus + 1])
        parts = [*parts[:free], joined, *parts[free + surplus + 1 :]]
    if len(parts) != width:
        raise BadValue(None, f"expected {width} fields, found {len(parts)}")
    return parts


def state_name(state: str) -> str:
    """The state that matters in a Slurm node state (``IDLE+DRAIN`` -> DRAIN, ``DOWN*`` -> DOWN)."""
    words = [w.strip("*~#!%$@^-") for w in re.split(r"[+\s]", state.upper())]
    names = [_STATE_NAMES.get(w, w) for w in words if w]
    for name in _STATE_ORDER:
        if name in names:
            return name
    return names[0] if names else ""


@dataclass(frozen=True)
class NodeReason:
    """What a node reason in a Slurm node state says: check, class, result and severity."""

    check: str
    message: str | None
    classification: Classification
    result: str
    severity: str

    def event(self, cluster: str, node: str, time: datetime, end: datetime | None) -> Event:
        """The node_events row of this reason on one node."""
        return Event(
            cluster=cluster,
            node=node,
            time=time,
            end_time=end,
            source=SOURCE,
            check=self.check,
            classification=self.classification,
            result=self.result,
            severity=self.severity,
            message=self.message,
        )


@lru_cache(maxsize=CLASSIFIED)
def node_reason(taxonomy: Taxonomy, reason: str, state: str) -> NodeReason:
    """Classify a node's reason text in its Slurm state (see the module docstring);
    remembered, as ``classify`` is."""
    name = state_name(state)
    nhc = parse_nhc_reason(reason)
    if nhc is not None:
        check, message = nhc
    else:
        check, message = (f"slurm_state:{name}" if name else "slurm_reason"), reason
    found = classify(taxonomy, check, message)
    severity = found.severity
    if name in _REMOVED and severity == Severity.LOW:
        severity = Severity.HIGH.value
    result = "fail" if not name or name in _FAILED else "warn"
    return NodeReason(check, message or None, found, result, severity)


def node_names(hostlist: str, field: str) -> tuple[str, ...]:
    """Host names of a Slurm hostlist; a malformed one is a BadValue."""
    names = _expanded(hostlist)
    if isinstance(names, HostlistError):
        raise BadValue(field, str(names)) from names
    return names


@lru_cache(maxsize=CLASSIFIED)
def _expanded(hostlist: str) -> tuple[str, ...] | HostlistError:
    """A hostlist's names, or why it is malformed; remembered, as node events repeat them."""
    try:
        return tuple(expand(hostlist))
    except HostlistError as exc:
        return exc


def sniff(head: str) -> bool:
    """A ``sacctmgr show event -P`` export: a pipe header naming TimeStart."""
    line = first_line(head)
    return "|" in line and "timestart" in {header_key(c) for c in line.split("|")}


def read(path: Path, options: ReadOptions) -> ReadResult:
    """node_events for every node event; cluster events go to the rejects."""
    counted = TextLines(read_text(path))
    lines = iter(counted)
    header = next(lines, None)
    delimiter = options.delimiter or "|"
    if header is None or "start" not in (columns := _columns(header[1], delimiter)):
        raise InputError(str(path), "no sacctmgr header line naming TimeStart")
    sink = RejectSink(str(path))
    events: list[Event] = []
    free = columns.index("reason") if "reason" in columns else None
    trailing = ends_with(header[1], delimiter)
    tz, taxonomy = zone(options.tz), options.taxonomy
    for number, line in lines:
        try:
            parts = split_fields(line, delimiter, len(columns), free, trailing)
            found = _events(dict(zip(columns, parts, strict=True)), options, tz, taxonomy)
        except BadValue as exc:
            sink.add(number, exc.field, exc.reason, line)
            continue
        events.extend(found)
        counted.expand(len(found))
    counted.skip()  # the header
    return read_result(FORMAT, events, sink, counted)


def _columns(header: str, delimiter: str) -> list[str]:
    names = header.rstrip().removesuffix(delimiter).split(delimiter)
    return [_RENAMES.get(header_key(c), header_key(c)) for c in names]


def _events(
    record: dict[str, str], options: ReadOptions, tz: tzinfo | None, taxonomy: Taxonomy
) -> list[Event]:
    node = record.get("node", "").strip()
    event_type = record.get("event", "").strip().lower()
    if not node or event_type == "cluster" or record.get("event_raw") == _CLUSTER_EVENT:
        raise BadValue("NodeName", "cluster event, not a node event")
    start = parse_time(record["start"], tz, "TimeStart")
    end = optional_time(record.get("end"), tz, "TimeEnd")
    reason = node_reason(taxonomy, record.get("reason", "").strip(), record.get("state", ""))
    cluster = record.get("cluster", "").strip() or options.cluster
    return [reason.event(cluster, name, start, end) for name in node_names(node, "NodeName")]
