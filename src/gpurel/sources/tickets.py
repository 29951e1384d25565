"""Repair tickets, an optional input of lemon detection (``gpurel lemons --tickets FILE``).

Input: a CSV file with a header line. Required: ``node``, ``opened``; optional: ``closed``,
``outcome``, ``cluster``; other columns are ignored. Times are ISO-8601 (naive = local time in
``tz``) or epoch seconds; an empty ``closed`` is a ticket still open.

Tickets are not health-check records, so they are not stored as ``node_events`` (where they
would count as failures in episodes and attribution) nor in the warehouse at all: the file is
read at analysis time into a small non-canonical table (``TICKETS``). A ticket without a
cluster matches its node in any cluster. ``confirmed`` reads the outcome: false for outcomes
that found nothing (``NOT_CONFIRMED``: no fault found, cannot reproduce, passed...), null
without an outcome (open or unknown), true for any other (repaired, replaced, RMA...): the
"later repair outcome" lemon flags are checked against.

Rows that cannot be read go to ``rejects`` (file, line, field, reason), as in ingest.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path

import pyarrow as pa

from gpurel.errors import InputError
from gpurel.schema import TIME
from gpurel.sources.base import RejectSink, read_text
from gpurel.sources.event_rows import BadValue, optional_time, parse_time, zone

REQUIRED = ("node", "opened")
NOT_CONFIRMED = frozenset(
    {
        "no_fault_found",
        "nff",
        "no_problem_found",
        "npf",
        "cannot_reproduce",
        "could_not_reproduce",
        "cnr",
        "no_issue",
        "ok",
        "pass",
        "passed",
    }
)

TICKETS = pa.schema(
    [
        pa.field("cluster", pa.string()),  # null: any cluster
        pa.field("node", pa.string(), nullable=False),
        pa.field("opened", TIME, nullable=False),
        pa.field("closed", TIME),
        pa.field("outcome", pa.string()),
        pa.field("confirmed", pa.bool_()),
    ]
)

_SEPARATORS = re.compile(r"[\s\-]+")


@dataclass
class TicketRead:
    """The tickets read, and the rows that could not be."""

    tickets: pa.Table
    rejects: pa.Table


def confirmed(outcome: str | None) -> bool | None:
    """Whether an outcome confirms a defect (see the module docstring)."""
    if outcome is None:
        return None
    return _SEPARATORS.sub("_", outcome.strip().lower()) not in NOT_CONFIRMED


def _text(row: dict[str, str | None], key: str) -> str | None:
    value = (row.get(key) or "").strip()
    return value or None


def _ticket(row: dict[str, str | None], zone_of: tzinfo | None) -> dict[str, object]:
    node = _text(row, "node")
    if node is None:
        raise BadValue("node", "missing node")
    opened_text = _text(row, "opened")
    if opened_text is None:
        raise BadValue("opened", "missing opened")
    opened: datetime = parse_time(opened_text, zone_of, "opened")
    outcome = _text(row, "outcome")
    return {
        "cluster": _text(row, "cluster"),
        "node": node,
        "opened": opened,
        "closed": optional_time(_text(row, "closed"), zone_of, "closed"),
        "outcome": outcome,
        "confirmed": confirmed(outcome),
    }


def read(path: Path, tz: str | None = "UTC") -> TicketRead:
    """Tickets from a CSV file (naive times in ``tz``; None = this machine's zone)."""
    sink, zone_of = RejectSink(str(path)), zone(tz)
    text = read_text(path).lstrip("\ufeff")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in reader.fieldnames or ()]
        missing = [name for name in REQUIRED if name not in header]
        if missing:
            raise InputError(str(path), f"CSV header lacks {', '.join(missing)}")
        reader.fieldnames = header
        rows = []
        for row in reader:
            try:
                rows.append(_ticket(row, zone_of))
            except BadValue as exc:
                sink.add(reader.line_num, exc.field, exc.reason, ",".join(map(str, row.values())))
    except csv.Error as exc:
        raise InputError(str(path), f"line {reader.line_num}: not CSV: {exc}") from exc
    return TicketRead(pa.Table.from_pylist(rows, schema=TICKETS), sink.table())
