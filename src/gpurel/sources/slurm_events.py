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

Reading: the file is cut into blocks of lines (``line_blocks``) read in parallel. Arrow's CSV
parser splits the lines of the header's width, and their columns are converted whole: times
by ``event_columns``, each distinct hostlist, event type, cluster and reason with its state
once. The lines it cannot split so (a ``|`` in the reason, a field missing, a blank line) are
read one by one. Rows and rejects are those of reading each line on its own, in file order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gpurel import schema
from gpurel.errors import InputError
from gpurel.hostlist import HostlistError, expand
from gpurel.schema import Severity
from gpurel.sources.base import ReadOptions, ReadResult, RejectSink, combined
from gpurel.sources.event_columns import (
    Converted,
    distinct_rows,
    each_distinct,
    spread,
    times,
)
from gpurel.sources.event_rows import (
    CLASSIFIED,
    BadValue,
    Event,
    classify,
    first_line,
    node_events,
    optional_time,
    parse_time,
    zone,
)
from gpurel.sources.line_blocks import (
    WORKERS,
    Block,
    after_header,
    blocks,
    delimited_fields,
    in_order,
    text_start,
)
from gpurel.sources.nhc import parse_nhc_reason
from gpurel.sources.slurm_values import resolve_zone
from gpurel.taxonomy import Classification, Taxonomy

FORMAT = "slurm-events"
SOURCE = "slurm_event"

_RENAMES = {"nodename": "node", "timestart": "start", "timeend": "end", "eventraw": "event_raw"}
_STATE_NAMES = {"DRAINED": "DRAIN", "DRAINING": "DRAIN", "DRNG": "DRAIN", "FAILG": "FAILING"}
_STATE_ORDER = ("DOWN", "FAIL", "FAILING", "DRAIN", "ERROR", "INVAL")
_REMOVED = frozenset({"DOWN", "FAIL"})
_FAILED = frozenset(_STATE_ORDER)
_CLUSTER_EVENT = "1"  # slurmdb_event_type_t SLURMDB_EVENT_CLUSTER
_NOT_NODE = BadValue("NodeName", "cluster event, not a node event")
_ROLES = ("node", "event", "event_raw", "start", "end", "reason", "state", "cluster")
Reject = tuple[int, str | None, str, str]  # 0-based line in its block, field, reason, text


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
    return combined(FORMAT, read_batches(path, options))


def read_batches(path: Path, options: ReadOptions) -> Iterator[ReadResult]:
    """``read`` block by block (about BLOCK_BYTES each), in file order."""
    layout, parts = _layout(path, options)
    offset = 0  # lines before the block
    with ThreadPoolExecutor(WORKERS) as pool:
        for lines, rows in in_order(pool, partial(_read_block, layout), parts):
            sink = RejectSink(str(path))
            for index, field, reason, raw in rows.rejects:
                sink.add(offset + index + 1, field, reason, raw)
            offset += lines
            tables = {"node_events": rows.events}
            yield ReadResult(FORMAT, tables, sink.table(), lines, rows.skipped, rows.expanded)


@dataclass(frozen=True)
class _Layout:
    """How the lines of one file are read."""

    path: Path
    columns: list[str]  # canonical names of the header's fields
    delimiter: str
    trailing: bool  # lines end with the delimiter
    options: ReadOptions

    @property
    def roles(self) -> dict[str, int]:
        """The field each role is read from: the last of its name, as in a dict of the line."""
        return {name: i for i, name in enumerate(self.columns) if name in _ROLES}


@dataclass(frozen=True)
class _Rows:
    """What lines of a block became: node_events, the 0-based line of each row, rejects,
    and the counts of ReadResult."""

    events: pa.Table
    lines: np.ndarray
    rejects: list[Reject]
    skipped: int = 0
    expanded: int = 0


def _layout(path: Path, options: ReadOptions) -> tuple[_Layout, Iterator[tuple[Block, int]]]:
    """The layout of the header (the first non-blank line), and the file's blocks, each
    with the number of lines at its start that hold no record."""
    pieces = blocks(path, text_start(path), header=False, bytes_read=options.bytes_read)
    found = after_header(pieces, partial(_first_content, path))
    delimiter = options.delimiter or "|"
    if found is not None and "start" in (columns := _columns(found[0], delimiter)):
        header, parts = found
        return _Layout(path, columns, delimiter, ends_with(header, delimiter), options), parts
    raise InputError(str(path), "no sacctmgr header line naming TimeStart")


def _first_content(path: Path, block: Block) -> tuple[int, str] | None:
    """The number of lines up to the block's first non-blank line, and that line, if any."""
    block.check_utf8(path)
    for index in range(block.size):
        text = block.line(index)
        if text.strip():
            return index + 1, text
    return None


def _columns(header: str, delimiter: str) -> list[str]:
    names = header.rstrip().removesuffix(delimiter).split(delimiter)
    return [_RENAMES.get(header_key(c), header_key(c)) for c in names]


def _read_block(layout: _Layout, part: tuple[Block, int]) -> tuple[int, _Rows]:
    """The number of lines of one block, and what they became (after ``lead`` lines)."""
    block, lead = part
    block.check_utf8(layout.path)
    fields, lines, odd = _split(layout, block)
    after = lines >= lead
    record = after & (block.lengths[lines] > 0)  # an empty line comes out as a row
    chosen = pa.array(record)
    fast = _converted(
        layout, block, {r: v.filter(chosen) for r, v in fields.items()}, lines[record]
    )
    slow = _one_by_one(layout, block, odd[odd >= lead].tolist())
    blank = int(np.count_nonzero(after & ~record))
    return block.size, _merged(fast, slow, lead + blank)


def _split(layout: _Layout, block: Block) -> tuple[dict[str, pa.Array], np.ndarray, np.ndarray]:
    """The role fields of the lines Arrow's CSV parser splits as ``split_fields`` would,
    their 0-based lines, and the other lines (to be split one by one)."""
    width = len(layout.columns) + layout.trailing
    used = sorted({*layout.roles.values(), width - 1})
    found = None
    if width >= 2 and not layout.delimiter.isspace():  # else a blank line could be a row
        found = delimited_fields(block, layout.delimiter, width, used)
    if found is None:
        empty = pa.array([], pa.string())
        return dict.fromkeys(layout.roles, empty), np.zeros(0, np.int64), np.arange(block.size)
    table, odd = found
    lines = np.delete(np.arange(block.size), odd)
    fields = {role: table[i] for role, i in layout.roles.items()}
    if layout.trailing:  # the field after the last delimiter must be empty
        extra = pc.not_equal(table[width - 1], "")
        filled = np.asarray(extra.to_numpy(zero_copy_only=False), bool)
        if filled.any():
            fields = {role: values.filter(pa.array(~filled)) for role, values in fields.items()}
            lines, odd = lines[~filled], np.sort(np.concatenate([odd, lines[filled]]))
    return fields, lines, odd


def _converted(
    layout: _Layout, block: Block, fields: dict[str, pa.Array], lines: np.ndarray
) -> _Rows:
    """The rows of split lines, converted a column at a time, and the rejects of ``_events``."""
    options = layout.options
    blank = pa.repeat(pa.scalar("", pa.string()), len(lines))
    names, unnamed, malformed = _hostlists(fields.get("node", blank))
    clustered = each_distinct(fields.get("event", blank), _is_cluster, pa.bool_())[0]
    if "event_raw" in fields:
        clustered = pc.or_(clustered, pc.equal(fields["event_raw"], _CLUSTER_EVENT))
    not_node = np.flatnonzero(unnamed | clustered.to_numpy(zero_copy_only=False)).tolist()
    (start, bad_start), (end, bad_end) = _times(options, fields, len(lines))
    # in the order _events finds them: the first problem of a line is its reject
    checks = [dict.fromkeys(not_node, _NOT_NODE), bad_start, bad_end, malformed]
    rejects: list[Reject] = []
    keep = np.ones(len(lines), bool)
    for row in sorted(set().union(*checks)):
        problem = next(check[row] for check in checks if row in check)
        rejects.append((int(lines[row]), problem.field, problem.reason, block.line(lines[row])))
        keep[row] = False
    per_line = {
        "cluster": each_distinct(
            fields.get("cluster", blank), partial(_cluster, options.cluster), pa.string()
        )[0],
        "time": start,
        "end_time": end,
        **_reasons(options.taxonomy, fields.get("reason", blank), fields.get("state", blank)),
    }
    kept = np.flatnonzero(keep)
    lists = names.take(pa.array(kept))  # each kept line's node names
    rows = kept[pc.list_parent_indices(lists).to_numpy()]  # the row of each node
    if not np.array_equal(rows, np.arange(len(lines))):  # lines rejected, or of several nodes
        per_line = {name: values.take(pa.array(rows)) for name, values in per_line.items()}
    table = pa.table({**per_line, "node": pc.list_flatten(lists)})
    table = table.append_column("source", pa.repeat(pa.scalar(SOURCE), table.num_rows))
    expanded = table.num_rows - len(kept)
    return _Rows(schema.conform("node_events", table), lines[rows], rejects, expanded=expanded)


def _times(options: ReadOptions, fields: dict[str, pa.Array], count: int) -> list[Converted]:
    """TimeStart and TimeEnd (null when the file has none) of each line, and their BadValues."""
    tz, zone_name = zone(options.tz), resolve_zone(options.tz)
    start = times(fields["start"], zone_name, partial(_start, tz))
    if "end" not in fields:
        return [start, (pa.nulls(count, schema.TIME), {})]
    return [start, times(fields["end"], zone_name, partial(_end, tz))]


def _hostlists(values: pa.Array) -> tuple[pa.Array, np.ndarray, dict[int, BadValue]]:
    """Each NodeName's hosts (null when blank or malformed), which are blank, and the
    BadValue of the malformed ones; each distinct NodeName expanded once."""
    encoded = values.dictionary_encode()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    found: list[tuple[str, ...] | BadValue | None] = []
    for text in encoded.dictionary.to_pylist():
        stripped = text.strip()
        try:
            found.append(node_names(stripped, "NodeName") if stripped else None)
        except BadValue as exc:
            found.append(exc)
    lists = [names if isinstance(names, tuple) else None for names in found]
    unnamed = np.array([names is None for names in found], bool)[codes]
    problems = {code: names for code, names in enumerate(found) if isinstance(names, BadValue)}
    bad_rows = np.flatnonzero(np.isin(codes, list(problems))).tolist()
    malformed = {row: problems[int(codes[row])] for row in bad_rows}
    return pa.array(lists, pa.list_(pa.string())).take(codes), unnamed, malformed


def _reasons(taxonomy: Taxonomy, reason: pa.Array, state: pa.Array) -> dict[str, pa.Array]:
    """check, message, category, domain, severity and result of each line's reason in its
    state (``node_reason``), once per distinct pair."""
    pairs, rows = distinct_rows([reason, state])
    said = [node_reason(taxonomy, text.strip(), name) for text, name in pairs]
    text = pa.string()
    return {
        "check": spread([r.check for r in said], text, rows),
        "message": spread([r.message for r in said], text, rows),
        "category": spread([r.classification.category for r in said], text, rows),
        "domain": spread([r.classification.domain for r in said], text, rows),
        "severity": spread([r.severity for r in said], text, rows),
        "result": spread([r.result for r in said], text, rows),
    }


def _is_cluster(event: str | None) -> bool:
    return (event or "").strip().lower() == "cluster"


def _start(tz: tzinfo, text: str | None) -> datetime:
    return parse_time(text or "", tz, "TimeStart")


def _end(tz: tzinfo, text: str | None) -> datetime | None:
    return optional_time(text, tz, "TimeEnd")


def _cluster(default: str, text: str | None) -> str:
    return (text or "").strip() or default


def _one_by_one(layout: _Layout, block: Block, lines: list[int]) -> _Rows:
    """The rows of lines split one at a time; blank lines are skipped."""
    events: list[Event] = []
    rows: list[int] = []
    rejects: list[Reject] = []
    skipped = expanded = 0
    columns = layout.columns
    width, free = len(columns), columns.index("reason") if "reason" in columns else None
    tz = zone(layout.options.tz)
    for index in lines:
        line = block.line(index)
        if not line.strip():
            skipped += 1
            continue
        try:
            parts = split_fields(line, layout.delimiter, width, free, layout.trailing)
            found = _events(dict(zip(layout.columns, parts, strict=True)), layout.options, tz)
        except BadValue as exc:
            rejects.append((index, exc.field, exc.reason, line))
            continue
        events.extend(found)
        rows.extend([index] * len(found))
        expanded += len(found) - 1
    return _Rows(node_events(events), np.array(rows, np.int64), rejects, skipped, expanded)


def _merged(fast: _Rows, slow: _Rows, skipped: int) -> _Rows:
    """The rows of both in line order, with ``skipped`` more lines skipped."""
    events, lines = fast.events, fast.lines
    if slow.events.num_rows:
        lines = np.concatenate([fast.lines, slow.lines])
        order = pa.array(np.argsort(lines, kind="stable"))
        events = pa.concat_tables([fast.events, slow.events]).take(order)
    rejects = sorted(fast.rejects + slow.rejects, key=lambda reject: reject[0])
    counted = skipped + fast.skipped + slow.skipped
    return _Rows(events, lines, rejects, counted, fast.expanded + slow.expanded)


def _events(record: dict[str, str], options: ReadOptions, tz: tzinfo | None) -> list[Event]:
    """The rows of one line's fields."""
    node = record.get("node", "").strip()
    event_type = record.get("event", "").strip().lower()
    if not node or event_type == "cluster" or record.get("event_raw") == _CLUSTER_EVENT:
        raise _NOT_NODE
    start = parse_time(record["start"], tz, "TimeStart")
    end = optional_time(record.get("end"), tz, "TimeEnd")
    state = record.get("state", "")
    reason = node_reason(options.taxonomy, record.get("reason", "").strip(), state)
    cluster = record.get("cluster", "").strip() or options.cluster
    return [reason.event(cluster, name, start, end) for name in node_names(node, "NodeName")]
