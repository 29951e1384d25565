"""Inputs that used to hang or break a reader: each reads, or gives one clean error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gpurel.ingest import ingest, ingest_file
from gpurel.sources.base import ReadOptions
from gpurel.warehouse import Warehouse

UTC_OPTIONS = ReadOptions(cluster="c", tz="UTC")
SACCT = (
    "JobID|State|Submit|Start|End\n"
    "1|COMPLETED|2024-01-01T00:00:00|2024-01-01T00:00:00|2024-01-01T01:00:00\n"
)


def _ingest(path: Path, fmt: str = "auto"):  # type: ignore[no-untyped-def]
    warehouse = Warehouse.in_memory()
    try:
        return ingest_file(warehouse, path, UTC_OPTIONS, fmt)
    finally:
        warehouse.close()


def test_a_fifo_is_refused_instead_of_read_forever(tmp_path: Path) -> None:
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    outcome = _ingest(fifo)
    assert not outcome.ok and "not a regular file" in (outcome.error or "")


def test_a_directory_is_refused(tmp_path: Path) -> None:
    outcome = _ingest(tmp_path)
    assert not outcome.ok and "directory" in (outcome.error or "")


def test_a_byte_order_mark_does_not_hide_a_sacct_header(tmp_path: Path) -> None:
    path = tmp_path / "sacct.txt"
    path.write_bytes("\ufeff".encode() + SACCT.encode())
    for fmt in ("auto", "sacct"):
        outcome = _ingest(path, fmt)
        assert outcome.ok, outcome.error
        assert (outcome.format, outcome.stored, outcome.skipped) == ("sacct", 1, 1)


def test_a_ten_megabyte_drain_reason_is_one_event(tmp_path: Path) -> None:
    path = tmp_path / "events.txt"
    reason = "NHC: check_fs_mount: /scratch not mounted " + "x" * 10_000_000
    path.write_text(
        "Cluster|NodeName|TimeStart|TimeEnd|State|Reason|User\n"
        f"c|gpu001|2024-05-01T10:00:00|2024-05-01T12:00:00|DRAIN|{reason}|root(0)\n"
    )
    warehouse = Warehouse.in_memory()
    try:
        outcome = ingest_file(warehouse, path, UTC_OPTIONS)
        (category,) = warehouse.table("node_events").category.to_pyarrow().to_pylist()
    finally:
        warehouse.close()
    assert outcome.ok and (outcome.stored, outcome.rejected) == (1, 0)
    assert category == "filesystem_mount"


def test_a_reader_that_breaks_stops_its_file_not_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gpurel.sources import sinfo_reasons

    def broken(path: Path, options: ReadOptions) -> None:
        raise ValueError("unexpected")

    monkeypatch.setattr(sinfo_reasons, "read", broken)
    first = tmp_path / "reasons.txt"
    first.write_text("REASON USER TIMESTAMP NODELIST\nNHC: down root 2024-05-01T10:00:00 gpu001\n")
    second = tmp_path / "sacct.txt"
    second.write_text(SACCT)
    warehouse = Warehouse.in_memory()
    try:
        outcomes = ingest(warehouse, [first, second], UTC_OPTIONS)
    finally:
        warehouse.close()
    assert "internal error" in (outcomes[0].error or "") and "ValueError" in outcomes[0].error
    assert outcomes[1].ok and outcomes[1].stored == 1
