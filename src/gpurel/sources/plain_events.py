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
are converted once; a record with several bad values is rejected for the first of check,
xid, node, time, end_time, result and severity.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gpurel import schema
from gpurel.errors import InputError
from gpurel.schema import Severity
from gpurel.sources.base import Reader, ReadOptions, ReadResult, RejectSink, read_text
from gpurel.sources.event_fields import EVENT_FIELDS, FieldNames, parse_status
from gpurel.sources.event_rows import (
    BadValue,
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
    # lines that are no JSON were rejected while reading, the others' bad values after it
    rejects = result.rejects.sort_by("line")  # a stable sort: file order
    return _noted(replace(result, rejects=rejects), names, found)


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


# The fields of a record; a record with several bad values is rejected for the first of
# _CHECKED, in this order.
_CHECKED = ("check", "xid", "node", "time", "end_time", "result", "severity")
_FIELDS = (*_CHECKED, "message", "cluster", "job_id")
Convert = Callable[[str | None], Any]
_ISO_INSTANT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"


def _events(records: Iterator[Record], options: ReadOptions, sink: RejectSink) -> pa.Table:
    """node_events of the records, converted field by field: each distinct value once."""
    numbers: list[int] = []
    raws: list[str] = []
    unread: dict[int, BadValue] = {}  # records that could not be read, by row
    values: dict[str, list[str | None]] = {field: [] for field in _FIELDS}
    for number, raw, record in records:
        if isinstance(record, BadValue):
            unread[len(numbers)] = record
            record = {}
        numbers.append(number)
        raws.append(raw)
        for field, column in values.items():
            column.append(record.get(field))
    converted = {
        f: (_times if kind is schema.TIME else _converted)(
            pa.array(values[f], pa.string()), convert, kind
        )
        for f, (convert, kind) in _converters(options).items()
    }
    keep = np.ones(len(numbers), bool)
    for row in sorted({*unread, *(r for f in _CHECKED for r in converted[f][1])}):
        problem = unread.get(row) or next(
            converted[f][1][row] for f in _CHECKED if row in converted[f][1]
        )
        sink.add(numbers[row], problem.field, problem.reason, raws[row])
        keep[row] = False
    good = {f: array.filter(pa.array(keep)) for f, (array, _) in converted.items()}
    return _table(good, options)


def _converters(options: ReadOptions) -> dict[str, tuple[Convert, pa.DataType]]:
    """Each field's conversion of a value (None when absent) and its column type."""
    tz = zone(options.tz)
    return {
        "check": (partial(_present, "check"), pa.string()),
        "xid": (_xid, pa.int32()),
        "node": (partial(_present, "node"), pa.string()),
        "time": (lambda text: parse_time(_present("time", text), tz), schema.TIME),
        "end_time": (lambda text: optional_time(_stripped(text), tz, "end_time"), schema.TIME),
        "result": (lambda text: parse_status(_present("result", text)), pa.string()),
        "severity": (lambda text: _severity(_stripped(text)), pa.string()),
        "message": (_stripped, pa.string()),
        "cluster": (_stripped, pa.string()),
        "job_id": (_stripped, pa.string()),
    }


def _converted(
    values: pa.Array, convert: Convert, kind: pa.DataType
) -> tuple[pa.Array, dict[int, BadValue]]:
    """``convert`` of every value, called once per distinct value: the converted column
    (null where a value is bad) and the BadValue of each bad row."""
    encoded = values.dictionary_encode()
    distinct = [*encoded.dictionary.to_pylist(), None]
    codes = pc.fill_null(encoded.indices, len(distinct) - 1).to_numpy()
    results: list[Any] = []
    failures: dict[int, BadValue] = {}
    for code, value in enumerate(distinct):
        try:
            results.append(convert(value))
        except BadValue as exc:
            results.append(None)
            failures[code] = exc
    bad_rows = np.flatnonzero(np.isin(codes, list(failures)))
    return pa.array(results, kind).take(codes), {int(r): failures[codes[r]] for r in bad_rows}


def _times(
    values: pa.Array, convert: Convert, kind: pa.DataType
) -> tuple[pa.Array, dict[int, BadValue]]:
    """``_converted`` for times: ISO-8601 instants with an offset (``2024-05-01T10:00:00Z``,
    ``...:00.25+02:00``) are cast by Arrow at once, which reads them as ``parse_time`` does;
    the others, and all of them when one is no date, go through ``convert``."""
    fast = pc.fill_null(pc.match_substring_regex(values, _ISO_INSTANT), False)
    try:
        instants = pc.cast(values.filter(fast), kind)
    except pa.ArrowInvalid:  # a day or an offset out of range: as parse_time says
        return _converted(values, convert, kind)
    slow = np.flatnonzero(~fast.to_numpy(zero_copy_only=False))
    rest, bad = _converted(values.take(slow), convert, kind)
    merged = pc.replace_with_mask(pa.nulls(len(values), kind), fast, instants)
    merged = pc.replace_with_mask(merged, pc.invert(fast), rest)
    return merged, {int(slow[row]): problem for row, problem in bad.items()}


def _table(column: dict[str, pa.Array], options: ReadOptions) -> pa.Table:
    """The node_events table of the good rows' converted columns, classified."""
    found = _classified(column["check"], column["message"], column["xid"], options.taxonomy)
    rows = len(column["check"])
    return schema.conform(
        "node_events",
        pa.table(
            {
                "cluster": pc.fill_null(column["cluster"], options.cluster),
                "node": column["node"],
                "time": column["time"],
                "end_time": column["end_time"],
                "source": pa.repeat(pa.scalar(SOURCE, pa.string()), rows),
                "check": column["check"],
                "category": found["category"],
                "domain": found["domain"],
                "severity": pc.coalesce(column["severity"], found["severity"]),
                "result": column["result"],
                "xid": column["xid"],
                "job_id": column["job_id"],
                "message": column["message"],
            }
        ),
    )


def _classified(
    check: pa.Array, message: pa.Array, xid: pa.Array, taxonomy: Taxonomy
) -> dict[str, pa.Array]:
    """category, domain and severity of each row: by its XID when given, else by its check
    and message (``classify``); once per distinct (check, message, xid)."""
    codes = np.zeros(len(check), np.int64)
    distinct: list[list[Any]] = []
    for values in (check, message, xid):
        encoded = values.dictionary_encode()
        width = len(encoded.dictionary) + 1  # the last code stands for null
        codes = codes * width + pc.fill_null(encoded.indices, width - 1).to_numpy()
        distinct.append([*encoded.dictionary.to_pylist(), None])
    combos, inverse = np.unique(codes, return_inverse=True)
    found = []
    for combo in combos.tolist():
        combo, code = divmod(combo, len(distinct[2]))
        name, text = divmod(combo, len(distinct[1]))
        number, name_text, message_text = distinct[2][code], distinct[0][name], distinct[1][text]
        if number is not None:
            found.append(taxonomy.classify_xid(number))
        else:
            found.append(classify(taxonomy, name_text, message_text))
    rows = pa.array(inverse.reshape(-1))
    return {
        "category": pa.array([c.category for c in found], pa.string()).take(rows),
        "domain": pa.array([c.domain for c in found], pa.string()).take(rows),
        "severity": pa.array([c.severity for c in found], pa.string()).take(rows),
    }


def _stripped(text: str | None) -> str | None:
    """The value without surrounding blanks; None when absent or blank."""
    return (text or "").strip() or None


def _present(field: str, text: str | None) -> str:
    """The value without surrounding blanks; a BadValue when absent or blank."""
    value = _stripped(text)
    if value is None:
        raise BadValue(field, f"missing {field}")
    return value


def _xid(text: str | None) -> int | None:
    value = _stripped(text)
    return None if value is None else parse_xid(value)


def _severity(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return Severity(text.lower()).value
    except ValueError as exc:
        raise BadValue("severity", f"not a severity: {text!r} (use high, low or info)") from exc
