"""Why nodes are down or drained now, from ``sinfo -R`` (FORMAT ``sinfo-reasons``).

Input: ``sinfo -R`` with its header, in the default layout (``REASON USER TIMESTAMP
NODELIST``, space-aligned; ``-l`` adds STATE) or with ``-o``/``-O`` and ``|`` between the
fields (``sinfo -R -o "%N|%E|%H|%T"``). Columns are found by their header names: REASON,
TIMESTAMP, NODELIST or HOSTNAMES, and optionally USER and STATE. In the space-aligned layout
every column but REASON is one word, so the reason is whatever lies between its neighbours.
TIMESTAMP is the controller's local time without offset, read in ``options.tz``.

Rows: one node_events row per node of the hostlist, at TIMESTAMP, open-ended (``end_time``
null), source ``slurm_event`` so that a reason read from both ``sinfo -R`` and ``sacctmgr
show event`` is stored once; cluster ``options.cluster``. Check, classification, result and
severity follow ``slurm_events`` (without a STATE column the check is ``slurm_reason``; sinfo
-R lists only down, drained and failing nodes, so the result is ``fail``).
"""

from __future__ import annotations

import re
from pathlib import Path

from gpurel.errors import InputError
from gpurel.sources.base import ReadOptions, ReadResult, RejectSink, read_text
from gpurel.sources.event_rows import (
    BadValue,
    Event,
    TextLines,
    first_line,
    parse_time,
    read_result,
    zone,
)
from gpurel.sources.slurm_events import ends_with, node_names, node_reason, split_fields

FORMAT = "sinfo-reasons"

_NODES = ("NODELIST", "HOSTNAMES")
_WORD = re.compile(r"\S+")


def sniff(head: str) -> bool:
    """A ``sinfo -R`` listing: a header naming REASON, TIMESTAMP and NODELIST (or HOSTNAMES)."""
    return _recognised(_header(first_line(head)))


def read(path: Path, options: ReadOptions) -> ReadResult:
    """node_events for every node with a reason."""
    counted = TextLines(read_text(path))
    lines = iter(counted)
    header = next(lines, None)
    columns = _header(header[1]) if header else []
    if not _recognised(columns):
        raise InputError(str(path), "no sinfo -R header naming REASON, TIMESTAMP and NODELIST")
    piped = header is not None and "|" in header[1]
    trailing = header is not None and ends_with(header[1], "|")
    sink = RejectSink(str(path))
    events: list[Event] = []
    tz, taxonomy = zone(options.tz), options.taxonomy
    for number, line in lines:
        try:
            fields = _fields(line, columns, piped, trailing)
            record = dict(zip(columns, fields, strict=True))
            when = parse_time(record["TIMESTAMP"], tz, "TIMESTAMP")
            nodes = record.get("NODELIST") or record.get("HOSTNAMES") or ""
            reason = node_reason(taxonomy, record["REASON"].strip(), record.get("STATE", ""))
            names = node_names(nodes.strip(), "NODELIST")
        except BadValue as exc:
            sink.add(number, exc.field, exc.reason, line)
            continue
        events.extend(reason.event(options.cluster, name, when, None) for name in names)
        counted.expand(len(names))
    counted.skip()  # the header
    return read_result(FORMAT, events, sink, counted)


def _recognised(names: list[str]) -> bool:
    return {"REASON", "TIMESTAMP"} <= set(names) and not set(names).isdisjoint(_NODES)


def _header(line: str) -> list[str]:
    names = line.rstrip().removesuffix("|").split("|") if "|" in line else line.split()
    return [name.strip().upper() for name in names]


def _fields(line: str, columns: list[str], piped: bool, trailing: bool) -> list[str]:
    free = columns.index("REASON")
    if piped:
        return split_fields(line, "|", len(columns), free, trailing)
    words = list(_WORD.finditer(line))
    after = len(columns) - free - 1
    if len(words) < len(columns) - 1:
        raise BadValue(None, f"expected {len(columns)} columns, found {len(words)} words")
    last = len(words) - after - 1  # the last word of the reason
    reason = line[words[free].start() : words[last].end()] if last >= free else ""
    before = [w.group() for w in words[:free]]
    return [*before, reason, *(w.group() for w in words[len(words) - after :])]
