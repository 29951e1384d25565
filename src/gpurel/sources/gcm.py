"""Meta GCM health-check records (FORMAT ``gcm``).

Input: JSON lines written by GCM's health-check telemetry (github.com/facebookresearch/gcm,
``gcm/schemas/health_check/log.py`` HealthCheckLog): ``node``, ``cluster``,
``derived_cluster``, ``health_check`` (a HealthCheckName value such as ``check pci`` or
``nvidia smi row_remap``), ``type`` (prolog, epilog, nagios, app), ``result`` (ExitCode),
``_msg``, ``job_id`` (0 = none), ``start_time`` and ``end_time`` (``time.time()`` epoch
seconds; ISO-8601 is accepted too, naive = ``options.tz``). A line holds one record, a JSON
list of records (GCM's stdout sink) or a Scuba message ``{"int": {...}, "double": {...},
"normal": {...}, "tags": {...}}`` (GCM's file sink), whose groups are merged.

Rows: time = ``start_time`` (``end_time`` when the start is missing or 0), end_time =
``end_time`` (the check's run), check = ``health_check``, message = ``_msg``, job_id kept
unless 0, cluster from the record else ``options.cluster``, source ``gcm``.

Result: 0 OK -> ``ok``, 1 WARN -> ``warn``, 2 CRITICAL -> ``fail``, 3 UNKNOWN -> ``warn``:
UNKNOWN means the check could not run or decide (GCM's default exit code when a check dies),
which is a sign of trouble on the node but never a failing check, so it cannot attribute a
job failure. The words ok/warn/critical/unknown are accepted too.

XIDs: GCM's ``xid errors`` check names what it found in its message (``XID error: 79, XID
causes: ...``, ``non-critical XID error: 13, ...``); the first critical XID (else the first)
fills the ``xid`` column and classifies the row by that XID. Other rows are classified by the
check's name, then by the message.

Reading: the file is cut at newlines into blocks of about 16 MiB, read in parallel on a thread
pool. A block of plain records is converted whole by ``gcm_columns``; any other block (lists,
Scuba messages, ISO times, rejects...) is read line by line, with the same rows as a result.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import tzinfo
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from gpurel import schema
from gpurel.sources.base import ReadOptions, ReadResult, RejectSink, combined, read_text
from gpurel.sources.event_rows import (
    BadValue,
    Event,
    TextLines,
    classify,
    first_line,
    json_lines,
    optional_time,
    parse_result,
    read_result,
    scalar_text,
    zone,
)
from gpurel.sources.gcm_columns import node_events
from gpurel.sources.line_blocks import WORKERS, Block, blocks, in_order
from gpurel.taxonomy import Classification, Taxonomy

FORMAT = "gcm"
SOURCE = "gcm"

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
    work = partial(_read_block, path, options, zone(options.tz))
    line = 0  # lines before the block
    parts = 0
    with ThreadPoolExecutor(WORKERS) as pool:
        for result in in_order(pool, work, blocks(path, 0, header=False)):
            rejects = result.rejects
            position = rejects.schema.get_field_index("line")
            result.rejects = rejects.set_column(position, "line", pc.add(rejects["line"], line))
            line += result.lines
            parts += 1
            yield result
    if not parts:
        yield _read_lines("", options, str(path), None)


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


def _read_block(path: Path, options: ReadOptions, tz: tzinfo | None, block: Block) -> ReadResult:
    """The rows of one block, with rejects numbered from its start."""
    try:
        text = block.data.decode("utf-8")
    except UnicodeDecodeError:
        read_text(path)  # raises the InputError naming the first bad byte of the file
        raise
    describe = partial(_describe, options.taxonomy)
    events = node_events(block.data, options.cluster, describe, SOURCE)
    if events is None:
        return _read_lines(text, options, str(path), tz)
    rows = events.num_rows  # one per line: the block conversion takes no other block
    return ReadResult(FORMAT, {"node_events": events}, schema.empty("rejects"), rows)


def _read_slow(path: Path, options: ReadOptions) -> ReadResult:
    """``read`` line by line in Python: what the block conversion must equal."""
    return _read_lines(read_text(path), options, str(path), zone(options.tz))


def _read_lines(text: str, options: ReadOptions, source: str, tz: tzinfo | None) -> ReadResult:
    """node_events of JSON lines, one record at a time; naive ISO times are local in ``tz``."""
    sink = RejectSink(source)
    events: list[Event] = []
    taxonomy = options.taxonomy
    lines = TextLines(text)
    for number, line, value in json_lines(lines, sink):
        records = value if isinstance(value, list) else [value]
        try:
            if not records:
                raise BadValue(None, "an empty list holds no health-check record")
            found = [_event(_flatten(record), options, tz, taxonomy) for record in records]
        except BadValue as exc:
            sink.add(number, exc.field, exc.reason, line)
            continue
        events.extend(found)
        lines.expand(len(found))
    return read_result(FORMAT, events, sink, lines)


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


def _required(record: dict[str, Any], key: str) -> str:
    value = (scalar_text(record, key) or "").strip()
    if not value:
        raise BadValue(key, f"missing {key}")
    return value


def _event(record: dict[str, Any], options: ReadOptions, tz: tzinfo | None, tax: Taxonomy) -> Event:
    node, check = _required(record, "node"), _required(record, "health_check")
    result = parse_result(_required(record, "result"))
    start = optional_time(_nonzero(record, "start_time"), tz, "start_time")
    end = optional_time(_nonzero(record, "end_time"), tz, "end_time")
    time = start or end
    if time is None:
        raise BadValue("start_time", "neither start_time nor end_time")
    message = scalar_text(record, "_msg") or None
    classification, xid = _describe(tax, check, message)
    job_id = scalar_text(record, "job_id")
    return Event(
        cluster=(scalar_text(record, "cluster") or "").strip() or options.cluster,
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


def _nonzero(record: dict[str, Any], key: str) -> str | None:
    value = scalar_text(record, key)
    return None if value is not None and value.strip() in ("0", "0.0") else value


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
