"""The fields of node-event records as people spell them: their names and their results.

Each canonical field is looked up under its accepted names, in order of preference: the first
name the record has is read, the others are left alone. ``ReadOptions.field_map`` (``ingest
--map FIELD=COLUMN``) replaces a field's names by one column of the user's choosing. CSV
headers are matched without regard to case; JSON keys exactly, as JSON spells them.

Results: ``parse_status`` reads fail/warn/ok and their synonyms (``event_rows.parse_result``:
OK, PASS, WARN, FAIL, ERROR, CRITICAL, UNKNOWN..., and the Nagios codes 0-3) and the
booleans: true = the check passed (ok), false = it failed (fail).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gpurel.sources.event_rows import parse_result

_TIME = ("time", "timestamp", "ts", "@timestamp", "datetime")
_NODE = ("node", "host", "hostname", "nodename")
_CHECK = ("check", "health_check", "name", "test")
_RESULT = ("result", "status", "state")
_MESSAGE = ("message", "msg", "_msg", "detail")

EVENT_FIELDS: Mapping[str, tuple[str, ...]] = {
    "time": _TIME,
    "node": _NODE,
    "check": _CHECK,
    "result": _RESULT,
    "message": _MESSAGE,
    "cluster": ("cluster",),
    "end_time": ("end_time",),
    "severity": ("severity",),
    "job_id": ("job_id",),
    "xid": ("xid",),
}
"""Plain node events (CSV and JSON lines)."""

GCM_FIELDS: Mapping[str, tuple[str, ...]] = {
    "time": ("start_time", *_TIME),
    "end_time": ("end_time",),
    "node": _NODE,
    "check": ("health_check", "check", "name", "test"),
    "result": _RESULT,
    "message": ("_msg", "message", "msg", "detail"),
    "cluster": ("cluster",),
    "job_id": ("job_id",),
}
"""GCM health-check records: GCM's own names first."""


@dataclass(frozen=True)
class FieldNames:
    """The accepted names of each canonical field, in order of preference."""

    names: Mapping[str, tuple[str, ...]]
    fold_case: bool = False  # match names without regard to case (CSV headers)
    given: tuple[tuple[str, str], ...] = ()  # the --map entries applied

    def mapped(self, field_map: Iterable[tuple[str, str]]) -> FieldNames:
        """With ``--map FIELD=COLUMN``: each field named reads only that column. Fields this
        record kind does not have are left to the readers that have them."""
        names = dict(self.names)
        given = tuple((f, c) for f, c in field_map if f in names)
        for field, column in given:
            names[field] = (column,)
        return FieldNames(names, self.fold_case, self.given + given)

    def unmatched(self, columns: Mapping[str, str]) -> list[str]:
        """The ``--map`` entries (``time=when``) whose column ``columns`` lacks."""
        return [f"{field}={column}" for field, column in self.given if field not in columns]

    def columns(self, present: Iterable[str]) -> dict[str, str]:
        """field -> the first of its names among ``present`` (as ``present`` spells it)."""
        spelled = {self._key(name): name for name in reversed(list(present))}
        found = {}
        for field, names in self.names.items():
            column = next((spelled[k] for k in map(self._key, names) if k in spelled), None)
            if column is not None:
                found[field] = column
        return found

    def accepted(self, field: str) -> str:
        """The names ``field`` is read from, for a message: ``time, timestamp or ts``."""
        names = self.names[field]
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"

    def renamed(self, columns: Mapping[str, str]) -> str | None:
        """A note naming the fields read from a column of another name (or by --map), or None."""
        given = dict(self.given)
        other = [
            f"{column} as {field}"
            for field, column in columns.items()
            if field in given or self._key(column) != self._key(self.names[field][0])
        ]
        return f"read {', '.join(other)}" if other else None

    def key_pattern(self, fields: Iterable[str]) -> re.Pattern[str]:
        """A regex finding the JSON keys of ``fields`` (``"name":``) in a line."""
        names = sorted({n for f in fields for n in self.names[f]}, key=len, reverse=True)
        flags = re.IGNORECASE if self.fold_case else 0
        return re.compile('"(' + "|".join(map(re.escape, names)) + r')"\s*:', flags)

    def _key(self, name: str) -> str:
        return name.strip().lower() if self.fold_case else name


def parse_status(text: str) -> str:
    """fail/warn/ok of a result, its synonyms, a Nagios code or a boolean (true = ok)."""
    value = text.strip().lower()
    if value in ("true", "false"):
        return "ok" if value == "true" else "fail"
    return parse_result(text)
