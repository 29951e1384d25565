"""Ingest stores a large file in parts: same tables as one part, later rows win, breaks keep."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from test_sacct_text import HABROK, HABROK_FIELDS

from gpurel import ingest as ingest_module
from gpurel.ingest import ingest_file
from gpurel.sources import line_blocks
from gpurel.sources.base import ReadOptions
from gpurel.warehouse import Warehouse

FIXTURES = Path(__file__).parents[1] / "fixtures" / "sacct"
HABROK_OPTIONS = ReadOptions(cluster="habrok", tz="Europe/Amsterdam", fields=HABROK_FIELDS)
TABLES = ("jobs", "steps", "rejects")


def _small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of ~300 bytes, stored in parts of >= 5 rows."""
    monkeypatch.setattr(line_blocks, "BLOCK_BYTES", 300)
    monkeypatch.setattr(ingest_module, "BATCH_ROWS", 5)


def _stored(warehouse: Warehouse) -> dict[str, pa.Table]:
    """Every table, in a fixed row order."""
    out = {}
    for name in TABLES:
        table = warehouse.table(name).to_pyarrow()
        plain = [c for c in table.column_names if not pa.types.is_list(table.schema.field(c).type)]
        out[name] = table.sort_by([(c, "ascending") for c in plain])
    return out


def _ingested(target: Path, path: Path, options: ReadOptions) -> dict[str, pa.Table]:
    warehouse = Warehouse.open(target)
    outcome = ingest_file(warehouse, path, options)
    assert outcome.ok, outcome.error
    tables = _stored(warehouse)
    warehouse.close()
    return tables


@pytest.mark.parametrize("suffix", [".duckdb", ""])
@pytest.mark.parametrize(
    ("path", "options"),
    [(FIXTURES / "malformed.txt", ReadOptions(tz="UTC")), (HABROK, HABROK_OPTIONS)],
    ids=["malformed", "habrok"],
)
def test_parts_store_what_one_part_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str, path: Path, options: ReadOptions
) -> None:
    whole = _ingested(tmp_path / f"whole{suffix}", path, options)
    _small_parts(monkeypatch)
    parts = _ingested(tmp_path / f"parts{suffix}", path, options)
    for name in TABLES:
        assert parts[name].equals(whole[name]), name
    assert whole["jobs"].num_rows > 0 and (path == HABROK or whole["rejects"].num_rows > 0)


@pytest.mark.parametrize("suffix", [".duckdb", ""])
def test_a_later_row_of_the_same_key_wins_across_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    _small_parts(monkeypatch)
    submit = "2024-05-01T10:00:00"
    filler = [f"{100 + i}|COMPLETED|{submit}" for i in range(40)]
    lines = ["JobID|State|Submit", f"7|RUNNING|{submit}", *filler, f"7|FAILED|{submit}"]
    path = tmp_path / "sacct.txt"
    path.write_text("\n".join(lines) + "\n")
    warehouse = Warehouse.open(tmp_path / f"w{suffix}")
    outcome = ingest_file(warehouse, path, ReadOptions(tz="UTC"))
    assert outcome.ok and outcome.rows["jobs"] == 41  # job 7 stored once
    assert outcome.merged == 1  # its first version, replaced by the later one
    jobs = warehouse.table("jobs").filter(lambda t: t.job_id == "7").to_pyarrow()
    assert jobs["state"].to_pylist() == ["FAILED"]
    assert warehouse.counts()["jobs"] == 41


def test_a_file_broken_part_way_keeps_the_parts_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_parts(monkeypatch)
    good = [f"{i}|COMPLETED|2024-05-01T10:00:00" for i in range(60)]
    path = tmp_path / "sacct.txt"
    text = "\n".join(["JobID|State|Submit", *good]) + "\n"
    path.write_bytes(text.encode() + b"61|FAILED|\xff\xfe\n")
    warehouse = Warehouse.open(tmp_path / "w.duckdb")
    outcome = ingest_file(warehouse, path, ReadOptions(tz="UTC"))
    assert not outcome.ok and "not UTF-8" in (outcome.error or "")
    stored = warehouse.counts()["jobs"]
    assert 0 < stored < 60 and f"the {stored:,} rows before it are stored" in (outcome.error or "")
    path.write_text(text)  # fixed: rerunning converges to the clean file's tables
    assert ingest_file(warehouse, path, ReadOptions(tz="UTC")).ok
    assert warehouse.counts()["jobs"] == 60
