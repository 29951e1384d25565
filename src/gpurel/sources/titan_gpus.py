"""The OLCF Titan GPU life data (FORMAT ``titan-gpus``).

Input: ``gc_full.csv`` of github.com/olcf/TitanGPULife (``data/``; Ostrouchov et al., "GPU
Lifetimes on Titan Supercomputer: Survival Analysis and Reliability", SC'20): a header line
``SN,location,insert,remove,duration,out,event`` and one row per stint of a GPU (serial number
``SN``) in a node slot. ``location`` is the Cray XK7 node name ``cX-YcCsSnN`` (cabinet column-row,
chassis, slot, node); Titan has one K20X GPU per node, so the location is the node. ``insert``
and ``remove`` are local wallclock times ``YYYY-MM-DD HH:MM:SS``; ``event`` says why the stint
ended: ``DBE`` (double-bit ECC error), ``OTB`` (the GPU fell off the bus) or empty (none: the
GPU was moved or the data ends). ``duration`` and ``out`` are not used.

Times: naive local times in ``options.tz``; when none is given, ``America/New_York`` (Oak Ridge,
TN), not this machine's zone: ``duration`` equals ``remove - insert`` in that zone for every
stint but two (ambiguous fall-back hours), while in UTC a third of them are an hour off (DST).

Rows: each DBE or OTB stint end is one node_events row: node = ``location``, time = ``remove``,
check ``DBE`` or ``OTB`` (classified through the taxonomy: ``gpu_memory`` and ``gpu_unavailable``,
both high severity, as XIDs 48 and 79), result ``fail``, message names the event and the GPU's
serial number, source ``trace:titan``, cluster ``options.cluster``. Rows without ``insert``
(1,158 in gc_full.csv) record a further event at the end of a stint listed on another row; they
are events like any other and add no in-service time. 21 of them repeat their stint's own event
(same GPU, node, time and event): the reader keeps them, so its counts match the file, and the
warehouse's natural key of node_events stores each such pair once.

Inventory: ``nodes`` holds every location, ``gpus`` = 1 (one GPU per Titan node; not
``options.gpus_per_node``), in service from its earliest ``insert`` to its latest ``remove``.
Service nodes (``titan.service.txt`` of the same repository: 512 GPU-less login, I/O and network
nodes) never appear in gc_full.csv, so there is nothing to exclude.

Rejects (line numbers are the file's): a location that is no XK7 node name, a missing or
unreadable ``remove``, an unreadable ``insert``, an ``insert`` after the ``remove``, an unknown
``event``, a row with the wrong number of columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from gpurel import schema
from gpurel.errors import InputError
from gpurel.sources.base import ReadOptions, ReadResult, RejectSink, read_bytes
from gpurel.sources.event_rows import (
    BadValue,
    Event,
    LineCount,
    first_line,
    localize,
    read_result,
    zone,
)

FORMAT = "titan-gpus"
SOURCE = "trace:titan"
COLUMNS = ("SN", "location", "insert", "remove", "duration", "out", "event")
DEFAULT_TZ = "America/New_York"
GPUS_PER_NODE = 1

_NODE = re.compile(r"c\d+-\d+c\d+s\d+n\d+")
_EVENTS = {"DBE": "double-bit ECC error", "OTB": "GPU fell off the bus"}


@dataclass(frozen=True)
class _Stint:
    node: str
    insert: datetime | None
    remove: datetime


def sniff(head: str) -> bool:
    """The gc_full.csv header: SN,location,insert,remove,duration,out,event."""
    names = [name.strip().strip('"') for name in first_line(head).split(",")]
    return tuple(names) == COLUMNS


def read(path: Path, options: ReadOptions) -> ReadResult:
    """DBE/OTB stint ends as node_events, and one node per location as nodes."""
    sink = RejectSink(str(path))
    data = read_bytes(path)
    lines = _row_lines(data)
    invalid: list[tuple[int, str]] = []
    table = _table(path, data, invalid)
    # counted as CSV rows (a quoted value may span lines); skipped: blank lines, the header,
    # and stints that ended without a failure (inventory only)
    blank = data.count(b"\n") + (not data.endswith(b"\n")) - len(lines)
    count = LineCount(total=blank + 1 + table.num_rows + len(invalid), skipped=blank + 1)
    for number, text in invalid:
        sink.add(_line(lines, number), None, f"expected {len(COLUMNS)} columns", text)
    skipped = {number for number, _ in invalid}
    valid_lines = [line for i, line in enumerate(lines[1:], start=2) if i not in skipped]
    tz = zone(options.tz if options.tz is not None else DEFAULT_TZ)
    events: list[Event] = []
    stints: list[_Stint] = []
    columns = {name: table.column(name).to_pylist() for name in COLUMNS}
    for index in range(table.num_rows):
        row = {name: columns[name][index] or "" for name in COLUMNS}
        line = valid_lines[index] if index < len(valid_lines) else None
        try:
            stint, event = _row(row, tz, options)
        except BadValue as exc:
            sink.add(line, exc.field, exc.reason, ",".join(row[name] for name in COLUMNS))
            continue
        stints.append(stint)
        if event is None:
            count.skip()
        else:
            events.append(event)
    return read_result(FORMAT, events, sink, count, _inventory(stints, options))


def _row_lines(data: bytes) -> list[int]:
    """The 1-based line numbers of the non-empty lines, which pyarrow numbers as rows."""
    return [n for n, line in enumerate(data.split(b"\n"), start=1) if line.rstrip(b"\r")]


def _line(lines: list[int], row_number: int | None) -> int | None:
    if row_number is None or not 1 <= row_number <= len(lines):
        return None
    return lines[row_number - 1]


def _table(path: Path, data: bytes, invalid: list[tuple[int, str]]) -> pa.Table:
    def handler(row: pacsv.InvalidRow) -> str:
        invalid.append((row.number if row.number is not None else -1, row.text or ""))
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=pacsv.ParseOptions(invalid_row_handler=handler),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in COLUMNS},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError) as exc:
        raise InputError(str(path), f"not a Titan gc_full.csv: {exc}") from exc
    missing = [name for name in COLUMNS if name not in table.column_names]
    if missing:
        raise InputError(str(path), f"CSV header lacks {', '.join(missing)}")
    return table


def _row(row: dict[str, str], tz: tzinfo, options: ReadOptions) -> tuple[_Stint, Event | None]:
    node = row["location"].strip()
    if not _NODE.fullmatch(node):
        raise BadValue("location", f"not a Cray XK7 node name (cX-YcCsSnN): {node!r}")
    remove = _time(row["remove"], tz, "remove")
    if remove is None:
        raise BadValue("remove", "missing remove time")
    insert = _time(row["insert"], tz, "insert")
    if insert is not None and insert > remove:
        raise BadValue("insert", f"insert {row['insert']} after remove {row['remove']}")
    kind = row["event"].strip().upper()
    if kind and kind not in _EVENTS:
        raise BadValue("event", f"not DBE, OTB or empty: {row['event']!r}")
    event = None
    if kind:
        serial = row["SN"].strip()
        message = f"{_EVENTS[kind]} (GPU SN {serial})" if serial else _EVENTS[kind]
        event = Event(
            cluster=options.cluster,
            node=node,
            time=remove,
            source=SOURCE,
            check=kind,
            classification=options.taxonomy.classify_check(kind),
            result="fail",
            message=message,
        )
    return _Stint(node, insert, remove), event


def _time(text: str, tz: tzinfo, field: str) -> datetime | None:
    value = text.strip()
    if not value:
        return None
    try:
        naive = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadValue(field, f"not a time: {value!r}") from exc
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    try:
        return localize(naive, tz)
    except BadValue as exc:
        raise BadValue(field, exc.reason) from exc


def _inventory(stints: list[_Stint], options: ReadOptions) -> pa.Table:
    spans: dict[str, tuple[datetime | None, datetime]] = {}
    for stint in stints:
        start, end = spans.get(stint.node, (None, stint.remove))
        if stint.insert is not None and (start is None or stint.insert < start):
            start = stint.insert
        spans[stint.node] = (start, max(end, stint.remove))
    rows = [
        {
            "cluster": options.cluster,
            "node": node,
            "gpus": GPUS_PER_NODE,
            "in_service_start": start if start is not None else end,
            "in_service_end": end,
            "source": SOURCE,
        }
        for node, (start, end) in sorted(spans.items())
    ]
    return schema.conform("nodes", pa.Table.from_pylist(rows, schema=schema.NODES))
