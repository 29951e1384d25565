"""NVIDIA XID errors from kernel logs (FORMAT ``kernel-xid``).

Input: syslog or journal text with the NVIDIA driver's lines, e.g.
``NVRM: Xid (PCI:0000:10:1c): 79, pid=1234, name=python, GPU has fallen off the bus.`` (also
``pid='<unknown>', name=<unknown>`` of newer drivers and the older ``Xid (0000:01:00): 3, ...``),
and ``NVRM: GPU 0000:2b:00.0: GPU has fallen off the bus.`` without an Xid header. Each line
needs a time and host prefix, in one of:

- ISO (rsyslog RFC 3339): ``2024-05-01T10:00:00.123456+00:00 gpu001 kernel: NVRM: ...``;
- ``journalctl -o short-iso``: ``2024-05-01T10:00:00+0000 gpu001 kernel: NVRM: ...``;
- classic syslog: ``May  1 10:00:00 gpu001 kernel: [12345.678] NVRM: ...``, local time in
  ``options.tz``. It prints no year (``syslog_years``): ``options.year`` is the year of the
  first such date, later ones running forward from it; else the year is that of
  ``options.trace_start`` (a date more than a day before it belongs to the next year); else
  that of the file's modification time (a date more than a day after it belongs to the
  previous year), and the result notes it.

A kernel log is mostly unrelated lines, so lines that are not XID reports are counted as skipped;
an XID line whose prefix or code cannot be read is rejected.

Rows: node = the line's host, check = ``xid_<code>``, xid filled, classified by the XID code
(``taxonomy.classify_xid``), result ``fail``, message = the driver's text from ``Xid`` on,
source ``kernel_xid``, cluster ``options.cluster``. A "fallen off the bus" line without an Xid
header is XID 79; it is dropped when an ``Xid ...: 79`` line of the same host lies within
60 s, since the driver prints both for the same event.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

from gpurel.sources.base import ReadOptions, ReadResult, RejectSink, read_utf8
from gpurel.sources.event_rows import (
    BadValue,
    Event,
    MarkedLines,
    parse_syslog,
    parse_xid,
    read_result,
    zone,
)
from gpurel.sources.syslog_years import SyslogYears, syslog_years
from gpurel.taxonomy import Taxonomy

FORMAT = "kernel-xid"
SOURCE = "kernel_xid"

FALLEN_OFF = 79
SAME_EVENT = timedelta(seconds=60)

_NVRM = "NVRM:"  # the driver's lines; a kernel log's other lines are only counted
_XID = re.compile(r"Xid\s*\((?P<device>[^)]*)\):\s*(?P<code>\d+)")
_OFF_BUS = re.compile(r"fallen off the bus", re.IGNORECASE)


def sniff(head: str) -> bool:
    """A kernel log with NVIDIA XID reports."""
    return "NVRM: Xid" in head or bool(re.search(r"NVRM: .*fallen off the bus", head))


def read(path: Path, options: ReadOptions) -> ReadResult:
    """node_events for every XID report; other kernel lines are ignored."""
    sink = RejectSink(str(path))
    context = _Context(
        options.cluster,
        zone(options.tz),
        syslog_years(path, options),
        options.taxonomy,
    )
    reports: list[Event] = []
    headerless: list[Event] = []
    lines = MarkedLines(read_utf8(path), [_NVRM.encode()])
    for number, line in lines:
        nvrm = line.find(_NVRM)
        if "Xid" not in line and not _OFF_BUS.search(line):
            lines.skip()
            continue
        try:
            event, headed = _event(line, nvrm, context)
        except BadValue as exc:
            sink.add(number, exc.field, exc.reason, line)
            continue
        (reports if headed else headerless).append(event)
    unreported = _unreported(headerless, reports)
    for _ in range(len(headerless) - len(unreported)):
        lines.skip()  # the driver's second line of an event its Xid line reports
    result = read_result(FORMAT, reports + unreported, sink, lines)
    return replace(result, notes=context.years.notes())


@dataclass(frozen=True)
class _Context:
    cluster: str
    tz: tzinfo | None
    years: SyslogYears
    taxonomy: Taxonomy


def _event(line: str, nvrm: int, context: _Context) -> tuple[Event, bool]:
    """The XID event of one NVRM line, and whether it had an Xid header."""
    prefix = parse_syslog(line, context.tz, context.years)
    if prefix is None:
        raise BadValue("time", "no syslog time and host before the NVRM text")
    xid = _XID.search(line, nvrm)
    if xid is None and not _OFF_BUS.search(line):
        raise BadValue("xid", "an Xid line without a readable code")
    code = parse_xid(xid["code"]) if xid else FALLEN_OFF
    start = xid.start() if xid else nvrm + len(_NVRM)
    event = Event(
        cluster=context.cluster,
        node=prefix.host,
        time=prefix.time,
        source=SOURCE,
        check=f"xid_{code}",
        classification=context.taxonomy.classify_xid(code),
        result="fail",
        xid=code,
        message=line[start:].strip(),
    )
    return event, xid is not None


def _unreported(headerless: list[Event], reports: list[Event]) -> list[Event]:
    """Header-less "fallen off the bus" lines with no ``Xid ...: 79`` line close to them."""
    seen: dict[str, list[datetime]] = {}
    for event in reports:
        if event.xid == FALLEN_OFF:
            seen.setdefault(event.node, []).append(event.time)
    for times in seen.values():
        times.sort()
    return [e for e in headerless if not _near(seen.get(e.node, []), e.time)]


def _near(times: list[datetime], time: datetime) -> bool:
    """Whether one of the sorted ``times`` lies within SAME_EVENT of ``time``."""
    at = bisect_left(times, time - SAME_EVENT)
    return at < len(times) and times[at] <= time + SAME_EVENT
