"""Plain node events anyone can write (FORMATs ``events-csv`` and ``events-jsonl``).

Input: a CSV file with a header line, or JSON lines with the same keys. Required: ``time``,
``node``, ``check``, ``result``; optional: ``message``, ``cluster``, ``end_time``,
``severity`` (high/low/info, overrides the taxonomy's), ``job_id``, ``xid``; other columns are
ignored. Times are ISO-8601 (with an offset, or without one = local time in ``options.tz``) or
epoch seconds. ``result`` is fail/warn/ok, with the synonyms failed/failure/critical/error,
warning/unknown and pass/passed/success/healthy, or the Nagios codes 0 ok, 1 warn, 2 fail and
3 (unknown) warn.

Rows: one node_events row per record, source ``events``, cluster from the record else
``options.cluster``. Classification: by the XID when ``xid`` is given, else by the check's
name, then by the message.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import tzinfo
from pathlib import Path

from gpurel.errors import InputError
from gpurel.schema import Severity
from gpurel.sources.base import Reader, ReadOptions, ReadResult, RejectSink, read_text
from gpurel.sources.event_rows import (
    BadValue,
    Event,
    LineCount,
    TextLines,
    classify,
    first_line,
    json_lines,
    optional_time,
    parse_result,
    parse_time,
    parse_xid,
    read_result,
    scalar_text,
    zone,
)
from gpurel.taxonomy import Taxonomy

SOURCE = "events"
REQUIRED = ("time", "node", "check", "result")
OPTIONAL = ("message", "cluster", "end_time", "severity", "job_id", "xid")

_KEYS = frozenset(REQUIRED + OPTIONAL)
_JSON_KEY = re.compile(r'"(time|node|check)"\s*:')


def sniff_csv(head: str) -> bool:
    """A CSV header naming time, node, check and result."""
    names = {name.strip().lower() for name in first_line(head).split(",")}
    return set(REQUIRED) <= names


def sniff_jsonl(head: str) -> bool:
    """JSON lines whose first object has time, node and check keys."""
    line = first_line(head)
    return line.startswith("{") and len(set(_JSON_KEY.findall(line))) == 3


def read_csv(path: Path, options: ReadOptions) -> ReadResult:
    """node_events from a CSV file with a header line (its lines counted as CSV rows)."""
    sink = RejectSink(str(path))
    rows = LineCount()
    records = _csv_records(path, read_text(path).lstrip("\ufeff"), rows)
    return read_result(CSV.name, _events(records, options, sink), sink, rows)


def read_jsonl(path: Path, options: ReadOptions) -> ReadResult:
    """node_events from JSON lines."""
    sink = RejectSink(str(path))
    lines = TextLines(read_text(path))
    records = _json_records(json_lines(lines, sink))
    return read_result(JSONL.name, _events(records, options, sink), sink, lines)


CSV = Reader("events-csv", sniff_csv, read_csv)
JSONL = Reader("events-jsonl", sniff_jsonl, read_jsonl)
READERS = (CSV, JSONL)

# (line, raw text, values by key, or why the record cannot be read)
Record = tuple[int, str, dict[str, str | None] | BadValue]


def _csv_records(path: Path, text: str, count: LineCount) -> Iterator[Record]:
    rows = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    try:
        for row in rows:
            count.total += 1
            if not any(cell.strip() for cell in row):
                count.skip()
                continue
            if header is None:
                header = [name.strip().lower() for name in row]
                _check_header(path, header)
                count.skip()
                continue
            if len(row) != len(header):
                problem = BadValue(None, f"expected {len(header)} columns, found {len(row)}")
                yield rows.line_num, ",".join(row), problem
            else:
                yield rows.line_num, ",".join(row), dict(zip(header, row, strict=True))
    except csv.Error as exc:
        raise InputError(str(path), f"line {rows.line_num}: not CSV: {exc}") from exc


def _check_header(path: Path, header: list[str]) -> None:
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise InputError(str(path), f"CSV header lacks {', '.join(missing)}")


def _json_records(lines: Iterator[tuple[int, str, object]]) -> Iterator[Record]:
    for number, line, value in lines:
        if not isinstance(value, dict):
            kind = type(value).__name__
            yield number, line, BadValue(None, f"expected a JSON object, not {kind}")
            continue
        try:
            yield number, line, {k: scalar_text(value, k) for k in value if k in _KEYS}
        except BadValue as exc:
            yield number, line, exc


def _events(records: Iterator[Record], options: ReadOptions, sink: RejectSink) -> list[Event]:
    tz, taxonomy = zone(options.tz), options.taxonomy
    events: list[Event] = []
    for number, raw, record in records:
        try:
            if isinstance(record, BadValue):
                raise record
            events.append(_event(record, options, tz, taxonomy))
        except BadValue as exc:
            sink.add(number, exc.field, exc.reason, raw)
    return events


def _text(record: dict[str, str | None], key: str) -> str | None:
    value = (record.get(key) or "").strip()
    return value or None


def _required(record: dict[str, str | None], key: str) -> str:
    value = _text(record, key)
    if value is None:
        raise BadValue(key, f"missing {key}")
    return value


def _event(
    record: dict[str, str | None], options: ReadOptions, tz: tzinfo | None, taxonomy: Taxonomy
) -> Event:
    check, message = _required(record, "check"), _text(record, "message")
    xid_text = _text(record, "xid")
    xid = None if xid_text is None else parse_xid(xid_text)
    found = taxonomy.classify_xid(xid) if xid is not None else classify(taxonomy, check, message)
    return Event(
        cluster=_text(record, "cluster") or options.cluster,
        node=_required(record, "node"),
        time=parse_time(_required(record, "time"), tz),
        end_time=optional_time(_text(record, "end_time"), tz, "end_time"),
        source=SOURCE,
        check=check,
        classification=found,
        result=parse_result(_required(record, "result")),
        xid=xid,
        job_id=_text(record, "job_id"),
        message=message,
        severity=_severity(_text(record, "severity")),
    )


def _severity(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return Severity(text.lower()).value
    except ValueError as exc:
        raise BadValue("severity", f"not a severity: {text!r} (use high, low or info)") from exc
