"""Plain node events converted from columns of their records' raw values to node_events.

The readers of ``plain_events`` gather each field of their records into a column of text
(null where a record lacks the field). Each column's distinct values are converted once
(``event_columns``); a record with several bad values is rejected for the first of check,
xid, node, time, end_time, result and severity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gpurel import schema
from gpurel.schema import Severity
from gpurel.sources.base import ReadOptions
from gpurel.sources.event_columns import Convert, distinct_rows, each_distinct, spread, times
from gpurel.sources.event_fields import parse_status
from gpurel.sources.event_rows import (
    BadValue,
    LineCount,
    classify,
    optional_time,
    parse_time,
    parse_xid,
    zone,
)
from gpurel.sources.slurm_values import resolve_zone

SOURCE = "events"
# a record with several bad values is rejected for the first of these, in this order
CHECKED = ("check", "xid", "node", "time", "end_time", "result", "severity")
FIELDS = (*CHECKED, "message", "cluster", "job_id")
Reject = tuple[int, str | None, str, str]  # line, field, reason, raw text


@dataclass(frozen=True)
class Records:
    """Records' raw values by field (missing fields may be left out), each record's line,
    its raw text, and the records that could not be read at all (by row)."""

    lines: np.ndarray
    values: dict[str, pa.Array]
    raw: Callable[[int], str]
    unread: dict[int, BadValue]

    @classmethod
    def of(
        cls,
        rows: list[tuple[int, str, dict[str, str | None] | BadValue]],
    ) -> Records:
        """Records of (line, raw text, values by field or why it cannot be read)."""
        unread = {
            i: record for i, (_, _, record) in enumerate(rows) if isinstance(record, BadValue)
        }
        values = {
            field: pa.array(
                [None if isinstance(r, BadValue) else r.get(field) for _, _, r in rows],
                pa.string(),
            )
            for field in FIELDS
        }
        lines = np.array([line for line, _, _ in rows], np.int64)
        return cls(lines, values, lambda row: rows[row][1], unread)


@dataclass(frozen=True)
class Read:
    """What a file became: node_events, rejects (by line), its lines, and the column (key)
    each field was read from, in the order the fields appeared."""

    events: pa.Table
    rejects: list[Reject]
    count: LineCount
    columns: dict[str, str]


@dataclass(frozen=True)
class BlockPart:
    """What one block's lines became; reject lines are 0-based in the block."""

    lines: int
    skipped: int
    events: pa.Table
    rejects: list[Reject]


@dataclass
class Gathered:
    """The parts of a file read so far, in order: events, rejects by file line, the count."""

    events: list[pa.Table] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    count: LineCount = field(default_factory=LineCount)

    def add(self, part: BlockPart) -> None:
        """Take the next block's part: its reject lines are counted on from the lines before."""
        self.events.append(part.events)
        for line, name, reason, raw in part.rejects:
            self.rejects.append((self.count.total + line + 1, name, reason, raw))
        self.count.total += part.lines
        self.count.skipped += part.skipped


def node_events(records: Records, options: ReadOptions) -> tuple[pa.Table, list[Reject]]:
    """node_events of the records that can be read, and the rejects of the others."""
    count = len(records.lines)
    absent = pa.nulls(count, pa.string())
    converted = {
        field: convert(records.values.get(field, absent))
        for field, convert in _converters(options).items()
    }
    problems = [records.unread, *(converted[field][1] for field in CHECKED)]
    rejects: list[Reject] = []
    keep = np.ones(count, bool)
    for row in sorted(set().union(*problems)):
        problem = next(found[row] for found in problems if row in found)
        rejects.append((int(records.lines[row]), problem.field, problem.reason, records.raw(row)))
        keep[row] = False
    kept = pa.array(keep)
    good = {field: array.filter(kept) for field, (array, _) in converted.items()}
    return _table(good, options), rejects


def _converters(options: ReadOptions) -> dict[str, Callable[[pa.Array], tuple[pa.Array, Any]]]:
    """Each field's conversion of a column of values (None where absent)."""
    tz, zone_name = zone(options.tz), resolve_zone(options.tz)
    text = pa.string()

    def each(convert: Convert, kind: pa.DataType = text) -> Callable[[pa.Array], Any]:
        return lambda values: each_distinct(values, convert, kind)

    def timed(convert: Convert) -> Callable[[pa.Array], Any]:
        return lambda values: times(values, zone_name, convert)

    return {
        "check": each(partial(_present, "check")),
        "xid": each(_xid, pa.int32()),
        "node": each(partial(_present, "node")),
        "time": timed(lambda value: parse_time(_present("time", value), tz)),
        "end_time": timed(lambda value: optional_time(_stripped(value), tz, "end_time")),
        "result": each(lambda value: parse_status(_present("result", value))),
        "severity": each(lambda value: _severity(_stripped(value))),
        "message": each(_stripped),
        "cluster": each(_stripped),
        "job_id": each(_stripped),
    }


def _table(column: dict[str, pa.Array], options: ReadOptions) -> pa.Table:
    """The node_events table of the good rows' converted columns, classified."""
    found = _classified(column["check"], column["message"], column["xid"], options)
    rows = len(column["check"])
    table = pa.table(
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
    )
    return schema.conform("node_events", table)


def _classified(
    check: pa.Array, message: pa.Array, xid: pa.Array, options: ReadOptions
) -> dict[str, pa.Array]:
    """category, domain and severity of each row: by its XID when given, else by its check
    and message (``classify``); once per distinct (check, message, xid)."""
    taxonomy = options.taxonomy
    combos, rows = distinct_rows([check, message, xid])
    found = [
        taxonomy.classify_xid(number) if number is not None else classify(taxonomy, name, text)
        for name, text, number in combos
    ]
    text = pa.string()
    return {
        "category": spread([c.category for c in found], text, rows),
        "domain": spread([c.domain for c in found], text, rows),
        "severity": spread([c.severity for c in found], text, rows),
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
