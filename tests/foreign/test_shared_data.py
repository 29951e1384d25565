"""Real third-party files: every line accounted for, counts equal to a plain-Python recount."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gpurel.ingest import FileOutcome, ingest_file
from gpurel.sources.base import ReadOptions
from gpurel.warehouse import Warehouse

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
TRACE = ReadOptions(cluster="t", trace_start=datetime(2020, 1, 1, tzinfo=UTC))


def _ingest(tmp_path: Path, path: Path, options: ReadOptions) -> FileOutcome:
    warehouse = Warehouse.open(tmp_path / "w.duckdb")
    try:
        outcome = ingest_file(warehouse, path, options)
    finally:
        warehouse.close()
    assert outcome.ok, outcome.error
    assert outcome.unaccounted == 0
    return outcome


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("dirlab_genparallel_15k/helios_data_training.csv", "u_id"),
        ("dirlab_genparallel_15k/philly_data_training.csv", "u_id"),
        ("dirlab_genparallel_15k/blue_waters_data_training.csv", "u_id"),
        ("alibaba_gpu_v2023/openb_pod_list_default.csv", "name"),
        ("alibaba_gpu_v2023/openb_node_list_all_node.csv", "sn"),
    ],
)
def test_job_traces_store_one_row_per_record(tmp_path: Path, name: str, key: str) -> None:
    path = DATA / name
    rows = _csv_rows(path)
    outcome = _ingest(tmp_path, path, TRACE)
    physical = path.read_bytes().count(b"\n")
    assert outcome.lines == physical
    assert outcome.stored == len({row[key] for row in rows}) == len(rows)
    assert (outcome.merged, outcome.rejected, outcome.skipped) == (0, 0, physical - len(rows))


def test_titan_merges_the_repeated_failures_of_one_slot(tmp_path: Path) -> None:
    path = DATA / "titan_gpu_olcf" / "gc_full.csv"
    rows = _csv_rows(path)
    failures = [row for row in rows if row["event"].strip()]
    distinct = {(row["location"], row["remove"], row["event"]) for row in failures}
    outcome = _ingest(tmp_path, path, ReadOptions(cluster="titan"))
    assert outcome.lines == len(rows) + 1
    assert outcome.stored == len(distinct)
    assert outcome.merged == len(failures) - len(distinct)
    assert outcome.skipped == len(rows) - len(failures) + 1  # stints without failure, header
    assert outcome.rows["nodes"] == len({row["location"] for row in rows})


def test_infinitehbd_pairs_each_fault_start_with_its_end(tmp_path: Path) -> None:
    path = DATA / "infinitehbd_stepfun" / "fault_trace.json"
    items = json.loads(path.read_text())
    starts = sum(item["event_type"] == "fault_start" for item in items)
    ends = sum(item["event_type"] == "fault_end" for item in items)
    outcome = _ingest(tmp_path, path, ReadOptions(cluster="hbd"))
    assert (outcome.lines, outcome.stored, outcome.skipped) == (len(items), starts, ends)


def test_habrok_sacct_dump_keeps_every_job_and_step(tmp_path: Path) -> None:
    """The --format of the dump is the one its README gives."""
    folder = DATA / "habrok_sacct_rug"
    command = (folder / "README.md").read_text().split("--format=")[1].split()[0]
    lines = (folder / "sacct.txt").read_text().splitlines()
    records = [line.split("\u2603") for line in lines if line.strip()]
    jobs = {(r[0], r[9], r[10]) for r in records if "." not in r[0]}  # JobID, Submit, Start
    steps = {(r[0], r[10]) for r in records if "." in r[0]}
    fields = tuple(command.split(","))
    options = ReadOptions(cluster="habrok", tz="Europe/Amsterdam", fields=fields)
    outcome = _ingest(tmp_path, folder / "sacct.txt", options)
    assert outcome.lines == len(lines)
    assert (outcome.rows["jobs"], outcome.rows["steps"]) == (len(jobs), len(steps))
    assert outcome.merged == len(records) - len(jobs) - len(steps) - outcome.rejected
