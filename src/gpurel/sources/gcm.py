"""Meta GCM health-check records (FORMAT ``gcm``).

Input: JSON lines written by GCM's health-check telemetry (github.com/facebookresearch/gcm,
``gcm/schemas/health_check/log.py`` HealthCheckLog): ``node``, ``cluster``,
``derived_cluster``, ``health_check`` (a HealthCheckName value such as ``check pci`` or
``nvidia smi row_remap``), ``type`` (prolog, epilog, nagios, app), ``result`` (ExitCode),
``_msg``, ``job_id`` (0 = none), ``start_time`` and ``end_time`` (``time.time()`` epoch
seconds; ISO-8601 is accepted too, naive = ``options.tz``). A line holds one record, a JSON
list of records (GCM's stdout sink) or a Scuba message ``{"int": {...}, "double": {...},
"normal": {...}, "tags": {...}}`` (GCM's file sink), whose groups are merged.

Rows: time = ``start_time`` (``end_time`` when the start is missing or 0), end_time =
``end_time`` (the check's run), check = ``health_check``, message = ``_msg``, job_id kept
unless 0, cluster from the record else ``options.cluster``, source ``gcm``.

Result: 0 OK -> ``ok``, 1 WARN -> ``warn``, 2 CRITICAL -> ``fail``, 3 UNKNOWN -> ``warn``:
UNKNOWN means the check could not run or decide (GCM's default exit code when a check dies),
which is a sign of trouble on the node but never a failing check, so it cannot attribute a
job failure. The words ok/warn/critical/unknown are accepted too.

XIDs: GCM's ``xid errors`` check names what it found in its message (``XID error: 79, XID
causes: ...``, ``non-critical XID error: 13, ...``); the first critical XID (else the first)
fills the ``xid`` column and classifies the row by that XID. Other rows are classified by the
check's name, then by the message.
"""

from __future__ import annotations

import re
from datetime import tzinfo
from pathlib import Path
from typing import Any

from gpurel.sources.base import ReadOptions, ReadResult, RejectSink, read_text
from gpurel.sources.event_rows import (
    BadValue,
    Event,
    classify,
    first_line,
    json_lines,
    optional_time,
    parse_result,
    read_result,
    scalar_text,
    zone,
)
from gpurel.taxonomy import Classification, Taxonomy

FORMAT = "gcm"
SOURCE = "gcm"

_SCUBA_GROUPS = ("normal", "int", "double")
_SCUBA_KEYS = frozenset({*_SCUBA_GROUPS, "tags"})
_XID = re.compile(r"(?P<minor>non-critical )?XID error: (?P<code>\d{1,9})\b", re.IGNORECASE)


def sniff(head: str) -> bool:
    """GCM health-check JSON lines: the first line is JSON naming ``health_check``."""
    line = first_line(head)
    return line[:1] in ("{", "[") and '"health_check"' in line


def read(path: Path, options: ReadOptions) -> ReadResult:
    """node_events for every health-check record (ok, warn and fail alike)."""
    sink = RejectSink(str(path))
    events: list[Event] = []
    tz, taxonomy = zone(options.tz), options.taxonomy
    for number, line, value in json_lines(read_text(path), sink):
        for record in value if isinstance(value, list) else [value]:
            try:
                events.append(_event(_flatten(record), options, tz, taxonomy))
            except BadValue as exc:
                sink.add(number, exc.field, exc.reason, line)
    return read_result(FORMAT, events, sink)


def _flatten(record: Any) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise BadValue(None, f"expected a JSON object, got {type(record).__name__}")
    if record and set(record) <= _SCUBA_KEYS:
        merged: dict[str, Any] = {}
        for group in _SCUBA_GROUPS:
            values = record.get(group) or {}
            if not isinstance(values, dict):
                raise BadValue(group, "a Scuba group must be a JSON object")
            merged.update(values)
        return merged
    return record


def _required(record: dict[str, Any], key: str) -> str:
    value = (scalar_text(record, key) or "").strip()
    if not value:
        raise BadValue(key, f"missing {key}")
    return value


def _event(record: dict[str, Any], options: ReadOptions, tz: tzinfo | None, tax: Taxonomy) -> Event:
    node, check = _required(record, "node"), _required(record, "health_check")
    result = parse_result(_required(record, "result"))
    start = optional_time(_nonzero(record, "start_time"), tz, "start_time")
    end = optional_time(_nonzero(record, "end_time"), tz, "end_time")
    time = start or end
    if time is None:
        raise BadValue("start_time", "neither start_time nor end_time")
    message = scalar_text(record, "_msg") or None
    xid = _xid_in(message or "")
    job_id = scalar_text(record, "job_id")
    return Event(
        cluster=(scalar_text(record, "cluster") or "").strip() or options.cluster,
        node=node,
        time=time,
        end_time=end if start else None,
        source=SOURCE,
        check=check,
        classification=_classification(tax, check, message, xid),
        result=result,
        xid=xid,
        job_id=None if job_id in (None, "", "0") else job_id,
        message=message,
    )


def _nonzero(record: dict[str, Any], key: str) -> str | None:
    value = scalar_text(record, key)
    return None if value is not None and value.strip() in ("0", "0.0") else value


def _xid_in(message: str) -> int | None:
    found = list(_XID.finditer(message))
    if not found:
        return None
    critical = [m for m in found if not m["minor"]]
    return int((critical or found)[0]["code"])


def _classification(
    taxonomy: Taxonomy, check: str, message: str | None, xid: int | None
) -> Classification:
    return taxonomy.classify_xid(xid) if xid is not None else classify(taxonomy, check, message)
