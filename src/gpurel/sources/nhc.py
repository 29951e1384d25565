"""LBNL NHC (Node Health Check): its drain reasons, and its own log (FORMAT ``nhc-log``).

Drain reasons. NHC's ``node-mark-offline`` helper drains a node with the reason
``NHC: <note>``, where the note is ``<check>:  <message>`` (NHC 1.4) or
``Health check failed:  <check>:  <message>`` (NHC 1.5). ``parse_nhc_reason`` returns
(check, message); a note that names no check gives the check ``nhc``.

Log (``/var/log/nhc.log``, or NHC's syslog lines). The reader uses these lines:

- ``Running check:  "check_hw_ib ib0"`` (verbose mode): the check now running, used when a
  failure message does not start with its check's name (``Health check failed:  Actual CPU
  core count (2) does not match expected (8).``);
- ``ERROR:  nhc:  Health check failed:  <check>:  <message>`` (1.4) or
  ``Health check failed:  <check>:  <message>`` (1.5): a failure, result ``fail``;
- ``[1714557600] - `` in front of a line (``NHC_TS=1``): the line's time, epoch seconds;
- ``20240501 10:00:00 /usr/libexec/nhc/node-mark-offline gpu001 <note>``: the helper's line,
  with local time (``options.tz``) and the node name;
- syslog or journal lines of the program ``nhc`` (``... gpu001 nhc[123]: Health check
  failed: ...``), with their time and host (year-less syslog dates as in kernel-xid:
  ``options.year``, else ``options.trace_start``, else the file's modification time, noted).

A failure line without a time takes the time and node of the ``node-mark-offline`` line that
follows it; if none follows it is rejected (enable ``NHC_TS`` or read the syslog lines). A
``node-mark-offline`` line repeating a failure already read with its own time is the same
event and is skipped. The node is the line's host, else the file name (``gpu001.nhc.log``,
``nhc-gpu001.log``); failures with neither are rejected. Other lines (start/end banners,
debug output) carry no result and are ignored. Source ``nhc``; cluster ``options.cluster``.

Only lines naming a failure, a run banner, a running check or node-mark-offline (in any case)
are parsed; the others are counted as skipped unread, so another program's syslog line with a
malformed date is skipped, and ``options.year`` is the year of the first of these lines' dates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from gpurel.sources.base import ReadOptions, ReadResult, RejectSink, read_utf8
from gpurel.sources.event_rows import (
    BadValue,
    Event,
    MarkedLines,
    classify,
    from_epoch,
    localize,
    parse_syslog,
    read_result,
    zone,
)
from gpurel.sources.syslog_years import syslog_years

FORMAT = "nhc-log"
SOURCE = "nhc"

_REASON = re.compile(r"\s*nhc\s*:\s*(?P<note>.*)", re.IGNORECASE | re.DOTALL)
_LEADER = re.compile(r"(?:ERROR:\s+\S+:\s+)?Health check failed:\s*", re.IGNORECASE)
_CHECK = re.compile(r"(?P<check>[A-Za-z_][\w.-]*)\s*:\s*(?P<message>.*)", re.DOTALL)
_STAMP = re.compile(r"\[(?P<epoch>\d{1,12})\]\s+-\s+")
_RUNNING = re.compile(r'Running check:\s+"(?P<command>[^"]*)"')
_OFFLINE = re.compile(
    r"(?P<date>\d{8} \d{2}:\d{2}:\d{2})\s+\S*node-mark-offline\s+(?P<host>\S+)\s+(?P<note>.*)"
)
_STARTING = "Node Health Check starting"
# every line the reader acts on holds one of these (any case): the others are only counted
_MARKERS = (b"health check failed", b"node health check starting", b"running check:",
            b"node-mark-offline")  # fmt: skip
_SNIFF = re.compile(
    r"^(?:\[\d+\]\s+-\s+)?(?:ERROR:\s+\S+:\s+)?(?:Health check failed:|Node Health Check starting)"
    r"|node-mark-offline\s|\snhc(?:\[\d+\])?:\s+Health check failed:",
    re.MULTILINE,
)


def parse_nhc_reason(text: str) -> tuple[str, str] | None:
    """(check, message) of a drain reason set by NHC (``NHC: check_x:  msg``), else None."""
    match = _REASON.fullmatch(text)
    return None if match is None else split_note(match["note"])


def split_note(note: str, running: str | None = None) -> tuple[str, str]:
    """(check, message) of an NHC failure note; ``running`` (or ``nhc``) when it names none."""
    body = note.strip()
    leader = _LEADER.match(body)
    if leader:
        body = body[leader.end() :]
    named = _CHECK.fullmatch(body)
    if named:
        return named["check"], named["message"].strip()
    return running or "nhc", body


def sniff(head: str) -> bool:
    """An NHC log: failure lines, run banners or node-mark-offline lines (no kernel XIDs)."""
    return bool(_SNIFF.search(head)) and "NVRM: Xid" not in head


def read(path: Path, options: ReadOptions) -> ReadResult:
    """node_events for every failure NHC logged."""
    log = _Log(path, options)
    lines = MarkedLines(read_utf8(path), _MARKERS, fold_case=True)
    for number, line in lines:
        try:
            if not log.feed(number, line):
                lines.skip()
        except BadValue as exc:
            log.sink.add(number, exc.field, exc.reason, line)
    log.flush()
    return replace(read_result(FORMAT, log.events, log.sink, lines), notes=log.years.notes())


def node_from_filename(path: Path) -> str | None:
    """``gpu001`` from ``gpu001.nhc.log``, ``nhc-gpu001.log`` or ``nhc.gpu001.log``."""
    for part in path.name.split("."):
        name = re.sub(r"^nhc[-_]", "", part, flags=re.IGNORECASE)
        if name and name.lower() not in {"nhc", "log", "txt", "out"}:
            return name
    return None


@dataclass(frozen=True)
class _Failure:
    line: int
    raw: str
    check: str
    message: str


class _Log:
    """The reading state: the running check and a failure still waiting for its time."""

    def __init__(self, path: Path, options: ReadOptions) -> None:
        self.tz = zone(options.tz)
        self.years = syslog_years(path, options)
        self.cluster = options.cluster
        self.file_node = node_from_filename(path)
        self.sink = RejectSink(str(path))
        self.events: list[Event] = []
        self.running: str | None = None
        self.pending: _Failure | None = None
        self.timed: _Failure | None = None
        self.taxonomy = options.taxonomy

    def feed(self, number: int, line: str) -> bool:
        """Read one line; True when it is a failure record (read now or once its time comes)."""
        when: datetime | None = None
        host = self.file_node
        text = line.strip()
        syslog = parse_syslog(line, self.tz, self.years)
        if syslog is not None:
            if not syslog.tag.lower().startswith("nhc"):
                return False
            when, host, text = syslog.time, syslog.host, syslog.message.strip()
        elif stamp := _STAMP.match(text):
            when, text = from_epoch(int(stamp["epoch"])), text[stamp.end() :]
        return self._dispatch(number, line, text, when, host)

    def _dispatch(
        self, number: int, raw: str, text: str, when: datetime | None, host: str | None
    ) -> bool:
        if text.startswith(_STARTING):
            self.flush()
            self.running = self.timed = None
        elif running := _RUNNING.match(text):
            words = running["command"].split()
            self.running = words[0] if words else None
        elif offline := _OFFLINE.fullmatch(text):
            return self._offline(number, raw, offline)
        elif _LEADER.match(text):
            failure = _Failure(number, raw, *split_note(text, self.running))
            if when is None:
                self.flush()
                self.pending = failure
            else:
                self._emit(failure, when, host)
                self.timed = failure
            return True
        return False

    def _offline(self, number: int, raw: str, offline: re.Match[str]) -> bool:
        """A node-mark-offline line: the time of a pending failure, a repeat of the last
        one, or a failure of its own (True)."""
        try:
            naive = datetime.strptime(offline["date"], "%Y%m%d %H:%M:%S")
        except ValueError as exc:
            raise BadValue("time", f"not a date: {offline['date']!r}") from exc
        when = localize(naive, self.tz)
        check, message = split_note(offline["note"], self.running)
        if self.pending is not None:
            self._emit(self.pending, when, offline["host"])
            self.pending = None
        elif self.timed is not None and (self.timed.check, self.timed.message) == (check, message):
            self.timed = None
        else:
            self._emit(_Failure(number, raw, check, message), when, offline["host"])
            return True
        return False

    def _emit(self, failure: _Failure, when: datetime, host: str | None) -> None:
        if host is None:
            self.sink.add(
                failure.line, "node", "no node name in the line or the file name", failure.raw
            )
            return
        self.events.append(
            Event(
                cluster=self.cluster,
                node=host,
                time=when,
                source=SOURCE,
                check=failure.check,
                classification=classify(self.taxonomy, failure.check, failure.message),
                result="fail",
                message=failure.message or None,
            )
        )

    def flush(self) -> None:
        """Reject a failure that never got a time."""
        if self.pending is not None:
            self.sink.add(
                self.pending.line,
                "time",
                "failure without a time (no NHC_TS stamp and no node-mark-offline line)",
                self.pending.raw,
            )
            self.pending = None
