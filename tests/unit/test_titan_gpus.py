"""The OLCF Titan GPU life data: events, inventory, rejects, and the real file (golden, e2e)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from reader_fuzz import read_quietly, texts_of
from typer.testing import CliRunner

from gpurel import ingest
from gpurel.cli.app import app
from gpurel.errors import InputError
from gpurel.sources import titan_gpus
from gpurel.sources.base import ReadOptions

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TITAN = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "titan_gpu_olcf"
GC_FULL = TITAN / "gc_full.csv"
needs_data = pytest.mark.skipif(not GC_FULL.is_file(), reason=f"no Titan data at {TITAN}")
HEADER = "SN,location,insert,remove,duration,out,event"
SMALL = f"""{HEADER}
0320117100060,c11-2c1s4n1,2017-04-09 21:36:19,2019-08-01 20:07:33,72916274,FALSE,
0323712007755,c12-7c1s5n0,2014-01-21 10:28:50,2016-07-19 20:15:20,78917790,TRUE,DBE
0323712007755,c12-7c1s5n0,,2016-07-19 20:15:20,,,OTB

0320117100061,c12-7c1s5n0,2016-07-20 09:00:00,2019-08-01 20:07:33,1,FALSE,
0320117100062,nowhere,2016-07-20 09:00:00,2019-08-01 20:07:33,1,FALSE,
0320117100063,c1-0c0s0n2,2016-07-20 09:00:00,,1,FALSE,DBE
0320117100064,c1-0c0s0n2,2019-07-20 09:00:00,2016-07-20 09:00:00,1,FALSE,
0320117100065,c1-0c0s0n3,2016-07-20 09:00:00,2016-08-20 09:00:00,1,TRUE,SBE
0320117100066,c1-0c0s0n3,2016-07-20 09:00:00
0320117100067,c1-0c0s0n3,2016-07-20 09:00:00,2016-08-20 9h,1,TRUE,OTB
"""


def _small(tmp_path: Path, text: str = SMALL) -> Path:
    path = tmp_path / "gc_full.csv"
    path.write_text(text)
    return path


def test_sniff_claims_titan_only(tmp_path: Path) -> None:
    assert titan_gpus.sniff(SMALL)
    assert titan_gpus.sniff('\ufeff"SN","location","insert","remove","duration","out","event"\n')
    assert ingest.detect(_small(tmp_path)).name == "titan-gpus"
    for path in FIXTURES.rglob("*"):
        if path.is_file():
            assert not titan_gpus.sniff(path.read_text("utf-8", errors="replace")), path
    for name, reader in ingest.readers().items():
        if name != "titan-gpus":
            assert not reader.sniff(SMALL), name
    assert not titan_gpus.sniff("SN,location,insert,remove\n")
    assert not titan_gpus.sniff("")


def test_events_times_and_inventory(tmp_path: Path) -> None:
    result = titan_gpus.read(_small(tmp_path), ReadOptions(cluster="titan"))
    events = result.tables["node_events"].to_pylist()
    assert [(e["node"], e["check"], e["category"], e["severity"]) for e in events] == [
        ("c12-7c1s5n0", "DBE", "gpu_memory", "high"),
        ("c12-7c1s5n0", "OTB", "gpu_unavailable", "high"),
    ]
    dbe = events[0]
    assert dbe["time"] == datetime(2016, 7, 20, 0, 15, 20, tzinfo=UTC)  # EDT, UTC-4
    assert (dbe["result"], dbe["source"], dbe["cluster"]) == ("fail", "trace:titan", "titan")
    assert dbe["message"] == "double-bit ECC error (GPU SN 0323712007755)"
    nodes = {n["node"]: n for n in result.tables["nodes"].to_pylist()}
    assert set(nodes) == {"c11-2c1s4n1", "c12-7c1s5n0"}
    slot = nodes["c12-7c1s5n0"]
    assert slot["gpus"] == 1
    assert slot["in_service_start"] == datetime(2014, 1, 21, 15, 28, 50, tzinfo=UTC)  # EST
    assert slot["in_service_end"] == datetime(2019, 8, 2, 0, 7, 33, tzinfo=UTC)


def test_tz_option_wins(tmp_path: Path) -> None:
    result = titan_gpus.read(_small(tmp_path), ReadOptions(tz="UTC"))
    assert result.tables["node_events"].column("time")[0].as_py() == datetime(
        2016, 7, 19, 20, 15, 20, tzinfo=UTC
    )


def test_rejects_name_line_field_and_reason(tmp_path: Path) -> None:
    rejects = titan_gpus.read(_small(tmp_path), ReadOptions()).rejects.to_pylist()
    found = sorted((r["line"], r["field"]) for r in rejects)
    assert found == [
        (7, "location"),
        (8, "remove"),
        (9, "insert"),
        (10, "event"),
        (11, None),
        (12, "remove"),
    ]
    reasons = {r["line"]: r["reason"] for r in rejects}
    assert "cX-YcCsSnN" in reasons[7]
    assert reasons[11] == "expected 7 columns"
    assert all(r["source"].endswith("gc_full.csv") and r["raw"] for r in rejects)


def test_bad_files_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="lacks"):
        titan_gpus.read(_small(tmp_path, "SN,location,insert\n1,c0-0c0s0n0,x\n"), ReadOptions())
    path = tmp_path / "bin.csv"
    path.write_bytes(HEADER.encode() + b"\n\xff\xfe,c0-0c0s0n0,,,,,\n")
    with pytest.raises(InputError):
        titan_gpus.read(path, ReadOptions())


@needs_data
def test_golden_real_file() -> None:
    with GC_FULL.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    plain = Counter(r["event"] for r in rows if r["event"])
    assert plain == {"DBE": 4826, "OTB": 1541}
    result = titan_gpus.read(GC_FULL, ReadOptions(cluster="titan"))
    events = result.tables["node_events"]
    assert Counter(events.column("check").to_pylist()) == plain
    assert Counter(events.column("category").to_pylist()) == {
        "gpu_memory": plain["DBE"],
        "gpu_unavailable": plain["OTB"],
    }
    assert set(events.column("severity").to_pylist()) == {"high"}
    assert result.rejects.num_rows == 0
    nodes = result.tables["nodes"]
    locations = {r["location"] for r in rows}
    assert set(nodes.column("node").to_pylist()) == locations
    assert nodes.num_rows == 18687  # of Titan's 18,688 GPU node slots
    assert set(events.column("node").to_pylist()) <= locations
    service = {line.split()[2] for line in (TITAN / "titan.service.txt").read_text().splitlines()}
    assert len(service) == 512 and not service & locations  # service nodes: nothing to exclude
    starts, ends = nodes.column("in_service_start"), nodes.column("in_service_end")
    assert min(starts.to_pylist()) == datetime(2013, 11, 19, 23, 35, 15, tzinfo=UTC)
    assert max(ends.to_pylist()) == datetime(2019, 8, 2, 0, 7, 33, tzinfo=UTC)
    assert all(s <= e for s, e in zip(starts.to_pylist(), ends.to_pylist(), strict=True))


@needs_data
def test_ingest_and_analyze_end_to_end(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    runner = CliRunner()
    env = {"COLUMNS": "200"}
    ingested = runner.invoke(
        app, ["ingest", str(GC_FULL), "--cluster", "titan", "-w", str(warehouse)], env=env
    )
    assert ingested.exit_code == 0, ingested.output
    assert "titan-gpus" in ingested.output
    analyzed = runner.invoke(app, ["analyze", "--json", "--warehouse", str(warehouse)], env=env)
    assert analyzed.exit_code == 0, analyzed.output
    doc = json.loads(analyzed.stdout)
    exposure = doc["node_days"]
    assert exposure["method"] == "inventory"
    assert exposure["by_cluster"][0]["nodes"] == 18687
    # 18,687 nodes over up to 5.7 years: about 37.7 million node-days
    assert 3.7e7 < exposure["node_days"] < 3.8e7
    summary = {r["scope"]: r for r in doc["episode_summary"]}
    every = summary["all"]
    # 6,367 DBE/OTB records (6,346 distinct); close ones on a node merge into one episode
    assert 5000 < every["episodes"] <= 6346
    assert every["per_1000_node_days"] == pytest.approx(
        every["episodes"] / exposure["node_days"] * 1000
    )
    assert 0.13 < every["per_1000_node_days"] < 0.17
    assert every["lo_per_1000_node_days"] < every["per_1000_node_days"]
    assert every["per_1000_node_days"] < every["hi_per_1000_node_days"]
    assert summary["hardware"]["episodes"] == every["episodes"]
    assert doc["overview"]["node_events"] == 6346
    assert doc["overview"]["rejected_rows"] == 0


_FRAGMENTS = [
    HEADER + "\n",
    "\n",
    ",",
    "c0-0c0s0n0",
    "c12-7c1s5n0",
    "2016-07-19 20:15:20",
    "2016-13-45 99:99:99",
    "DBE",
    "OTB",
    "SBE",
    '"',
    "\r\n",
    "TRUE",
]


@settings(max_examples=150, deadline=None)
@given(texts_of(_FRAGMENTS))
def test_fuzz_never_raises_outside_the_error_family(text: str) -> None:
    titan_gpus.sniff(text)
    read_quietly(titan_gpus.read, HEADER + "\n" + text, ReadOptions(), "gc_full.csv")
    read_quietly(titan_gpus.read, text, ReadOptions(), "gc_full.csv")
