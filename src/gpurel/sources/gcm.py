"""Meta GCM health-check records (FORMAT ``gcm``).

Input: JSON lines written by GCM's health-check telemetry (github.com/facebookresearch/gcm,
``gcm/schemas/health_check/log.py`` HealthCheckLog): ``node``, ``cluster``,
``derived_cluster``, ``health_check`` (a HealthCheckName value such as ``check pci`` or
``nvidia smi row_remap``), ``type`` (prolog, epilog, nagios, app), ``result`` (ExitCode),
``_msg``, ``job_id`` (0 = none), ``start_time`` and ``end_time`` (``time.time()`` epoch
seconds; ISO-8601 is accepted too, naive = ``options.tz``). A line holds one record, a JSON
list of records (GCM's stdout sink) or a Scuba message ``{"int": {...}, "double": {...},
"normal": {...}, "tags": {...}}`` (GCM's file sink), whose groups are merged.

Other health-check JSON lines are read too: each field under GCM's name first, then under
its common spellings (``event_fields.GCM_FIELDS``): time as ``time``, ``timestamp``, ``ts``,
``@timestamp`` or ``datetime``; node as ``host``, ``hostname`` or ``nodename``; check as
``check``, ``name`` or ``test``; result as ``status`` or ``state``; message as ``message``,
``msg`` or ``detail``; and any key by ``options.field_map`` (``--map check=probe``). The
result notes the keys read under another name.

Rows: time = ``start_time`` (``end_time`` when the start is missing or 0), end_time =
``end_time`` (the check's run), check = ``health_check``, message = ``_msg``, job_id kept
unless 0, cluster from the record else ``options.cluster``, source ``gcm``.

Result: 0 OK -> ``ok``, 1 WARN -> ``warn``, 2 CRITICAL -> ``fail``, 3 UNKNOWN -> ``warn``:
UNKNOWN means the check could not run or decide (GCM's default exit code when a check dies),
which is a sign of trouble on the node but never a failing check, so it cannot attribute a
job failure. The words ok/pass/warn/fail/error/critical/unknown are accepted too, and the
booleans true (passed) ``ok`` and false ``fail``.

XIDs: GCM's ``xid errors`` check names what it found in its message (``XID error: 79, XID
causes: ...``, ``non-critical XID error: 13, ...``); the first critical XID (else the first)
fills the ``xid`` column and classifies the row by that XID. Other rows are classified by the
check's name, then by the message.

Reading: the file is cut at newlines into blocks of about 16 MiB, read in parallel on a thread
pool. A block of plain records under the names read first is converted whole by
``gcm_columns``; any other block (lists, Scuba messages, ISO times, other spellings,
rejects...) is read line by line, with the same rows as a result.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import tzinfo
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from gpurel import schema
from gpurel.sources.base import ReadOptions, ReadResult, RejectSink, combined, read_text
from gpurel.sources.event_fields import GCM_FIELDS, FieldNames, parse_status
from gpurel.sources.event_rows import (
    BadValue,
    Event,
    TextLines,
    classify,
    first_line,
    json_lines,
    optional_time,
    read_result,
    scalar_text,
    zone,
)
from gpurel.sources.gcm_columns import node_events
from gpurel.sources.line_blocks import WORKERS, Block, blocks, in_order
from gpurel.taxonomy import Classification, Taxonomy

FORMAT = "gcm"
SOURCE = "gcm"

NAMES = FieldNames(GCM_FIELDS)
# GCM's own key of each field, as gcm_columns reads them
_GCM_KEYS = {name[0]: field for field, name in GCM_FIELDS.items()}
_SCUBA_GROUPS = ("normal", "int", "double")
_SCUBA_KEYS = frozenset({*_SCUBA_GROUPS, "tags"})
_XID = re.compile(r"(?P<minor>non-critical )?XID error: (?P<code>\d{1,9})\b", re.IGNORECASE)


def sniff(head: str) -> bool:
    """GCM health-check JSON lines: the first line is JSON naming ``health_check``."""
    line = first_line(head)
    return line[:1] in ("{", "[") and '"health_check"' in line


def read(path: Path, options: ReadOptions) -> ReadResult:
    """node_events for every health-check record (ok, warn and fail alike)."""
    return combined(FORMAT, read_batches(path, options))


def read_batches(path: Path, options: ReadOptions) -> Iterator[ReadResult]:
    """``read`` block by block, in file order; at least one part comes out, maybe empty."""
    _check_head(path)
    work = partial(_read_block, path, options, zone(options.tz), NAMES.mapped(options.field_map))
    line = 0  # lines before the block
    parts = 0
    with ThreadPoolExecutor(WORKERS) as pool:
        parts_read = blocks(path, 0, header=False, bytes_read=options.bytes_read)
        for result in in_order(pool, work, enumerate(parts_read)):
            rejects = result.rejects
            position = rejects.schema.get_field_index("line")
            result.rejects = rejects.set_column(position, "line", pc.add(rejects["line"], line))
            line += result.lines
            parts += 1
            yield result
    if not parts:
        yield _read_lines("", options, str(path), None, NAMES)


def _check_head(path: Path) -> None:
    """The InputError of base.read_text for a file it cannot read or with NUL bytes in its
    first 64 KiB, where it looks for them."""
    try:
        with path.open("rb") as handle:
            binary = b"\x00" in handle.read(65536)
    except OSError:
        binary = True
    if binary:
        read_text(path)


def _read_block(
    path: Path,
    options: ReadOptions,
    tz: tzinfo | None,
    names: FieldNames,
    numbered: tuple[int, Block],
) -> ReadResult:
    """The rows of the file's block number n, with rejects numbered from its start."""
    n, block = numbered
    try:
        text = block.data.decode("utf-8")
    except UnicodeDecodeError:
        read_text(path)  # raises the InputError naming the first bad byte of the file
        raise
    describe = partial(_describe, options.taxonomy)
    keys = {gcm: names.names[field] for gcm, field in _GCM_KEYS.items()}
    events = node_events(block.data, options.cluster, describe, SOURCE, keys)
    if events is None:
        # only the file's first block may start with a byte-order mark to drop
        return _read_lines(text if n == 0 else "\ufeff" + text, options, str(path), tz, names)
    rows = events.num_rows  # one per line: the block conversion takes no other block
    result = ReadResult(FORMAT, {"node_events": events}, schema.empty("rejects"), rows)
    return _noted(result, names, dict(names.given))


def _read_slow(path: Path, options: ReadOptions) -> ReadResult:
    """``read`` line by line in Python: what the block conversion must equal."""
    names = NAMES.mapped(options.field_map)
    return _read_lines(read_text(path), options, str(path), zone(options.tz), names)


def _read_lines(
    text: str, options: ReadOptions, source: str, tz: tzinfo | None, names: FieldNames
) -> ReadResult:
    """node_events of JSON lines, one record at a time; naive ISO times are local in ``tz``."""
    sink = RejectSink(source)
    events: list[Event] = []
    keys = _Keys(names)
    lines = TextLines(text)
    for number, line, value in json_lines(lines, sink):
        records = value if isinstance(value, list) else [value]
        try:
            if not records:
                raise BadValue(None, "an empty list holds no health-check record")
            found = [_event(keys.of(_flatten(r)), options, tz, options.taxonomy) for r in records]
        except BadValue as exc:
            sink.add(number, exc.field, exc.reason, line)
            continue
        events.extend(found)
        lines.expand(len(found))
    return _noted(read_result(FORMAT, events, sink, lines), names, keys.found)


def _noted(result: ReadResult, names: FieldNames, found: Mapping[str, str]) -> ReadResult:
    note = names.renamed(found)
    return replace(result, notes=(note,)) if note else result


@dataclass
class _Keys:
    """Which key holds each field, per set of keys a record has; and every key read."""

    names: FieldNames
    found: dict[str, str] = field(default_factory=dict)
    _columns: dict[tuple[str, ...], dict[str, str]] = field(default_factory=dict)

    def of(self, record: dict[str, Any]) -> _Record:
        keys = tuple(record)
        columns = self._columns.get(keys)
        if columns is None:
            columns = self._columns[keys] = self.names.columns(keys)
            self.found.update(columns)
        return _Record(record, columns, self.names)


@dataclass(frozen=True)
class _Record:
    """A record's values by canonical field."""

    values: dict[str, Any]
    columns: dict[str, str]
    names: FieldNames

    def text(self, field: str) -> str | None:
        """The field's value as text (None when absent or null); a boolean result is text."""
        key = self.columns.get(field)
        if key is None:
            return None
        value = self.values[key]
        if field == "result" and isinstance(value, bool):
            return "true" if value else "false"
        return scalar_text(self.values, key)

    def key(self, field: str) -> str:
        """The key the field was read from, else its first name."""
        return self.columns.get(field) or self.names.names[field][0]

    def required(self, field: str) -> str:
        value = (self.text(field) or "").strip()
        if not value:
            raise BadValue(self.key(field), f"missing {self.names.accepted(field)}")
        return value

    def nonzero(self, field: str) -> str | None:
        value = self.text(field)
        return None if value is not None and value.strip() in ("0", "0.0") else value


def _flatten(record: Any) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise BadValue(None, f"expected a JSON object, got {type(record).__name__}")
    if record and set(record) <= _SCUBA_KEYS:
        merged: dict[str, Any] = {}
        for group in _SCUBA_GROUPS:
            values = record.get(group) or {}
            if not isinstance(values, dict):
                raise BadValue(group, "a Scuba group must be a JSON object")
            merged.update(values)
        return merged
    return record


def _event(record: _Record, options: ReadOptions, tz: tzinfo | None, tax: Taxonomy) -> Event:
    node, check = record.required("node"), record.required("check")
    result = parse_status(record.required("result"))
    start = optional_time(record.nonzero("time"), tz, record.key("time"))
    end = optional_time(record.nonzero("end_time"), tz, record.key("end_time"))
    time = start or end
    if time is None:
        when = record.names.accepted("time")
        raise BadValue(record.key("time"), f"no time: neither {when} nor end_time")
    message = record.text("message") or None
    classification, xid = _describe(tax, check, message)
    job_id = record.text("job_id")
    return Event(
        cluster=(record.text("cluster") or "").strip() or options.cluster,
        node=node,
        time=time,
        end_time=end if start else None,
        source=SOURCE,
        check=check,
        classification=classification,
        result=result,
        xid=xid,
        job_id=None if job_id in (None, "", "0") else job_id,
        message=message,
    )


def _xid_in(message: str) -> int | None:
    found = list(_XID.finditer(message))
    if not found:
        return None
    critical = [m for m in found if not m["minor"]]
    return int((critical or found)[0]["code"])


def _describe(
    taxonomy: Taxonomy, check: str, message: str | None
) -> tuple[Classification, int | None]:
    """The row's classification and XID: by the XID its message names, else by the check."""
    xid = _xid_in(message or "")
    found = taxonomy.classify_xid(xid) if xid is not None else classify(taxonomy, check, message)
    return found, xid
