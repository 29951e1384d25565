"""Several processes on one warehouse: one writer at a time, any number of readers.

A child process takes the warehouse and holds it until the test writes a line to its stdin:
the test knows the lock is held when the child says so on its stdout (no sleeps).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
import typer

from gpurel import demo, parquet_store
from gpurel.cli.common import open_warehouse
from gpurel.errors import GpurelError
from gpurel.warehouse import Warehouse

HOLDER = """
import sys
from datetime import UTC, datetime
import pyarrow as pa
from gpurel.warehouse import Warehouse

target, mode = sys.argv[1], sys.argv[2]
warehouse = Warehouse.open(target, read_only=mode == "read")
if mode == "write":
    when = datetime(2024, 5, 1, tzinfo=UTC)
    row = {"cluster": "c1", "job_id": "held", "submit_time": when, "start_time": when,
           "state": "COMPLETED", "source": "test"}
    warehouse.write("jobs", pa.Table.from_pylist([row]))
print("holding", flush=True)
sys.stdin.readline()
warehouse.close()
"""
CLI = "import sys; from gpurel.cli.app import app; sys.argv[0] = 'gpurel'; app()"


@contextmanager
def held(target: Path, mode: str) -> Iterator[int]:
    """A child process holding ``target`` open (``write`` after one write, or ``read``)."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(target), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "holding\n"
        yield child.pid
    finally:
        child.communicate("\n")
    assert child.returncode == 0


def job(job_id: str) -> pa.Table:
    when = datetime(2024, 5, 1, tzinfo=UTC)
    row = {"cluster": "c1", "job_id": job_id, "submit_time": when, "start_time": when}
    return pa.Table.from_pylist([row | {"state": "COMPLETED", "source": "test"}])


def job_ids(target: Path) -> list[str]:
    warehouse = Warehouse.open(target, read_only=True)
    try:
        return sorted(warehouse.table("jobs").job_id.to_pyarrow().to_pylist())
    finally:
        warehouse.close()


def gpurel(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", CLI, *map(str, args)]
    environment = {**os.environ, "COLUMNS": "300"}
    return subprocess.run(command, capture_output=True, text=True, env=environment)


# --- Parquet directory: a writer lock ---------------------------------------------------------


def test_a_second_parquet_writer_fails_naming_the_first(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    second = Warehouse.open(lake)
    with held(lake, "write") as pid, pytest.raises(GpurelError) as raised:
        second.write("jobs", job("second"))
    assert f"process {pid} (" in str(raised.value) and "is writing this warehouse" in str(
        raised.value
    )
    second.write("jobs", job("second"))  # the first has finished: now it may
    second.close()
    assert job_ids(lake) == ["held", "second"]


def test_a_second_parquet_ingest_loses_no_row(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    ingest: list[str | Path] = ["ingest", *demo.files(), "--cluster", demo.CLUSTER, "--tz", "UTC"]
    ingest += ["-w", lake]
    with held(lake, "write") as pid:
        refused = gpurel(*ingest)
        assert refused.returncode != 0
        assert f"process {pid} (" in refused.stderr
        assert job_ids(lake) == ["held"]  # readers need no lock
    done = gpurel(*ingest)
    assert done.returncode == 0, done.stderr
    assert len(job_ids(lake)) == 1 + 71


def test_a_killed_writer_leaves_the_lock_free(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lake), "write"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stdout.readline() == b"holding\n"
    child.kill()
    child.wait()
    warehouse = Warehouse.open(lake)
    warehouse.write("jobs", job("after"))
    warehouse.close()
    assert job_ids(lake) == ["after", "held"]


def test_a_write_removes_temporary_files_a_killed_writer_left(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    warehouse = Warehouse.open(lake)
    warehouse.write("jobs", job("1"))
    warehouse.close()
    partition = lake / "jobs" / "cluster=c1" / "month=2024-05"
    stray = partition / f".{parquet_store.PART_FILE}.4242.tmp"
    stray.write_bytes(b"half a file")
    spill = lake / parquet_store.SPILL_DIR
    spill.mkdir()
    (spill / "duckdb_temp_block").write_bytes(b"x")
    kept = partition / ".notes.tmp"  # not a name gpurel writes: not its to remove
    kept.write_bytes(b"mine")
    warehouse = Warehouse.open(lake)
    warehouse.write("jobs", job("2"))
    warehouse.close()
    assert not stray.exists() and not spill.exists() and kept.exists()
    assert job_ids(lake) == ["1", "2"]


# --- DuckDB file: DuckDB's lock, read-only readers --------------------------------------------


def test_a_second_duckdb_writer_gets_one_line_naming_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    Warehouse.open(path).close()
    with held(path, "write") as pid, pytest.raises(GpurelError) as raised:
        Warehouse.open(path)
    message = str(raised.value)
    assert f"in use by process {pid} (" in message and "\n" not in message
    assert message.startswith(f"{path}: ")


def test_duckdb_readers_run_together(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    writer = Warehouse.open(path)
    writer.write("jobs", job("1"))
    writer.close()
    with held(path, "read") as pid:
        assert job_ids(path) == ["1"]  # a second reader, in another process
        with pytest.raises(GpurelError, match=f"in use by process {pid}"):
            Warehouse.open(path)  # but no writer while they read
    assert job_ids(path) == ["1"]


def test_a_writing_command_stops_before_its_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = tmp_path / "lake"
    with (
        held(lake, "write") as pid,
        pytest.raises(typer.Exit) as exited,
        open_warehouse(lake, write=True),
    ):
        raise AssertionError("ran while another process was writing")
    assert exited.value.exit_code == 1
    error = capsys.readouterr().err
    assert error.startswith(f"error: {lake}: process {pid} (") and error.count("\n") == 1
