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

Reading: the records' values are gathered into columns and each column's distinct values
are converted once (``plain_columns``); a record with several bad values is rejected for the
first of check, xid, node, time, end_time, result and severity. A CSV file without quotes
after its header is split a block of lines at a time by Arrow (``csv_blocks``), others row by
row by the csv module; JSON lines that Arrow's JSON parser reads as ``json.loads`` does are
read a block at a time (``json_blocks``), others line by line. Both ways give the same rows,
rejects and notes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa

from gpurel.errors import InputError
from gpurel.sources import csv_blocks, json_blocks
from gpurel.sources.base import Reader, ReadOptions, ReadResult, RejectSink, read_text
from gpurel.sources.event_fields import EVENT_FIELDS, FieldNames
from gpurel.sources.event_rows import (
    BadValue,
    LineCount,
    TextLines,
    first_line,
    json_lines,
    read_result,
    scalar_text,
)
from gpurel.sources.plain_columns import Records, Reject, node_events

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
    names = CSV_NAMES.mapped(options.field_map)
    by_blocks = csv_blocks.read(path, options, partial(_header_columns, path, names))
    if by_blocks is not None:
        events, rejects = by_blocks.events, by_blocks.rejects
        return _result(CSV.name, path, events, rejects, by_blocks.count, names, by_blocks.columns)
    count = LineCount()
    found: dict[str, str] = {}
    rows = _csv_records(path, read_text(path).lstrip("\ufeff"), count, names, found)
    events, rejects = node_events(Records.of(list(rows)), options)
    return _result(CSV.name, path, events, rejects, count, names, found)


def read_jsonl(path: Path, options: ReadOptions) -> ReadResult:
    """node_events from JSON lines."""
    names = JSON_NAMES.mapped(options.field_map)
    by_blocks = json_blocks.read(path, options, names)
    if by_blocks is not None:
        events, rejects = by_blocks.events, by_blocks.rejects
        count = by_blocks.count
        return _result(JSONL.name, path, events, rejects, count, names, by_blocks.columns)
    sink = RejectSink(str(path))
    lines = TextLines(read_text(path))
    found: dict[str, str] = {}
    rows = list(_json_records(json_lines(lines, sink), names, found))
    events, rejects = node_events(Records.of(rows), options)
    unread = [(r["line"], r["field"], r["reason"], r["raw"]) for r in sink.table().to_pylist()]
    return _result(JSONL.name, path, events, unread + rejects, lines, names, found)


CSV = Reader("events-csv", sniff_csv, read_csv)
JSONL = Reader("events-jsonl", sniff_jsonl, read_jsonl)
READERS = (CSV, JSONL)

# (line, raw text, values by field, or why the record cannot be read)
Record = tuple[int, str, dict[str, str | None] | BadValue]


def _result(
    fmt: str,
    path: Path,
    events: pa.Table,
    rejects: list[Reject],
    count: LineCount,
    names: FieldNames,
    found: dict[str, str],
) -> ReadResult:
    """The ReadResult: rejects in file order, a note naming the columns read under another
    name."""
    sink = RejectSink(str(path))
    for line, field, reason, raw in sorted(rejects, key=lambda reject: reject[0]):
        sink.add(line, field, reason, raw)
    result = read_result(fmt, events, sink, count)
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
            found.update(_header_columns(path, names, header))
            index = {field: header.index(column) for field, column in found.items()}
            count.skip()
        elif len(row) != len(header):
            problem = BadValue(None, f"expected {len(header)} columns, found {len(row)}")
            yield rows.line_num, ",".join(row), problem
        else:
            yield rows.line_num, ",".join(row), {f: row[i] for f, i in index.items()}


def _header_columns(path: Path, names: FieldNames, header: list[str]) -> dict[str, str]:
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
