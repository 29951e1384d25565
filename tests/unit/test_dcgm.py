"""NVIDIA DCGM diagnostics (dcgmi diag -j): DCGM 3.x and 4.x layouts, node and time, rejects."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reader_fuzz import read_quietly

from gpurel import ingest
from gpurel.errors import InputError
from gpurel.sources import dcgm
from gpurel.sources.base import ReadOptions

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EVENTS = FIXTURES / "events"
PASSING = EVENTS / "gpu001.dcgm.json"  # DCGM 3.1.8 layout, one run, node from the file name
RUNS = EVENTS / "dcgm_runs.jsonl"  # DCGM 4.2.3 layout, JSON lines with node and time
MALFORMED = EVENTS / "dcgm_malformed.json"
OPTIONS = ReadOptions(cluster="c1", tz="UTC")
WHEN = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


def _others() -> list[Path]:
    ours = {PASSING.name, RUNS.name, MALFORMED.name}
    files = [p for p in FIXTURES.rglob("*") if p.is_file() and p.name not in ours]
    return [p for p in files if p.suffix in {".json", ".jsonl", ".log", ".txt", ".csv"}]


def test_sniff_claims_dcgm_only() -> None:
    for path in (PASSING, RUNS, MALFORMED):
        assert dcgm.sniff(path.read_text())
        assert ingest.detect(path).name == "dcgm"
    for path in _others():
        assert not dcgm.sniff(path.read_text("utf-8", errors="replace")), path
    for name, reader in ingest.readers().items():
        if name != "dcgm":
            assert not reader.sniff(PASSING.read_text()), name
            assert not reader.sniff(RUNS.read_text()), name
    escaped = json.dumps(
        {"node": "n", "health_check": "check dcgmi diag", "_msg": '{"DCGM Diagnostic": 1}'}
    )
    assert not dcgm.sniff(escaped)  # GCM record quoting DCGM output
    assert not dcgm.sniff("")


def test_passing_run_dcgm3_layout(tmp_path: Path) -> None:
    path = tmp_path / PASSING.name
    shutil.copy(PASSING, path)
    mtime = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    result = dcgm.read(path, OPTIONS)
    rows = result.tables["node_events"].to_pylist()
    assert result.rejects.num_rows == 0
    assert {r["node"] for r in rows} == {"gpu001"}  # from the file name
    assert {r["time"] for r in rows} == {mtime}  # no time in the document: the file's mtime
    assert {r["result"] for r in rows} == {"ok"}
    assert {(r["source"], r["cluster"]) for r in rows} == {("dcgm", "c1")}
    checks = [r["check"] for r in rows]
    assert checks[0] == "Denylist" and "Page Retirement/Row Remap" in checks
    assert checks[-2:] == ["PCIe", "GPU Memory"]
    assert "Diagnostic" not in checks  # skipped on every GPU: no row
    assert len(checks) == 11  # nine deployment tests (nulls between them skipped), PCIe, memory


def _runs() -> dict[tuple[str, str], dict]:
    rows = dcgm.read(RUNS, OPTIONS).tables["node_events"].to_pylist()
    return {(r["node"], r["check"]): r for r in rows}


def test_failing_memory_and_pcie_dcgm4_layout() -> None:
    rows = _runs()
    memory, pcie = rows["gpu002", "memory"], rows["gpu002", "pcie"]
    assert (memory["result"], memory["category"], memory["severity"]) == (
        "fail",
        "gpu_memory",
        "high",
    )
    assert memory["message"] == "GPU 3: Detected 2 volatile double-bit ECC error(s) in GPU 3."
    assert (pcie["result"], pcie["category"], pcie["domain"]) == ("fail", "pcie", "hardware")
    assert pcie["message"].startswith("GPU 1: Detected more than 8 PCIe replays")
    assert memory["time"] == pcie["time"] == WHEN
    assert rows["gpu002", "software"]["result"] == "ok"
    assert ("gpu002", "diagnostic") not in rows  # Skip
    assert sum(1 for node, _ in rows if node == "gpu002") == 3


def test_warning_runtime_error_and_times() -> None:
    rows = _runs()
    power = rows["gpu003", "targeted_power"]
    assert (power["result"], power["category"]) == ("warn", "power")
    assert power["time"] == datetime.fromtimestamp(1741065000, UTC)  # epoch seconds
    error = rows["gpu004", dcgm.RUNTIME_ERROR_CHECK]
    assert (error["result"], error["category"]) == ("warn", "host_service")
    assert "Host engine is not valid" in error["message"]
    assert error["time"] == datetime(2025, 3, 4, 5, 0, tzinfo=UTC)  # +01:00 offset


def test_rejects_name_line_field_and_reason() -> None:
    rejects = sorted(
        (r["line"], r["field"], r["reason"]) for r in dcgm.read(RUNS, OPTIONS).rejects.to_pylist()
    )
    assert [(line, field) for line, field, _ in rejects] == [
        (4, "node"),
        (5, "test_categories[1].tests[0].results[0].status"),
        (6, None),
        (7, "test_categories"),
    ]
    assert "does not name its host" in rejects[0][2]
    assert "'Maybe'" in rejects[1][2]
    assert rejects[2][2].startswith("invalid JSON")
    assert rejects[3][2] == "no test results in the document"
    assert ("gpu005", "software") in _runs()  # the rest of that document is kept


def test_malformed_document_is_one_input_error() -> None:
    with pytest.raises(InputError, match=r"invalid JSON at line \d+ column \d+"):
        dcgm.read(MALFORMED, OPTIONS)


def test_node_from_field_file_name_or_reject(tmp_path: Path) -> None:
    doc = {"DCGM Diagnostic": _RUN}
    generic = tmp_path / "dcgm.json"
    generic.write_text(json.dumps(doc, indent=2))
    result = dcgm.read(generic, OPTIONS)
    assert result.rows("node_events") == 0
    assert [r["field"] for r in result.rejects.to_pylist()] == ["node"]

    named = tmp_path / "gpu9.json"
    named.write_text("WARNING: printed before the JSON\n" + json.dumps({"host": "h1", **doc}))
    assert {r["node"] for r in dcgm.read(named, OPTIONS).tables["node_events"].to_pylist()} == {
        "h1"
    }

    two = tmp_path / "node7.json"  # two pretty documents: the file name names neither
    two.write_text(json.dumps(doc, indent=2) + "\n" + json.dumps(doc, indent=2) + "\n")
    rejects = dcgm.read(two, OPTIONS).rejects.to_pylist()
    second = len(json.dumps(doc, indent=2).splitlines()) + 1
    assert [(r["line"], r["field"]) for r in rejects] == [(1, "node"), (second, "node")]


_MEMORY = {"name": "memory", "results": [{"entity_id": 0, "status": "Pass"}]}
_RUN = {"test_categories": [{"category": "Hardware", "tests": [_MEMORY]}]}


def test_summary_status_when_no_results(tmp_path: Path) -> None:
    path = tmp_path / "gpu8.json"
    test = {"name": "pcie", "results": [], "test_summary": {"status": "Fail"}}
    doc = {"DCGM Diagnostic": {"test_categories": [{"category": "Integration", "tests": [test]}]}}
    path.write_text(json.dumps({"time": "2025-01-01T00:00:00", **doc}))
    rows = dcgm.read(path, ReadOptions(tz="Europe/Amsterdam")).tables["node_events"].to_pylist()
    assert [(r["node"], r["check"], r["result"]) for r in rows] == [("gpu8", "pcie", "fail")]
    assert rows[0]["time"] == datetime(2025, 1, 1, tzinfo=UTC) - timedelta(hours=1)


_STATUS = st.sampled_from(["Pass", "FAIL", "Warn", "Skip", "x", ""]) | st.integers() | st.none()
_RESULT = st.fixed_dictionaries(
    {},
    optional={
        "status": _STATUS,
        "entity_id": st.integers() | st.text(max_size=3) | st.lists(st.integers()),
        "gpu_ids": st.text(max_size=4) | st.integers(),
        "warnings": st.lists(st.text(max_size=5) | st.fixed_dictionaries({"warning": st.text()}))
        | st.text(max_size=3),
    },
)
_TEST = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["memory", "pcie", ""]) | st.integers() | st.none(),
        "results": st.lists(_RESULT | st.none(), max_size=3) | st.integers(),
        "test_summary": st.fixed_dictionaries({"status": _STATUS}) | st.text(max_size=2),
    },
)
_DOC = st.fixed_dictionaries(
    {},
    optional={
        "node": st.sampled_from(["n1", ""]) | st.integers() | st.lists(st.integers()),
        "time": st.text(max_size=12) | st.floats(allow_nan=True, allow_infinity=True),
        "DCGM Diagnostic": st.fixed_dictionaries(
            {},
            optional={
                "test_categories": st.lists(
                    st.fixed_dictionaries({}, optional={"tests": st.lists(_TEST | st.none())})
                    | st.none(),
                    max_size=3,
                )
                | st.text(max_size=2),
                "runtime_error": st.text(max_size=5) | st.integers(),
            },
        )
        | st.integers(),
    },
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_DOC | st.integers(), max_size=5), st.integers(0, 30), st.booleans())
def test_fuzz_never_raises_outside_the_error_family(docs: list, cut: int, pretty: bool) -> None:
    if pretty:
        text = "\n".join(json.dumps(d, indent=2) for d in docs)
    else:
        text = "\n".join(json.dumps(d) for d in docs)
    text = text[: max(len(text) - cut, 0)]
    dcgm.sniff(text)
    read_quietly(dcgm.read, text, OPTIONS, "gpu1.dcgm.json")
