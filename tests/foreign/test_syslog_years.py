"""The year of syslog dates, which print none: --year, else the file's time, said in a note."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from gpurel.sources import kernel_xid, nhc
from gpurel.sources.base import ReadOptions, ReadResult

KERN_LOG = (
    "Dec 31 23:00:00 gpu001 kernel: [1.0] NVRM: Xid (PCI:0000:10:1c): 79, pid=1, off the bus.\n"
    "Dec 31 23:30:00 gpu001 systemd[1]: Started Session 4.\n"
    "Jan  1 01:00:00 gpu002 kernel: [2.0] NVRM: Xid (PCI:0000:10:1c): 48, pid=2, DBE.\n"
)  # fmt: skip


def _log(tmp_path: Path, text: str, name: str, mtime: datetime) -> Path:
    path = tmp_path / name
    path.write_text(text)
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path


def accounted(result: ReadResult) -> bool:
    return result.lines + result.expanded == result.records + result.rejects.num_rows + (
        result.skipped
    )


def _times(result: ReadResult) -> list[datetime]:
    return [r["time"] for r in result.tables["node_events"].to_pylist()]


def test_year_from_the_file_time_is_noted(tmp_path: Path) -> None:
    path = _log(tmp_path, KERN_LOG, "kern.log", datetime(2026, 1, 2, tzinfo=UTC))
    result = kernel_xid.read(path, ReadOptions(tz="UTC"))
    assert _times(result) == [
        datetime(2025, 12, 31, 23, tzinfo=UTC),
        datetime(2026, 1, 1, 1, tzinfo=UTC),
    ]
    assert result.notes == (
        "year of syslog dates taken from the file's modification time (2025-2026); "
        "pass --year to set it",
    )
    assert accounted(result) and (result.lines, result.skipped) == (3, 1)


def test_year_option_is_the_first_dates_year_and_runs_forward(tmp_path: Path) -> None:
    path = _log(tmp_path, KERN_LOG, "kern.log", datetime(2026, 6, 1, tzinfo=UTC))
    result = kernel_xid.read(path, ReadOptions(tz="UTC", year=2023))
    assert _times(result) == [
        datetime(2023, 12, 31, 23, tzinfo=UTC),
        datetime(2024, 1, 1, 1, tzinfo=UTC),
    ]
    assert result.notes == ()


def test_dated_lines_need_no_note(tmp_path: Path) -> None:
    text = "2024-05-01T10:00:00+00:00 gpu001 kernel: NVRM: Xid (PCI:0000:10:1c): 79, pid=1\n"
    path = _log(tmp_path, text, "kern.log", datetime(2026, 6, 1, tzinfo=UTC))
    result = kernel_xid.read(path, ReadOptions(tz="UTC"))
    assert _times(result) == [datetime(2024, 5, 1, 10, tzinfo=UTC)] and result.notes == ()


def test_nhc_syslog_lines(tmp_path: Path) -> None:
    text = (
        "May  1 10:00:00 gpu001 nhc[12]: Health check failed:  check_hw_ib:  ib0 down\n"
        "May  1 10:05:00 gpu001 sshd[9]: Accepted key\n"
    )
    path = _log(tmp_path, text, "messages", datetime(2026, 6, 1, tzinfo=UTC))
    guessed = nhc.read(path, ReadOptions(tz="UTC"))
    assert _times(guessed) == [datetime(2026, 5, 1, 10, tzinfo=UTC)]
    assert "modification time (2026)" in guessed.notes[0]
    given = nhc.read(path, ReadOptions(tz="UTC", year=2022))
    assert _times(given) == [datetime(2022, 5, 1, 10, tzinfo=UTC)] and given.notes == ()
    assert accounted(given) and (given.lines, given.skipped) == (2, 1)
