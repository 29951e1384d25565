"""The StepFun InfiniteHBD node fault trace (FORMAT ``infinitehbd``).

Input: ``fault_trace.json`` of github.com/stepfun-ai/InfiniteHBD-Trace: a JSON list of
``{"node_id", "event_time", "event_type", "fault_type": {"Level", "Class", "Desc"}}`` where
``event_type`` is ``fault_start`` or ``fault_end`` and ``event_time`` is in days from day 0.
Day 0 is ``options.trace_start`` (a naive value is UTC) or 2024-03-30T00:00:00Z, the trace's
first day per its README.

Rows: each ``fault_start`` is paired with the next ``fault_end`` of the same node and fault
type (in time order) into one node_events row with ``time`` and ``end_time``; a start never
ended keeps ``end_time`` null; an end without a start is rejected. check = ``<Class>:
<Desc>``, message = ``<Level> / <Class> / <Desc>``, result ``fail``, source
``trace:infinitehbd``, cluster ``options.cluster``. Classified by the reason patterns over
``<Level>: <Class>: <Desc>``; the domain is the category's, except that an ``unknown``
category takes its domain from the Level (Hardware Failure -> hardware, Software Failure ->
system_software, Other Failure -> unknown). Rejects name the record number (1-based).

Inventory: the trace lists only the nodes that failed. ``nodes`` holds every node seen plus
``infinitehbd-unseen-NNN`` for the fault-free rest, so that it has ``options.inventory_nodes``
nodes (default 400, the trace's README) each in service from day 0 to day
``options.inventory_days`` (default 348) with ``options.gpus_per_node`` GPUs. When the trace
names more nodes than the inventory, all of them are kept.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from gpurel import schema
from gpurel.errors import ConfigError, InputError
from gpurel.schema import Domain
from gpurel.sources.base import ReadOptions, ReadResult, RejectSink, read_text
from gpurel.sources.event_rows import BadValue, Event, LineCount, read_result, scalar_text
from gpurel.taxonomy import Classification, Taxonomy

FORMAT = "infinitehbd"
SOURCE = "trace:infinitehbd"
TRACE_START = datetime(2024, 3, 30, tzinfo=UTC)
INVENTORY_NODES = 400
INVENTORY_DAYS = 348.0
UNSEEN_PREFIX = "infinitehbd-unseen-"

_LEVEL_DOMAINS = {"hardware failure": Domain.HARDWARE, "software failure": Domain.SYSTEM_SOFTWARE}
_FAULT_KEYS = ("Level", "Class", "Desc")


@dataclass(frozen=True)
class _Record:
    number: int
    raw: str | None
    node: str
    day: float
    start: bool
    fault: tuple[str, str, str]  # Level, Class, Desc


def sniff(head: str) -> bool:
    """A JSON list of fault_start/fault_end events with node_id and fault_type."""
    return head.lstrip().startswith("[") and all(
        key in head for key in ('"node_id"', '"event_type"', '"fault_type"')
    )


def read(path: Path, options: ReadOptions) -> ReadResult:
    """Paired fault events as node_events, and the 400-node inventory as nodes."""
    sink = RejectSink(str(path))
    items = _items(path)
    records = [r for r in (_record(i, item, sink) for i, item in items) if r is not None]
    day0 = _day0(options)
    count = LineCount(total=len(items))  # records: the list's items
    events = _pair(records, day0, options, sink, count)
    return read_result(FORMAT, events, sink, count, _inventory(events, day0, options))


def _items(path: Path) -> list[tuple[int, Any]]:
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno} (char {exc.pos})"
        raise InputError(str(path), f"invalid JSON at {where}: {exc.msg}") from exc
    except RecursionError as exc:
        raise InputError(str(path), "JSON nested too deeply") from exc
    if not isinstance(data, list):
        raise InputError(str(path), "expected a JSON list of fault events")
    return list(enumerate(data, start=1))


def _record(number: int, item: Any, sink: RejectSink) -> _Record | None:
    raw = _raw(item)
    try:
        if not isinstance(item, dict):
            raise BadValue(None, f"expected a JSON object, got {type(item).__name__}")
        node = (scalar_text(item, "node_id") or "").strip()
        if not node:
            raise BadValue("node_id", "missing node_id")
        return _Record(number, raw, node, _day(item), _is_start(item), _fault(item))
    except BadValue as exc:
        sink.add(number, exc.field, exc.reason, raw)
        return None


def _raw(item: Any) -> str | None:
    try:
        return json.dumps(item, ensure_ascii=False)
    except (RecursionError, ValueError):
        return None


def _day(item: dict[str, Any]) -> float:
    day = item.get("event_time")
    if isinstance(day, bool) or not isinstance(day, int | float) or day != day:
        raise BadValue("event_time", f"not a number of days: {day!r}")
    return float(day)


def _is_start(item: dict[str, Any]) -> bool:
    kind = item.get("event_type")
    if kind not in ("fault_start", "fault_end"):
        raise BadValue("event_type", f"not fault_start or fault_end: {kind!r}")
    return kind == "fault_start"


def _fault(item: dict[str, Any]) -> tuple[str, str, str]:
    fault = item.get("fault_type")
    if not isinstance(fault, dict):
        raise BadValue("fault_type", "expected an object with Level, Class and Desc")
    values = [(scalar_text(fault, key) or "").strip() for key in _FAULT_KEYS]
    return values[0], values[1], values[2]


def _day0(options: ReadOptions) -> datetime:
    start = options.trace_start or TRACE_START
    return start if start.tzinfo else start.replace(tzinfo=UTC)


def _at(day0: datetime, days: float, field: str) -> datetime:
    try:
        return (day0 + timedelta(days=days)).astimezone(UTC)
    except OverflowError as exc:
        raise BadValue(field, f"day {days} is out of range") from exc


def _pair(
    records: list[_Record],
    day0: datetime,
    options: ReadOptions,
    sink: RejectSink,
    count: LineCount,
) -> list[Event]:
    """One event per fault_start, ended by the next fault_end of the same node and fault
    (the fault_end is then counted as a skipped record: its time is the event's end)."""
    open_faults: dict[tuple[str, tuple[str, str, str]], deque[int]] = defaultdict(deque)
    events: list[Event] = []
    for record in sorted(records, key=lambda r: (r.day, r.number)):
        key = (record.node, record.fault)
        try:
            when = _at(day0, record.day, "event_time")
        except BadValue as exc:
            sink.add(record.number, exc.field, exc.reason, record.raw)
            continue
        if record.start:
            open_faults[key].append(len(events))
            events.append(_event(record, when, options))
        elif open_faults[key]:
            started = open_faults[key].popleft()
            events[started] = replace(events[started], end_time=when)
            count.skip()
        else:
            sink.add(record.number, "event_type", "fault_end without a fault_start", record.raw)
    return events


def _event(record: _Record, when: datetime, options: ReadOptions) -> Event:
    level, cls, desc = record.fault
    return Event(
        cluster=options.cluster,
        node=record.node,
        time=when,
        source=SOURCE,
        check=f"{cls}: {desc}",
        classification=_classify(options.taxonomy, level, cls, desc),
        result="fail",
        message=f"{level} / {cls} / {desc}",
    )


def _classify(taxonomy: Taxonomy, level: str, cls: str, desc: str) -> Classification:
    found = taxonomy.classify_reason(f"{level}: {cls}: {desc}")
    if found.category != "unknown":
        return found
    domain = _LEVEL_DOMAINS.get(level.lower(), Domain.UNKNOWN)
    return replace(found, domain=domain.value)


def _inventory(events: list[Event], day0: datetime, options: ReadOptions) -> pa.Table:
    seen = sorted({e.node for e in events})
    size = options.inventory_nodes if options.inventory_nodes is not None else INVENTORY_NODES
    unseen = max(size - len(seen), 0)
    width = max(3, len(str(unseen)))
    names = seen + [f"{UNSEEN_PREFIX}{i:0{width}d}" for i in range(1, unseen + 1)]
    days = options.inventory_days if options.inventory_days is not None else INVENTORY_DAYS
    try:
        end = _at(day0, days, "inventory_days")
    except BadValue as exc:
        raise ConfigError(f"inventory_days: {exc.reason}") from exc
    rows = [
        {
            "cluster": options.cluster,
            "node": name,
            "gpus": options.gpus_per_node,
            "in_service_start": day0,
            "in_service_end": end,
            "source": SOURCE,
        }
        for name in names
    ]
    return schema.conform("nodes", pa.Table.from_pylist(rows, schema=schema.NODES))
