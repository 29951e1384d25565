"""What the node-history readers share: times, results, classification and node_events rows.

Times: ISO-8601 with an offset is taken as is; without one it is local time in ``options.tz``
(None = this machine's zone); a bare number is seconds since the epoch. Everything is stored in
UTC. Results: ``fail``/``warn``/``ok`` and their synonyms (see ``parse_result``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa

from gpurel import schema
from gpurel.errors import ConfigError
from gpurel.schema import Result
from gpurel.sources.base import ReadResult, RejectSink
from gpurel.sources.slurm_values import resolve_zone
from gpurel.taxonomy import Classification, Taxonomy

_OFFSET = re.compile(r"^[+-][0-9]{2}:[0-9]{2}$")
MISSING = frozenset({"", "unknown", "none", "(null)", "null", "n/a"})
INT32_MAX = 2**31 - 1
CLASSIFIED = 1 << 16  # classifications remembered

_EPOCH = re.compile(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?")
_RESULTS = {
    Result.FAIL: ("fail", "failed", "failure", "critical", "crit", "error", "2"),
    Result.WARN: ("warn", "warning", "unknown", "1", "3"),
    Result.OK: ("ok", "pass", "passed", "success", "healthy", "0"),
}
_RESULT_OF = {word: result.value for result, words in _RESULTS.items() for word in words}


class BadValue(ValueError):
    """One value of an input row cannot be read; the reader turns it into a reject."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


# --- times -----------------------------------------------------------------------------------


def zone(tz: str | None) -> tzinfo:
    """The zone of local times: ``tz`` as an IANA name or a fixed offset (``+02:00``), or
    this machine's zone for None; the rules of the sacct reader (``resolve_zone``)."""
    name = resolve_zone(tz)
    if _OFFSET.match(name):
        sign = -1 if name[0] == "-" else 1
        return timezone(sign * timedelta(hours=int(name[1:3]), minutes=int(name[4:6])))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"unknown time zone {tz!r}") from exc


def localize(naive: datetime, tz: tzinfo | None) -> datetime:
    """A local wallclock time in ``tz`` (None = this machine's zone) as UTC.

    As in the sacct reader: a time of the repeated autumn hour is its first instant, and one
    in the skipped spring hour is the end of the gap.
    """
    try:
        local = naive.replace(tzinfo=tz or zone(None), fold=0)
        instant = local.astimezone(UTC)
        if instant.astimezone(local.tzinfo).replace(tzinfo=None) != naive:
            instant = _gap_end(local)
        return instant
    except (OverflowError, OSError, ValueError) as exc:
        raise BadValue(None, f"time out of range: {naive}") from exc


def _gap_end(local: datetime) -> datetime:
    """The instant the clock jumped over ``local``, a wall time in the skipped spring hour."""
    low = local.replace(fold=1).astimezone(UTC)  # read with the offset after the jump
    high = local.astimezone(UTC)  # read with the offset before it: past the jump
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(local.tzinfo).utcoffset() == low.astimezone(local.tzinfo).utcoffset():
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)


def from_epoch(seconds: float) -> datetime:
    """Seconds since the epoch as a UTC datetime."""
    try:
        if not math.isfinite(seconds):
            raise ValueError(seconds)
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    except (OverflowError, ValueError) as exc:
        raise BadValue(None, f"epoch seconds out of range: {seconds}") from exc


def parse_time(text: str, tz: tzinfo | None, field: str = "time") -> datetime:
    """An ISO-8601 time (naive = local in ``tz``) or epoch seconds, as UTC."""
    value = text.strip()
    try:
        if _EPOCH.fullmatch(value):
            return from_epoch(float(value))
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            return localize(parsed, tz)
        return parsed.astimezone(UTC)
    except BadValue as exc:
        raise BadValue(field, exc.reason) from exc
    except (ValueError, OverflowError) as exc:
        raise BadValue(field, f"not a time: {value!r}") from exc


def optional_time(text: str | None, tz: tzinfo | None, field: str) -> datetime | None:
    """Like ``parse_time``; empty, ``Unknown`` and ``None`` are no time."""
    if text is None or text.strip().lower() in MISSING:
        return None
    return parse_time(text, tz, field)


# --- values ----------------------------------------------------------------------------------


def parse_result(text: str) -> str:
    """fail/warn/ok from their synonyms; 0/1/2/3 are Nagios codes (3 = unknown = warn)."""
    value = _RESULT_OF.get(text.strip().lower())
    if value is None:
        raise BadValue("result", f"not a result: {text!r} (use fail, warn or ok)")
    return value


def parse_xid(text: str, field: str = "xid") -> int:
    """An XID code: a non-negative integer that fits the int32 column."""
    value = text.strip()
    if not (value.isascii() and value.isdigit()) or int(value) > INT32_MAX:
        raise BadValue(field, f"not an XID code: {value!r}")
    return int(value)


def scalar_text(record: dict[str, Any], key: str) -> str | None:
    """A JSON scalar as text; None when absent or null; objects and lists are BadValue."""
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadValue(key, f"expected a string or number, got {type(value).__name__}")
    return str(value)


# --- classification and rows -----------------------------------------------------------------


@lru_cache(maxsize=CLASSIFIED)
def classify(taxonomy: Taxonomy, check: str, message: str | None = None) -> Classification:
    """By the check's name; when the name is unknown, by the message text.

    Remembered for the last CLASSIFIED (taxonomy, check, message): a log repeats them, and
    each costs a search through the taxonomy's patterns."""
    found = taxonomy.classify_check(check)
    if found.category == "unknown" and message:
        by_text = taxonomy.classify_reason(message)
        if by_text.category != "unknown":
            return by_text
    return found


@dataclass(frozen=True)
class Event:
    """One node_events row before it becomes Arrow."""

    cluster: str
    node: str
    time: datetime
    source: str
    check: str
    classification: Classification
    result: str
    end_time: datetime | None = None
    xid: int | None = None
    job_id: str | None = None
    message: str | None = None
    severity: str | None = None  # overrides the classification's severity

    def row(self) -> dict[str, object]:
        """The canonical node_events row."""
        return {
            "cluster": self.cluster,
            "node": self.node,
            "time": self.time,
            "end_time": self.end_time,
            "source": self.source,
            "check": self.check,
            "category": self.classification.category,
            "domain": self.classification.domain,
            "severity": self.severity or self.classification.severity,
            "result": self.result,
            "xid": self.xid,
            "job_id": self.job_id,
            "message": self.message,
        }


def node_events(events: list[Event]) -> pa.Table:
    """The canonical node_events table of ``events``."""
    table = pa.Table.from_pylist([e.row() for e in events], schema=schema.NODE_EVENTS)
    return schema.conform("node_events", table)


def read_result(
    fmt: str,
    events: list[Event] | pa.Table,
    sink: RejectSink,
    lines: TextLines | LineCount,
    nodes: pa.Table | None = None,
) -> ReadResult:
    """A ReadResult holding node_events (``events``, or their table) and nodes, an inventory
    derived from the input."""
    tables = {"node_events": node_events(events) if isinstance(events, list) else events}
    derived: frozenset[str] = frozenset()
    if nodes is not None:
        tables["nodes"] = nodes
        derived = frozenset({"nodes"})
    return ReadResult(
        fmt, tables, sink.table(), lines.total, lines.skipped, lines.expanded, derived
    )


# --- lines -----------------------------------------------------------------------------------


@dataclass
class LineCount:
    """How many input lines (or records) a reader read, and how many held no record."""

    total: int = 0
    skipped: int = 0
    expanded: int = 0  # rows beyond the first of lines that name several nodes

    def skip(self) -> None:
        """Count one line that holds no record (a header, a comment, another program's line)."""
        self.skipped += 1

    def expand(self, rows: int) -> None:
        """Count a line read into ``rows`` rows (one per node of a hostlist)."""
        self.expanded += rows - 1


class TextLines(LineCount):
    """A text's lines (cut at newlines, as editors number them), counted as they are read."""

    def __init__(self, text: str) -> None:
        lines = text.removeprefix("\ufeff").split("\n")
        if lines[-1] == "":
            lines.pop()  # the newline ending the last line
        super().__init__(total=len(lines))
        self._lines = lines

    def __iter__(self) -> Iterator[tuple[int, str]]:
        """(1-based line number, line) for every non-blank line; blank lines are skipped."""
        for number, line in enumerate(self._lines, start=1):
            line = line.removesuffix("\r")
            if line.strip():
                yield number, line
            else:
                self.skip()


_BOM = "\ufeff".encode()
# non-ASCII letters re.IGNORECASE matches with ASCII ones: U+0130 and U+0131 (i), U+017F (s)
# and the Kelvin sign U+212A (k)
_FOLDED_ALIKE = tuple(c.encode() for c in "\u0130\u0131\u017f\u212a")


class MarkedLines(LineCount):
    """The lines of a UTF-8 text that hold one of ``markers``; the others count as skipped.

    The lines and numbers of TextLines (cut at newlines, without a byte-order mark or a
    line-ending ``\\r``), found by a byte search for the markers instead of a split of every
    line: a log whose lines of interest are few reads at the speed of that search. With
    ``fold_case`` the markers (lower-case ASCII) match in any case, as with re.IGNORECASE.
    """

    def __init__(self, data: bytes, markers: Iterable[bytes], *, fold_case: bool = False) -> None:
        data = data.removeprefix(_BOM)
        total = data.count(b"\n") + (bool(data) and not data.endswith(b"\n"))
        haystack, needles = data, list(markers)
        if fold_case:
            haystack = data.lower()
            needles += [] if data.isascii() else _FOLDED_ALIKE
        starts = {data.rfind(b"\n", 0, at) + 1 for n in needles for at in _found(haystack, n)}
        self._lines: list[tuple[int, str]] = []
        number, position = 1, 0
        for start in sorted(starts):
            number += data.count(b"\n", position, start)
            position = start
            end = data.find(b"\n", start)
            line = data[start : len(data) if end < 0 else end].decode("utf-8")
            self._lines.append((number, line.removesuffix("\r")))
        super().__init__(total=total, skipped=total - len(self._lines))

    def __iter__(self) -> Iterator[tuple[int, str]]:
        """(1-based line number, line) for every line holding a marker, in order."""
        return iter(self._lines)


def _found(data: bytes, needle: bytes) -> Iterator[int]:
    """Where ``needle`` starts in ``data``, every time."""
    at = data.find(needle)
    while at >= 0:
        yield at
        at = data.find(needle, at + len(needle))


def first_line(head: str) -> str:
    """The first non-blank line of ``head`` without a byte-order mark, or ''."""
    for line in head.lstrip("\ufeff").splitlines():
        if line.strip():
            return line.strip()
    return ""


def json_lines(lines: TextLines, sink: RejectSink) -> Iterator[tuple[int, str, Any]]:
    """(line number, raw line, decoded value) per JSON line; undecodable lines are rejected."""
    for number, line in lines:
        try:
            yield number, line, json.loads(line)
        except (ValueError, RecursionError) as exc:
            sink.add(number, None, f"invalid JSON: {exc}", line)


# --- syslog prefixes -------------------------------------------------------------------------

_ISO_PREFIX = re.compile(
    r"(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)"
    r"\s+(?P<host>\S+)\s+(?P<rest>.*)"
)
_CLASSIC_PREFIX = re.compile(
    r"(?P<month>[A-Z][a-z]{2})\s+(?P<day>\d{1,2})\s+(?P<hms>\d{2}:\d{2}:\d{2})"
    r"\s+(?P<host>\S+)\s+(?P<rest>.*)"
)
_TAG = re.compile(r"(?P<tag>[^\s:\[]+)(?:\[\d+\])?:\s?(?P<message>.*)")
_KERNEL_STAMP = re.compile(r"^\[\s*\d+\.\d+\]\s*")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class SyslogLine:
    """A syslog or journal line: when, which host, which program, and what it said."""

    time: datetime
    host: str
    tag: str
    message: str


@dataclass(frozen=True)
class YearHint:
    """The year of classic syslog times (``May  1 10:00:00``), which print none.

    ``forward``: the log starts at ``anchor`` (a trace start), so a date more than a day before
    it belongs to the next year. Otherwise the log ends at ``anchor`` (the file's mtime), so a
    date more than a day after it belongs to the previous year.
    """

    anchor: datetime
    forward: bool

    def resolve(self, month: int, day: int, hms: str, tz: tzinfo | None) -> datetime:
        """The UTC time of a year-less local date."""
        hour, minute, second = (int(part) for part in hms.split(":"))
        try:
            naive = datetime(self.anchor.year, month, day, hour, minute, second)
            when = localize(naive, tz)
            if self.forward and when < self.anchor - timedelta(days=1):
                when = localize(naive.replace(year=naive.year + 1), tz)
            elif not self.forward and when > self.anchor + timedelta(days=1):
                when = localize(naive.replace(year=naive.year - 1), tz)
        except ValueError as exc:
            raise BadValue("time", f"not a date: {month}/{day} {hms}") from exc
        return when


def year_hint(mtime: float, trace_start: datetime | None) -> YearHint:
    """Year-less dates follow ``trace_start`` when given, else they precede the file's mtime."""
    if trace_start is not None:
        start = trace_start if trace_start.tzinfo else trace_start.replace(tzinfo=UTC)
        return YearHint(start.astimezone(UTC), forward=True)
    return YearHint(from_epoch(mtime), forward=False)


def parse_syslog(line: str, tz: tzinfo | None, years: YearHint) -> SyslogLine | None:
    """The prefix of an ISO (rsyslog, ``journalctl -o short-iso``) or classic syslog line."""
    iso = _ISO_PREFIX.match(line)
    classic = None if iso else _CLASSIC_PREFIX.match(line)
    if iso:
        when = parse_time(iso["ts"], tz)
        host, rest = iso["host"], iso["rest"]
    elif classic and classic["month"] in _MONTHS:
        month = _MONTHS.index(classic["month"]) + 1
        when = years.resolve(month, int(classic["day"]), classic["hms"], tz)
        host, rest = classic["host"], classic["rest"]
    else:
        return None
    tagged = _TAG.match(rest)
    tag, message = (tagged["tag"], tagged["message"]) if tagged else ("", rest)
    return SyslogLine(when, host, tag, _KERNEL_STAMP.sub("", message, count=1))
