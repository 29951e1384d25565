"""The year of classic syslog dates (``May  1 10:00:00``), which print none, and a note on it.

In order: ``options.year`` (``ingest --year``) is the year of the log's first such date, and
later dates run forward from it (a log from December into January goes on into the next
year); else ``options.trace_start`` starts the log; else the file's modification time ends
it (``event_rows.year_hint``). The last is a guess, since a copy made a year later shifts
every date by a year: the reader then notes which years it took from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from gpurel.errors import InputError
from gpurel.sources.base import ReadOptions
from gpurel.sources.event_rows import YearHint, year_hint


@dataclass(frozen=True)
class SyslogYears(YearHint):
    """A YearHint that remembers the years it gave, and may anchor on the first date."""

    from_mtime: bool = False
    given: int | None = None  # --year: the year of the first date
    _years: set[int] = field(default_factory=set)
    _first: list[YearHint] = field(default_factory=list)

    def resolve(self, month: int, day: int, hms: str, tz: tzinfo | None) -> datetime:
        """The UTC time of a year-less local date."""
        if self.given is None:
            when = super().resolve(month, day, hms, tz)
        elif self._first:
            when = self._first[0].resolve(month, day, hms, tz)
        else:
            when = YearHint(self.anchor, forward=True).resolve(month, day, hms, tz)
            self._first.append(YearHint(when, forward=True))
        self._years.add(when.year)
        return when

    def notes(self) -> tuple[str, ...]:
        """A note when year-less dates took their year from the file's modification time."""
        if not (self.from_mtime and self._years):
            return ()
        years = "-".join(str(y) for y in sorted({min(self._years), max(self._years)}))
        return (
            f"year of syslog dates taken from the file's modification time ({years}); "
            "pass --year to set it",
        )


def syslog_years(path: Path, options: ReadOptions) -> SyslogYears:
    """How the reader of ``path`` dates year-less syslog lines."""
    if options.year is not None:
        return SyslogYears(datetime(options.year, 1, 1, tzinfo=UTC), True, given=options.year)
    try:
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    hint = year_hint(mtime, options.trace_start)
    return SyslogYears(hint.anchor, hint.forward, from_mtime=options.trace_start is None)
