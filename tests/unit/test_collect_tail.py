"""Following health and kernel logs: each line is read once, across runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gpurel.collect import state
from gpurel.collect.tail import blocks, collect_log
from gpurel.sources.base import ReadOptions
from gpurel.warehouse import Warehouse

OPTIONS = ReadOptions(cluster="c1", tz="UTC")


def gcm(node: str, result: int, when: float, check: str = "check pci") -> str:
    """One GCM health-check record as a JSON line."""
    record = {"node": node, "health_check": check, "result": result, "_msg": "x"}
    return json.dumps(record | {"start_time": when, "end_time": when}) + "\n"


def append(path: Path, text: str) -> None:
    with path.open("a") as handle:
        handle.write(text)


def events(warehouse: Warehouse) -> list[dict[str, Any]]:
    return warehouse.table("node_events").order_by("time").to_pyarrow().to_pylist()


@pytest.fixture
def store() -> Warehouse:
    return Warehouse.in_memory()


def test_each_line_is_read_once(store: Warehouse, tmp_path: Path) -> None:
    log = tmp_path / "health.jsonl"
    log.write_text(gcm("gpu001", 2, 1714557600) + gcm("gpu002", 0, 1714557601))
    assert collect_log(store, log, "auto", OPTIONS)["node_events"] == 2
    assert collect_log(store, log, "auto", OPTIONS) == {}
    append(log, gcm("gpu003", 2, 1714557602))
    assert collect_log(store, log, "auto", OPTIONS)["node_events"] == 1
    assert [e["node"] for e in events(store)] == ["gpu001", "gpu002", "gpu003"]
    position = state.file_position(store, state.file_stream(str(log)))
    assert position is not None
    assert (position.offset, position.line) == (log.stat().st_size, 3)


def test_a_line_being_written_waits_for_its_newline(store: Warehouse, tmp_path: Path) -> None:
    log = tmp_path / "health.jsonl"
    whole = gcm("gpu002", 2, 1714557601)
    log.write_text(gcm("gpu001", 2, 1714557600) + whole[:20])
    collect_log(store, log, "auto", OPTIONS)
    assert len(events(store)) == 1
    append(log, whole[20:])
    collect_log(store, log, "auto", OPTIONS)
    assert [e["node"] for e in events(store)] == ["gpu001", "gpu002"]


def test_truncated_or_replaced_file_is_read_from_its_start(
    store: Warehouse, tmp_path: Path
) -> None:
    log = tmp_path / "health.jsonl"
    log.write_text(gcm("gpu001", 2, 1714557600) + gcm("gpu002", 2, 1714557601))
    collect_log(store, log, "auto", OPTIONS)
    log.write_text(gcm("gpu003", 2, 1714557602))  # truncated: shorter than the offset
    collect_log(store, log, "auto", OPTIONS)
    rotated = tmp_path / "new.jsonl"
    rotated.write_text(gcm("gpu004", 2, 1714557603) + gcm("gpu005", 2, 1714557604) * 2)
    rotated.replace(log)  # another inode under the same name
    collect_log(store, log, "auto", OPTIONS)
    assert [e["node"] for e in events(store)] == [f"gpu00{i}" for i in range(1, 6)]


def test_rejects_name_the_log_and_its_real_line(store: Warehouse, tmp_path: Path) -> None:
    log = tmp_path / "health.jsonl"
    log.write_text(gcm("gpu001", 2, 1714557600) + gcm("gpu002", 2, 1714557601))
    collect_log(store, log, "auto", OPTIONS)
    append(log, gcm("gpu003", 2, 1714557602) + '{"node": "gpu004", "health_check": \n')
    written = collect_log(store, log, "auto", OPTIONS)
    assert written["rejects"] == 1
    (reject,) = store.table("rejects").to_pyarrow().to_pylist()
    assert (reject["source"], reject["line"]) == (str(log), 4)


def test_kernel_log_and_nhc_log_keep_what_their_readers_need(
    store: Warehouse, tmp_path: Path
) -> None:
    kern = tmp_path / "kern.log"
    kern.write_text(
        "May  1 10:00:00 gpu006 kernel: [1.0] usb 1-1: new device\n"
        "May  1 10:00:01 gpu006 kernel: [2.0] NVRM: Xid (PCI:0000:07:00): 79, pid=1, "
        "name=python, GPU has fallen off the bus.\n"
    )
    assert collect_log(store, kern, "kernel-xid", OPTIONS)["node_events"] == 1
    nhc = tmp_path / "gpu002.nhc.log"  # the node comes from the file name
    nhc.write_text(
        "[1714557602] - ERROR:  nhc:  Health check failed:  check_fs_mount:  /scratch not mounted\n"
    )
    assert collect_log(store, nhc, "auto", OPTIONS)["node_events"] == 1
    found = {(e["node"], e["source"], e["xid"]) for e in events(store)}
    assert found == {("gpu006", "kernel_xid", 79), ("gpu002", "nhc", None)}


def test_large_growth_is_read_in_blocks(tmp_path: Path) -> None:
    log = tmp_path / "health.jsonl"
    lines = [gcm(f"gpu{i:03d}", 0, 1714557600 + i) for i in range(10)]
    log.write_text("".join(lines))
    parts = list(blocks(log, None, block_bytes=len(lines[0]) * 3 - 1))
    assert [before for _, _, before in parts] == [0, 3, 6, 9]
    assert b"".join(data for data, _, _ in parts) == log.read_bytes()
    assert parts[-1][1].offset == log.stat().st_size
