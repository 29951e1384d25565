"""The ``gpurel`` command line end to end: demo, mttf, ingest errors and rejects, real data."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from gpurel import demo, taxonomy
from gpurel.cli.app import app
from gpurel.warehouse import Warehouse

Gpurel = Callable[..., Result]
AnalyzeJson = Callable[[Path], dict[str, Any]]

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
TRACE = DATA / "infinitehbd_stepfun" / "fault_trace.json"
HABROK = DATA / "habrok_sacct_rug" / "sacct.txt"
# the --format of habrok_sacct_rug/sacct.txt, from its README
HABROK_FIELDS = (
    "JobID,JobName,User,Partition,NodeList,NNodes,NCPUs,NTasks,State,Submit,Start,End,"
    "Timelimit,Elapsed,TotalCPU,CPUTime,UserCPU,SystemCPU,ReqMem,MaxRSS,MaxVMSize,ReqTRES,"
    "AllocTRES,TRESUsageInMax,TRESUsageInTot,TRESUsageOutTot,MaxDiskRead,MaxDiskWrite,"
    "MaxRSSNode,MaxRSSTask,MaxVMSizeNode,MaxVMSizeTask,MaxDiskReadNode,MaxDiskReadTask,"
    "MaxDiskWriteNode,MaxDiskWriteTask,Comment"
)
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"no shared data at {DATA}")


def _flat(text: str) -> str:
    """Output with line wrapping undone, for matching messages."""
    return " ".join(text.split())


def _clean_failure(result: Result, code: int) -> None:
    """A failure for people: the expected exit code and no traceback."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


def _count(path: Path, table: str) -> int:
    warehouse = Warehouse.open(path)
    try:
        return warehouse.counts()[table]
    finally:
        warehouse.close()


# --- gpurel demo and gpurel mttf --------------------------------------------------------------


def test_demo_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gpurel: Gpurel) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / ".gpurel-demo").write_text("an earlier demo's")
    (tmp_path / "demo" / "stale.txt").write_text("from an earlier demo")  # the demo replaces it
    for _ in range(2):
        result = gpurel("demo", "--week")
        assert result.exit_code == 0, result.output
        out = _flat(result.stdout)
        assert "ingested sacct.txt (sacct): jobs 71, steps 36; 0 rejected" in out
        assert "ingested health.jsonl (gcm): node_events 581; 0 rejected" in out
        assert "4 failures in 203.1 node-days = 19.7 per 1000 node-days" in out
        assert _count(tmp_path / "demo" / "gpurel.duckdb", "jobs") == 71
        assert not (tmp_path / "demo" / "stale.txt").exists()


@pytest.mark.parametrize("where", [".", "mine"])
def test_demo_never_deletes_a_directory_it_did_not_make(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gpurel: Gpurel, where: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("years of work")
    result = gpurel("demo", "--week", "--dir", where)
    assert result.exit_code == 2
    assert "not empty and not an earlier demo's directory" in _flat(result.output)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "years of work"


def test_simulated_demo(tmp_path: Path, gpurel: Gpurel) -> None:
    """The default demo: a simulated rsc1 month through the real readers (here 3 days)."""
    result = gpurel("demo", "--dir", tmp_path / "d", "--days", "3", "--seed", "1")
    assert result.exit_code == 0, result.output
    out = _flat(result.stdout)
    assert "simulating 3 days of rsc1 (2,000 nodes), seed 1" in out
    assert re.search(r"ingested sacct\.txt \(sacct\): jobs [0-9,]+; 0 rejected", out)
    assert re.search(r"ingested health\.jsonl \(gcm\): node_events [0-9,]+; 0 rejected", out)
    assert (tmp_path / "d" / "report.html").read_text("utf-8").startswith("<!DOCTYPE html>")
    store = Warehouse.open(tmp_path / "d" / "gpurel.duckdb")
    try:
        assert store.counts()["nodes"] == 2000  # the inventory: 6,000 node-days
        assert "truth_jobs" in store.con.list_tables()
    finally:
        store.close()


def test_mttf_projection(gpurel: Gpurel) -> None:
    result = gpurel("mttf", "--gpus", "16384,131072", "--rf", "6.5")
    assert result.exit_code == 0, result.output
    assert "1.8 h" in result.stdout
    assert "0.23 h" in result.stdout


# --- ingest errors and rejects ----------------------------------------------------------------


def test_bad_files_do_not_stop_the_batch(tmp_path: Path, gpurel: Gpurel) -> None:
    binary = tmp_path / "dump.bin"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00" * 20)
    truncated = tmp_path / "sacct.json"
    truncated.write_text('{"meta": {}, "errors": [], "jobs": [{"job_id": 1, "name": "tra')
    sacct = demo.files()[0]
    warehouse = tmp_path / "w.duckdb"
    result = gpurel("ingest", binary, truncated, sacct, "--tz", "UTC", "-w", warehouse)
    _clean_failure(result, 2)
    errors = _flat(result.stderr)
    assert f"error: {binary}: binary file" in errors
    assert re.search(rf"error: {re.escape(str(truncated))}: [^:]*truncated JSON", errors)
    assert "2 of 3 files could not be read" in errors
    assert _count(warehouse, "jobs") == 71


def test_unknown_format(tmp_path: Path, gpurel: Gpurel) -> None:
    result = gpurel("ingest", demo.files()[0], "--format", "parquet", "-w", tmp_path / "w.duckdb")
    _clean_failure(result, 2)
    assert "unknown format 'parquet'" in _flat(result.stderr)


def test_rejects_counted_and_shown(
    tmp_path: Path, gpurel: Gpurel, analyze_json: AnalyzeJson
) -> None:
    header, first, *_ = demo.files()[0].read_text("utf-8").splitlines()
    fields = first.split("|")
    bad_time = "|".join([*fields[:13], "2024-06-31T25:00:00", *fields[14:]])
    path = tmp_path / "partial.txt"
    path.write_text("\n".join([header, first, bad_time, "1999|1999|cut|short"]) + "\n")
    warehouse = tmp_path / "w.duckdb"
    result = gpurel("ingest", path, "--tz", "UTC", "-w", warehouse)
    assert result.exit_code == 0, result.output
    # file | format | lines | stored | merged | rejected | skipped | tables
    row = r"partial\.txt\s*│\s*sacct\s*│\s*4\s*│\s*1\s*│\s*0\s*│\s*2\s*│\s*1\s*│\s*jobs 1"
    assert re.search(row, result.stdout)

    doc = analyze_json(warehouse)
    assert doc["overview"]["rejected_rows"] == 2
    rejects = {(r["field"], r["rows"]): r["reason"] for r in doc["rejects"]}
    assert set(rejects) == {("Start", 1), (None, 1)}
    assert "2024-06-31T25:00:00" in rejects["Start", 1]
    assert "field count" in rejects[None, 1]

    shown = gpurel("analyze", "-w", warehouse)
    assert shown.exit_code == 0, shown.output
    assert "Rejected input rows" in shown.stdout
    assert "2 rejected rows" in _flat(shown.stdout)


# --- golden runs on real data (../shared/data) -------------------------------------------------

TRACE_DAYS = 348  # the trace's period, from its README; one fault starts just after it
TRACE_NODE_DAYS = 400 * TRACE_DAYS


def _trace_episodes(gap_days: float = 1 / 24) -> dict[str, int]:
    """Failure episodes of the InfiniteHBD trace per domain, counted in plain Python.

    Each fault_start pairs with the next fault_end of its node and fault type; faults of one
    node and category (as the taxonomy classifies ``Level: Class: Desc``) starting less than
    ``gap_days`` after the latest end so far are one episode; episodes starting after the
    trace's TRACE_DAYS are outside the period of its node-days.
    """
    classes = taxonomy.default()
    open_faults: defaultdict[tuple[str, ...], deque[float]] = defaultdict(deque)
    spans: defaultdict[tuple[str, str, str], list[tuple[float, float]]] = defaultdict(list)
    records = json.loads(TRACE.read_text("utf-8"))
    for r in sorted(records, key=lambda r: r["event_time"]):
        kind = r["fault_type"]
        key = (r["node_id"], kind["Level"], kind["Class"], kind["Desc"])
        if r["event_type"] == "fault_start":
            open_faults[key].append(r["event_time"])
            continue
        cause = classes.classify_reason(f"{kind['Level']}: {kind['Class']}: {kind['Desc']}")
        levels = {"Hardware Failure": "hardware", "Software Failure": "system_software"}
        domain = cause.domain if cause.category != "unknown" else levels.get(kind["Level"])
        start = open_faults[key].popleft()
        spans[r["node_id"], cause.category, domain].append((start, r["event_time"]))
    assert not any(open_faults.values())  # every fault of this trace ends
    episodes: Counter[str] = Counter()
    for (_, _, domain), faults in spans.items():
        latest = None
        for start, end in sorted(faults):
            new = latest is None or start > latest + gap_days
            if new and start < TRACE_DAYS:  # rates count the episodes of their period
                episodes[domain] += 1
            latest = end if latest is None else max(latest, end)
    return dict(episodes)


@pytest.fixture(scope="module")
def trace_doc(
    tmp_path_factory: pytest.TempPathFactory, gpurel: Gpurel, analyze_json: AnalyzeJson
) -> dict[str, Any]:
    warehouse = tmp_path_factory.mktemp("trace") / "w.duckdb"
    result = gpurel("ingest", TRACE, "--nodes", "400", "--days", "348", "-w", warehouse)
    assert result.exit_code == 0, result.output
    return analyze_json(warehouse)


@needs_data
def test_infinitehbd_golden(trace_doc: dict[str, Any]) -> None:
    exposure = trace_doc["node_days"]
    assert (exposure["method"], exposure["node_days"]) == ("inventory", TRACE_NODE_DAYS)
    summary = {r["scope"]: r for r in trace_doc["episode_summary"]}
    hardware = summary["hardware"]
    expected = _trace_episodes()["hardware"]
    assert hardware["episodes"] == expected
    assert hardware["per_1000_node_days"] == pytest.approx(expected / TRACE_NODE_DAYS * 1000)
    every = summary["all"]
    assert every["per_1000_node_days"] == pytest.approx(every["episodes"] / TRACE_NODE_DAYS * 1000)
    assert trace_doc["top_nodes"]
    assert trace_doc["overview"]["job_attempts"] == 0


@needs_data
def test_infinitehbd_counts_every_episode(trace_doc: dict[str, Any]) -> None:
    summary = {r["scope"]: r for r in trace_doc["episode_summary"]}
    expected = sum(_trace_episodes().values())
    assert 540 <= expected <= 584  # 584 faults, a few merged within the hour
    assert summary["all"]["episodes"] == expected
    assert summary["all"]["per_1000_node_days"] == pytest.approx(expected / TRACE_NODE_DAYS * 1000)


@needs_data
def test_habrok_job_states(tmp_path: Path, gpurel: Gpurel, analyze_json: AnalyzeJson) -> None:
    warehouse = tmp_path / "w.duckdb"
    result = gpurel(
        "ingest", HABROK, "--fields", HABROK_FIELDS, "--delimiter", "☃",
        "--tz", "Europe/Amsterdam", "-w", warehouse,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    expected: Counter[str] = Counter()
    for line in HABROK.read_text("utf-8").splitlines():
        values = line.split("☃")
        if "." not in values[0]:  # job rows; steps are 123.batch, 123.0...
            expected[values[8].split(" by ")[0]] += 1
    doc = analyze_json(warehouse)
    assert {r["state"]: r["jobs"] for r in doc["job_states"]} == dict(expected)
    assert doc["overview"]["rejected_rows"] == 0


def test_readme_lists_every_json_key(demo_doc: dict[str, Any]) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    section = readme.split("## analyze --json keys", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE)
    assert listed == list(demo_doc)


@pytest.mark.parametrize(("columns", "widest"), [(None, 160), ("80", 80)])
def test_tables_written_to_a_pipe_are_not_cut_to_80_columns(
    demo_warehouse: Path, monkeypatch: pytest.MonkeyPatch, columns: str | None, widest: int
) -> None:
    """Piped output gets 160 columns (names whole); $COLUMNS still wins, every run anew."""
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    result = CliRunner().invoke(app, ["analyze", "-w", str(demo_warehouse)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) <= widest
    assert any(len(line) > 80 for line in lines) == (widest > 80)
    assert ("…" in result.stdout) == (widest == 80)  # rich cuts text short with "…"
