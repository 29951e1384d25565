"""Opening a warehouse to read or to write: what gets created, what is left behind."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
import typer
from typer.testing import CliRunner

from gpurel import demo, parquet_store
from gpurel.analysis.summary import analyze
from gpurel.cli.app import app
from gpurel.cli.common import fail, open_warehouse
from gpurel.errors import GpurelError
from gpurel.warehouse import NoWarehouse, Warehouse

KINDS = ["w.duckdb", "lake"]


def job(job_id: str) -> pa.Table:
    when = datetime(2024, 5, 1, tzinfo=UTC)
    row = {"cluster": "c1", "job_id": job_id, "submit_time": when, "start_time": when}
    return pa.Table.from_pylist([row | {"state": "COMPLETED", "source": "test"}])


def everything(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# --- readers never create ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", [*KINDS, "new/dir/w.duckdb", "new/dir/lake"])
def test_reading_a_missing_warehouse_creates_nothing(tmp_path: Path, kind: str) -> None:
    with pytest.raises(NoWarehouse, match=f"no warehouse at {tmp_path / kind}: ingest first"):
        Warehouse.open(tmp_path / kind, read_only=True)
    assert everything(tmp_path) == []


def test_a_read_command_on_a_missing_warehouse_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "odd[/x]name" / "w.duckdb"  # rich markup in a user's path
    with pytest.raises(typer.Exit) as exited, open_warehouse(path, write=False):
        pass
    assert exited.value.exit_code == 2
    assert capsys.readouterr().err == f"error: no warehouse at {path}: ingest first\n"
    assert everything(tmp_path) == []


def test_errors_print_user_text_verbatim(capsys: pytest.CaptureFixture[str]) -> None:
    exit_ = fail("/data/[/x]/[bold]sacct[/bold].txt: cannot read", code=3)
    assert exit_.exit_code == 3
    assert capsys.readouterr().err == "error: /data/[/x]/[bold]sacct[/bold].txt: cannot read\n"


# --- read-only warehouses ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_read_only_warehouse_refuses_writes(tmp_path: Path, kind: str) -> None:
    writer = Warehouse.open(tmp_path / kind)
    writer.write("jobs", job("1"))
    writer.close()
    reader = Warehouse.open(tmp_path / kind, read_only=True)
    with pytest.raises(GpurelError, match="open read-only"):
        reader.write("jobs", job("2"))
    assert reader.counts()["jobs"] == 1
    reader.close()


def test_two_read_only_opens_of_one_file(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    writer = Warehouse.open(path)
    writer.write("jobs", job("1"))
    writer.close()
    first, second = (Warehouse.open(path, read_only=True) for _ in range(2))
    assert first.counts() == second.counts()
    first.close()
    second.close()


def failed_jobs(warehouse: Warehouse) -> list[tuple[str, str]]:
    analyze(warehouse)  # derives the table ``failures``
    failures = warehouse.con.table("failures").select("job_id", "category").to_pyarrow()
    return sorted(
        zip(failures["job_id"].to_pylist(), failures["category"].to_pylist(), strict=True)
    )


def stored_tables(warehouse: Warehouse) -> set[str]:
    query = "SELECT table_name FROM duckdb_tables() WHERE NOT temporary"
    return {name for (name,) in warehouse.con.con.execute(query).fetchall()}


def test_read_only_analysis_matches_and_stores_nothing(tmp_path: Path) -> None:
    path = tmp_path / "demo.duckdb"
    demo.run(path)
    writer = Warehouse.open(path)
    expected = failed_jobs(writer)  # stored in the file
    tables = stored_tables(writer)
    writer.close()
    reader = Warehouse.open(path, read_only=True)
    assert expected and failed_jobs(reader) == expected
    assert failed_jobs(reader) == expected  # derived tables replaced within the session
    reader.close()
    writer = Warehouse.open(path)
    assert stored_tables(writer) == tables
    writer.close()


def test_a_read_only_file_without_some_tables_reads_them_empty(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    import duckdb

    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE kept (x INTEGER)")
        con.execute("INSERT INTO kept VALUES (1)")
    reader = Warehouse.open(path, read_only=True)
    assert set(reader.counts().values()) == {0}
    reader.close()


def test_a_duckdb_url_opens_read_only(tmp_path: Path) -> None:
    Warehouse.open(tmp_path / "w.duckdb").write("jobs", job("1"))
    reader = Warehouse.open(f"duckdb://{tmp_path}/w.duckdb", read_only=True)
    mode = reader.con.con.execute("SELECT current_setting('access_mode')").fetchone()
    assert mode == ("read_only",)
    reader.close()


# --- writers leave no empty warehouse ---------------------------------------------------------


@pytest.mark.parametrize("kind", [*KINDS, "new/dir/w.duckdb", "new/dir/lake"])
def test_a_writer_that_stores_nothing_leaves_nothing(tmp_path: Path, kind: str) -> None:
    warehouse = Warehouse.open(tmp_path / kind)
    warehouse.claim()
    warehouse.write("jobs", job("1").slice(0, 0))
    warehouse.close()
    assert everything(tmp_path) == []


@pytest.mark.parametrize("kind", KINDS)
def test_a_writer_keeps_what_it_stored_and_what_it_found(tmp_path: Path, kind: str) -> None:
    warehouse = Warehouse.open(tmp_path / kind)
    warehouse.write("jobs", job("1"))
    warehouse.close()
    again = Warehouse.open(tmp_path / kind)  # found, not created: kept even when empty
    again.claim()
    again.close()
    assert Warehouse.open(tmp_path / kind, read_only=True).counts()["jobs"] == 1


def test_an_empty_directory_a_user_made_is_kept(tmp_path: Path) -> None:
    (tmp_path / "lake").mkdir()
    warehouse = Warehouse.open(tmp_path / "lake")
    warehouse.claim()
    warehouse.close()
    assert everything(tmp_path) == ["lake", f"lake/{parquet_store.LOCK_FILE}"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_failed_ingest_leaves_no_warehouse(tmp_path: Path, kind: str) -> None:
    unreadable = tmp_path / "input" / "notes.txt"
    unreadable.parent.mkdir()
    unreadable.write_text("not an accounting file\n")
    result = CliRunner().invoke(app, ["ingest", str(unreadable), "-w", str(tmp_path / kind)])
    assert result.exit_code == 2, result.output
    assert everything(tmp_path) == ["input", "input/notes.txt"]


def test_one_process_opening_a_file_in_both_modes_is_told_so(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    writer = Warehouse.open(path)
    writer.write("jobs", job("1"))
    with pytest.raises(GpurelError, match="already open in this process in the other mode"):
        Warehouse.open(path, read_only=True)
    writer.close()
