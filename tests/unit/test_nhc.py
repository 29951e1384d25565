"""NHC drain reasons and the nhc-log reader."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from reader_fuzz import read_quietly, texts_of

from gpurel.sources import nhc
from gpurel.sources.base import ReadOptions

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"
UTC_OPTIONS = ReadOptions(cluster="rsc1", tz="UTC")


@pytest.mark.parametrize(
    ("reason", "parsed"),
    [
        ("NHC: check_fs_mount:  /scratch not mounted", ("check_fs_mount", "/scratch not mounted")),
        (
            "NHC: check_hw_ib:  No IB port mlx5_0:1 is ACTIVE",
            ("check_hw_ib", "No IB port mlx5_0:1 is ACTIVE"),
        ),
        (
            "NHC: Health check failed:  check_ps_service:  sshd not running",
            ("check_ps_service", "sshd not running"),
        ),
        ("nhc: check_fs_free: /tmp has only 1% free", ("check_fs_free", "/tmp has only 1% free")),
        (
            "NHC: Health check failed:  Actual CPU core count (2) does not match expected (8).",
            ("nhc", "Actual CPU core count (2) does not match expected (8)."),
        ),
        ("Not responding", None),
        ("node is NHC: check_x: y", None),
    ],
)
def test_parse_nhc_reason(reason: str, parsed: tuple[str, str] | None) -> None:
    assert nhc.parse_nhc_reason(reason) == parsed


@pytest.mark.parametrize(
    ("name", "node"),
    [("gpu001.nhc.log", "gpu001"), ("nhc-gpu002.log", "gpu002"), ("nhc.gpu003.log", "gpu003"),
     ("nhc.log", None)],
)  # fmt: skip
def test_node_from_filename(name: str, node: str | None) -> None:
    assert nhc.node_from_filename(Path(name)) == node


def _rows(path: Path, options: ReadOptions = UTC_OPTIONS) -> list[dict]:
    return nhc.read(path, options).tables["node_events"].to_pylist()


def test_log_with_node_mark_offline_lines() -> None:
    result = nhc.read(FIXTURES / "nhc.log", UTC_OPTIONS)
    rows = result.tables["node_events"].to_pylist()
    assert [(r["node"], r["check"], r["category"]) for r in rows] == [
        ("gpu001", "check_fs_mount", "filesystem_mount"),
        ("gpu001", "check_hw_cpuinfo", "cpu_memory"),
    ]
    assert rows[0]["time"] == datetime(2024, 5, 1, 10, 0, 3, tzinfo=UTC)
    assert rows[0]["message"] == "/scratch not mounted"
    assert {(r["source"], r["result"], r["cluster"]) for r in rows} == {("nhc", "fail", "rsc1")}
    rejects = result.rejects.to_pylist()
    assert [(r["line"], r["field"]) for r in rejects] == [(13, "time")]


def test_nhc_ts_stamps_and_node_from_filename() -> None:
    rows = _rows(FIXTURES / "gpu002.nhc.log")
    assert len(rows) == 1  # the node-mark-offline line repeats the stamped failure
    assert rows[0]["node"] == "gpu002"
    assert rows[0]["time"] == datetime(2024, 5, 1, 10, 0, 2, tzinfo=UTC)
    assert (rows[0]["check"], rows[0]["category"]) == ("check_ps_service", "host_service")


def test_syslog_lines(tmp_path: Path) -> None:
    path = tmp_path / "messages"
    path.write_bytes((FIXTURES / "nhc_syslog.log").read_bytes())
    mtime = datetime(2024, 6, 1, tzinfo=UTC).timestamp()
    os.utime(path, (mtime, mtime))
    rows = _rows(path)
    assert [(r["node"], r["check"], r["category"]) for r in rows] == [
        ("gpu003", "check_fs_mount_rw", "filesystem_mount"),
        ("gpu004", "check_hw_eth", "frontend_network"),
    ]
    assert rows[1]["time"] == datetime(2024, 5, 1, 10, 30, tzinfo=UTC)


def test_sniff() -> None:
    assert nhc.sniff((FIXTURES / "nhc.log").read_text())
    assert nhc.sniff((FIXTURES / "nhc_syslog.log").read_text())
    assert not nhc.sniff((FIXTURES / "kernel_xid_iso.log").read_text())
    assert not nhc.sniff("Cluster|NodeName|TimeStart\nc|n|NHC: Health check failed:  x: y\n")


_TEXTS = texts_of(
    ["\n", "  ", "Node Health Check starting.\n", 'Running check:  "check_hw_ib x"\n',
     "ERROR:  nhc:  Health check failed:  ", "check_fs_mount:  /x not mounted",
     "[1714557600] - ", "[99999999999] - ", "20240501 10:00:03 /usr/libexec/nhc/node-mark-offline ",
     "20241399 99:00:03 /x/node-mark-offline ", "gpu001 ", "May  1 10:30:00 gpu004 nhc[1]: ",
     "Feb 30 10:30:00 h nhc: ", "2024-05-01T10:00:02+00:00 gpu003 nhc[4242]: "]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(_TEXTS)
def test_fuzz_never_raises_outside_the_error_family(text: str) -> None:
    nhc.sniff(text)
    nhc.parse_nhc_reason(text)
    read_quietly(nhc.read, text, UTC_OPTIONS, "gpu009.nhc.log")
