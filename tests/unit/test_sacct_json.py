"""Reader for sacct --json (data_parser 0.0.37/38 and 0.0.39+ shapes)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpurel import schema
from gpurel.errors import GpurelError, InputError
from gpurel.sources import sacct_json
from gpurel.sources.base import ReadOptions, ReadResult

FIXTURES = Path(__file__).parents[1] / "fixtures" / "sacct"
T = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)  # submission time of the fixture jobs


def _read(name: str) -> ReadResult:
    return sacct_json.read(FIXTURES / name, ReadOptions(cluster="c1", tz="Asia/Tokyo"))


def _jobs(result: ReadResult) -> dict[str, dict[str, Any]]:
    return {row["job_id"]: row for row in result.tables["jobs"].to_pylist()}


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "sacct.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_v0037_jobs() -> None:
    result = _read("v0037.json")
    assert result.format == "sacct-json"
    assert (result.rows("jobs"), result.rows("steps"), result.rejects.num_rows) == (6, 3, 0)
    assert result.tables["jobs"].schema == schema.JOBS
    jobs = _jobs(result)
    done = jobs["1001"]
    assert (done["state"], done["user"], done["account"], done["partition"]) == (
        "COMPLETED", "alice", "ml", "gpu",
    )  # fmt: skip
    assert done["nodes"] == ["gpu001", "gpu002"]
    assert (done["n_nodes"], done["n_cpus"], done["n_gpus"]) == (2, 16, 16)
    assert done["submit_time"] == T  # epoch seconds are UTC: the tz option does not apply
    assert (done["time_limit"], done["elapsed"], done["cluster"]) == (86400, 7200, "c1")
    assert jobs["1002"]["n_gpus"] == 8  # typed and untyped entries: the untyped total
    assert jobs["1000_3"]["n_gpus"] == 3  # typed only: summed
    assert (jobs["1000_3"]["job_id_raw"], jobs["1000_3"]["exit_signal"]) == ("1003", 9)
    assert jobs["1005+0"]["cancelled_by"] == "root"


def test_v0038_node_fail_with_success_status_trusts_the_state() -> None:
    job = _jobs(_read("v0037.json"))["1002"]
    assert (job["state"], job["exit_code"]) == ("NODE_FAIL", 0)


def test_pending_and_never_started() -> None:
    jobs = _jobs(_read("v0037.json"))
    pending = jobs["1004_[1-5%2]"]
    assert (pending["state"], pending["start_time"], pending["nodes"]) == ("PENDING", None, [])
    assert pending["n_gpus"] == 0
    stuck = jobs["1007"]
    assert (stuck["state"], stuck["start_time"], stuck["nodes"]) == ("NODE_FAIL", None, [])


def test_v0037_steps() -> None:
    steps = _read("v0037.json").tables["steps"].to_pylist()
    assert [(s["job_id"], s["step_id"], s["name"]) for s in steps] == [
        ("1001", "batch", "batch"), ("1001", "0", "python"), ("1002", "batch", "batch"),
    ]  # fmt: skip
    assert steps[1]["nodes"] == ["gpu001", "gpu002"]
    assert steps[2]["state"] == "CANCELLED"


def test_v0040_wrapped_numbers_and_state_lists() -> None:
    result = _read("v0040.json")
    assert (result.rows("jobs"), result.rows("steps"), result.rejects.num_rows) == (8, 3, 0)
    jobs = _jobs(result)
    assert jobs["2001"]["n_gpus"] == 16
    assert (jobs["2002"]["state"], jobs["2002"]["exit_code"]) == ("FAILED", 1)
    assert jobs["2002"]["time_limit"] is None  # infinite
    assert (jobs["2003"]["state"], jobs["2003"]["exit_signal"]) == ("TIMEOUT", 15)
    assert jobs["2004"]["start_time"] is None
    assert jobs["2005"]["cancelled_by"] == "carol"
    assert (jobs["2007"]["state"], jobs["2007"]["restarts"]) == ("NODE_FAIL", 1)
    assert jobs["2008_2"]["job_id_raw"] == "2010"
    assert (jobs["2011+1"]["state"], jobs["2011+1"]["end_time"]) == ("RUNNING", None)
    steps = result.tables["steps"].to_pylist()
    assert [s["step_id"] for s in steps] == ["batch", "extern", "0"]
    assert (steps[2]["state"], steps[2]["exit_code"]) == ("FAILED", 1)
    assert steps[0]["start_time"] == datetime(2024, 3, 1, 10, 5, tzinfo=UTC)


def test_bad_records_become_rejects_with_record_number_and_path() -> None:
    result = _read("malformed.json")
    assert (result.rows("jobs"), result.rows("steps")) == (2, 1)
    rejects = [(r["line"], r["field"], r["reason"]) for r in result.rejects.to_pylist()]
    assert rejects == [
        (2, None, "job record is not a JSON object"),
        (3, "job_id", "missing job_id"),
        (4, "state.current", "bad state ['EXPLODED']"),
        (5, "time.start", "not a number: 'yesterday'"),
        (6, "nodes", "unclosed '[' in 'gpu[1-'"),
        (7, "tres.allocated[0].count", "not a number: 'eight'"),
        (8, "steps[1].state", "bad state ['WEIRD']"),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"jobs": [{"job_id": 1}', "line 1 column 24"),
        ("", "line 1 column 1"),
        ('{"meta": {}}', "no top-level 'jobs' list"),
        ("[1, 2]", "no top-level 'jobs' list"),
        ('{"jobs": {}}', "no top-level 'jobs' list"),
        ('{"jobs": [' + "9" * 5000 + "]}", "invalid JSON"),
    ],
)
def test_invalid_documents_are_input_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        sacct_json.read(path, ReadOptions())


def test_deep_nesting_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"jobs": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
    with pytest.raises(InputError, match="nested"):
        sacct_json.read(path, ReadOptions())


def test_lone_surrogates_are_rejected_not_crashed_on(tmp_path: Path) -> None:
    record = _base_record()
    bad = [
        dict(record, name="\ud800"),
        dict(record, state={"current": ["FAILED", "\udfff"]}),
        dict(record, steps=[dict(record["steps"][0], step={"id": "1.\ud800"})]),
    ]
    result = sacct_json.read(_write(tmp_path, {"jobs": bad}), ReadOptions())
    fields = [r["field"] for r in result.rejects.to_pylist()]
    assert fields == ["name", "state.current", "steps[0].step.id"]


def test_sniff() -> None:
    assert sacct_json.sniff((FIXTURES / "v0037.json").read_text())
    assert sacct_json.sniff((FIXTURES / "v0040.json").read_text()[:2000])
    assert sacct_json.sniff('  {"meta": {}, "jobs": []}')
    assert not sacct_json.sniff('{"node": "n1", "job_id": 5, "result": 2}\n')
    assert not sacct_json.sniff("JobID|State\n1|COMPLETED\n")
    assert not sacct_json.sniff("")


def _base_record() -> dict[str, Any]:
    document = json.loads((FIXTURES / "v0040.json").read_text())
    return dict(document["jobs"][0])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
KEYS = ["job_id", "state", "time", "exit_code", "tres", "nodes", "array", "het", "steps",
        "user", "association", "restart_cnt", "allocation_nodes", "kill_request_user"]  # fmt: skip


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(KEYS), json_values), max_size=4), json_values)
def test_fuzz_mutated_records(
    tmp_path: Path, mutations: list[tuple[str, Any]], extra: object
) -> None:
    record = copy.deepcopy(_base_record())
    for key, value in mutations:
        record[key] = value
    result = sacct_json.read(_write(tmp_path, {"jobs": [record, extra]}), ReadOptions())
    assert result.rows("jobs") + result.rejects.num_rows >= 1


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200) | st.builds(json.dumps, json_values))
def test_fuzz_text(tmp_path: Path, text: str) -> None:
    path = tmp_path / "sacct.json"
    path.write_text(text, encoding="utf-8")
    try:
        result = sacct_json.read(path, ReadOptions())
    except GpurelError:
        return
    assert isinstance(result, ReadResult)


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200))
def test_fuzz_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "sacct.json"
    path.write_bytes(data)
    try:
        sacct_json.read(path, ReadOptions())
    except GpurelError:
        return
