"""NVIDIA XID lines from kernel logs."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from reader_fuzz import read_quietly, texts_of

from gpurel.sources import kernel_xid
from gpurel.sources.base import ReadOptions

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"
OPTIONS = ReadOptions(cluster="rsc1", tz="UTC")


def _copy(tmp_path: Path, name: str, mtime: datetime) -> Path:
    path = tmp_path / name
    path.write_bytes((FIXTURES / name).read_bytes())
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path


def test_sniff() -> None:
    assert kernel_xid.sniff((FIXTURES / "kernel_xid_iso.log").read_text())
    assert not kernel_xid.sniff((FIXTURES / "nhc.log").read_text())
    assert not kernel_xid.sniff("Cluster|NodeName|TimeStart\n")


def test_iso_lines() -> None:
    result = kernel_xid.read(FIXTURES / "kernel_xid_iso.log", OPTIONS)
    rows = result.tables["node_events"].to_pylist()
    assert [(r["node"], r["xid"], r["check"], r["category"]) for r in rows] == [
        ("gpu001", 79, "xid_79", "gpu_unavailable"),
        ("gpu002", 63, "xid_63", "gpu_memory"),
        ("gpu003", 79, "xid_79", "gpu_unavailable"),  # no Xid header, no Xid 79 nearby
    ]
    first = rows[0]
    assert first["time"] == datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert first["message"].startswith("Xid (PCI:0000:10:1c): 79, pid=1234")
    assert (first["source"], first["result"], first["severity"]) == ("kernel_xid", "fail", "high")
    assert rows[1]["severity"] == "low"
    assert rows[2]["message"] == "GPU at 0000:01:00.0 has fallen off the bus."
    rejects = result.rejects.to_pylist()
    assert [(r["line"], r["field"]) for r in rejects] == [(7, "time"), (8, "xid")]


def test_journal_short_iso() -> None:
    rows = kernel_xid.read(FIXTURES / "kernel_xid_journal.log", OPTIONS).tables["node_events"]
    assert rows.column("category").to_pylist() == ["gsp_timeout", "user"]
    assert rows.column("time").to_pylist()[0] == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_classic_syslog_year_from_mtime(tmp_path: Path) -> None:
    path = _copy(tmp_path, "kernel_xid_classic.log", datetime(2025, 1, 2, tzinfo=UTC))
    result = kernel_xid.read(path, ReadOptions(tz="Europe/Paris"))
    times = result.tables["node_events"].column("time").to_pylist()
    assert times == [
        datetime(2024, 12, 31, 22, 59, tzinfo=UTC),
        datetime(2024, 12, 31, 23, 1, tzinfo=UTC),
    ]
    assert result.tables["node_events"].column("category").to_pylist() == ["gpu_memory", "nvlink"]
    assert [r["line"] for r in result.rejects.to_pylist()] == [3]


def test_classic_syslog_year_from_trace_start(tmp_path: Path) -> None:
    path = _copy(tmp_path, "kernel_xid_classic.log", datetime(2030, 6, 1, tzinfo=UTC))
    options = ReadOptions(tz="UTC", trace_start=datetime(2023, 12, 1, tzinfo=UTC))
    times = kernel_xid.read(path, options).tables["node_events"].column("time").to_pylist()
    assert [t.year for t in times] == [2023, 2024]


_TEXTS = texts_of(
    ["\n", " ", "NVRM: ", "Xid (PCI:0000:10:1c): ", "79, ", "fallen off the bus", "kernel: ",
     "2024-05-01T10:00:00+00:00 gpu001 ", "May  1 10:00:00 gpu001 ", "Feb 29 10:00:00 g ",
     "9999-12-31T23:59:59-12:00 h ", "[12.5] ", "99999999999999"]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(_TEXTS)
def test_fuzz_never_raises_outside_the_error_family(text: str) -> None:
    kernel_xid.sniff(text)
    read_quietly(kernel_xid.read, text, OPTIONS, "kern.log")
