"""Plain node events anyone can write (FORMATs ``events-csv`` and ``events-jsonl``).

Input: a CSV file with a header line, or JSON lines with the same keys. Required: ``time``,
``node``, ``check``, ``result``; optional: ``message``, ``cluster``, ``end_time``,
``severity`` (high/low/info, overrides the taxonomy's), ``job_id``, ``xid``; other columns are
ignored. Common spellings are read too (``event_fields``): time as ``timestamp``, ``ts``,
``@timestamp`` or ``datetime``; node as ``host``, ``hostname`` or ``nodename``; check as
``health_check``, ``name`` or ``test``; result as ``status`` or ``state``; message as ``msg``,
``_msg`` or ``detail``; and any column by ``options.field_map`` (``--map time=when``). CSV
headers are matched without regard to case, JSON keys exactly. Times are ISO-8601 (with an
offset, or without one = local time in ``options.tz``) or epoch seconds. ``result`` is
fail/warn/ok, with the synonyms failed/failure/critical/error, warning/unknown and
pass/passed/success/healthy, the Nagios codes 0 ok, 1 warn, 2 fail and 3 (unknown) warn, or a
boolean: true (passed) ok, false fail.

Rows: one node_events row per record, source ``events``, cluster from the record else
``options.cluster``. Classification: by the XID when ``xid`` is given, else by the check's
name, then by the message. A CSV row the csv module cannot read (a field over its limit of
131,072 characters) is rejected. The result notes the columns read under another name.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import tzinfo
from pathlib import Path
from typing import Any

from gpurel.errors import InputError
from gpurel.schema import Severity
from gpurel.sources.base import Reader, ReadOptions, ReadResult, RejectSink, read_text
from gpurel.sources.event_fields import EVENT_FIELDS, FieldNames, parse_status
from gpurel.sources.event_rows import (
    BadValue,
    Event,
    LineCount,
    TextLines,
    classify,
    first_line,
    json_lines,
    optional_time,
    parse_time,
    parse_xid,
    read_result,
    scalar_text,
    zone,
)
from gpurel.taxonomy import Taxonomy

SOURCE = "events"
REQUIRED = ("time", "node", "check", "result")

CSV_NAMES = FieldNames(EVENT_FIELDS, fold_case=True)
JSON_NAMES = FieldNames(EVENT_FIELDS)
_JSON_KEY = JSON_NAMES.key_pattern(("time", "node", "check"))


def sniff_csv(head: str) -> bool:
    """A CSV header naming time, node, check and result (in any accepted spelling)."""
    return set(REQUIRED) <= set(CSV_NAMES.columns(first_line(head).split(",")))


def sniff_jsonl(head: str) -> bool:
    """JSON lines whose first object has time, node and check keys (any accepted spelling)."""
    line = first_line(head)
    if not line.startswith("{"):
        return False
    try:  # the top-level keys only: a nested "name" is no check (DCGM documents have them)
        names: Iterable[str] = json.loads(line).keys()
    except (ValueError, AttributeError, RecursionError):  # cut short in the head: by its text
        names = (match[1] for match in _JSON_KEY.finditer(line))
    return {"time", "node", "check"} <= set(JSON_NAMES.columns(names))


def read_csv(path: Path, options: ReadOptions) -> ReadResult:
    """node_events from a CSV file with a header line (its lines counted as CSV rows)."""
    sink = RejectSink(str(path))
    rows = LineCount()
    names = CSV_NAMES.mapped(options.field_map)
    found: dict[str, str] = {}
    records = _csv_records(path, read_text(path).lstrip("\ufeff"), rows, names, found)
    result = read_result(CSV.name, _events(records, options, sink), sink, rows)
    return _noted(result, names, found)


def read_jsonl(path: Path, options: ReadOptions) -> ReadResult:
    """node_events from JSON lines."""
    sink = RejectSink(str(path))
    lines = TextLines(read_text(path))
    names = JSON_NAMES.mapped(options.field_map)
    found: dict[str, str] = {}
    records = _json_records(json_lines(lines, sink), names, found)
    result = read_result(JSONL.name, _events(records, options, sink), sink, lines)
    return _noted(result, names, found)


CSV = Reader("events-csv", sniff_csv, read_csv)
JSONL = Reader("events-jsonl", sniff_jsonl, read_jsonl)
READERS = (CSV, JSONL)

# (line, raw text, values by field, or why the record cannot be read)
Record = tuple[int, str, dict[str, str | None] | BadValue]


def _noted(result: ReadResult, names: FieldNames, found: dict[str, str]) -> ReadResult:
    note = names.renamed(found)
    return replace(result, notes=(note,)) if note else result


def _csv_records(
    path: Path, text: str, count: LineCount, names: FieldNames, found: dict[str, str]
) -> Iterator[Record]:
    """The CSV rows after the header as records; ``found`` gets the header's columns."""
    rows = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    index: dict[str, int] = {}
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            if header is None:
                raise InputError(str(path), f"line {rows.line_num}: not CSV: {exc}") from exc
            count.total += 1
            yield rows.line_num, "", BadValue(None, f"not CSV: {exc}")
            continue
        count.total += 1
        if not any(cell.strip() for cell in row):
            count.skip()
        elif header is None:
            header = row
            found.update(_header_columns(path, header, names))
            index = {field: header.index(column) for field, column in found.items()}
            count.skip()
        elif len(row) != len(header):
            problem = BadValue(None, f"expected {len(header)} columns, found {len(row)}")
            yield rows.line_num, ",".join(row), problem
        else:
            yield rows.line_num, ",".join(row), {f: row[i] for f, i in index.items()}


def _header_columns(path: Path, header: list[str], names: FieldNames) -> dict[str, str]:
    """field -> the header's column holding it; InputError naming what is missing."""
    found = names.columns(header)
    missing = [field for field in REQUIRED if field not in found]
    unmatched = names.unmatched(found)
    if unmatched:
        raise InputError(str(path), f"CSV header has no column for --map {', '.join(unmatched)}")
    if missing:
        wanted = "; ".join(f"{f}: a column named {names.accepted(f)}" for f in missing)
        raise InputError(
            str(path),
            f"CSV header lacks {', '.join(missing)} ({wanted}); or name the column with "
            f"--map {missing[0]}=COLUMN",
        )
    return found


def _json_records(
    lines: Iterator[tuple[int, str, Any]], names: FieldNames, found: dict[str, str]
) -> Iterator[Record]:
    """Records of JSON objects, each read under its own keys; ``found`` gets the keys read."""
    columns: dict[tuple[str, ...], dict[str, str]] = {}
    for number, line, value in lines:
        if not isinstance(value, dict):
            kind = type(value).__name__
            yield number, line, BadValue(None, f"expected a JSON object, not {kind}")
            continue
        keys = tuple(value)
        if keys not in columns:
            columns[keys] = names.columns(keys)
            found.update(columns[keys])
        try:
            yield number, line, {f: _scalar(value, f, k) for f, k in columns[keys].items()}
        except BadValue as exc:
            yield number, line, exc


def _scalar(record: dict[str, Any], field: str, key: str) -> str | None:
    """A JSON value as text; a boolean result is ``true``/``false``."""
    value = record[key]
    if field == "result" and isinstance(value, bool):
        return "true" if value else "false"
    return scalar_text(record, key)


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
        result=parse_status(_required(record, "result")),
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
