"""Reader for sacct --parsable2 / --parsable output."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpurel import schema
from gpurel.errors import GpurelError, InputError
from gpurel.sources import line_blocks, sacct_text
from gpurel.sources.base import ReadOptions, ReadResult

FIXTURES = Path(__file__).parents[1] / "fixtures" / "sacct"
HABROK = Path(__file__).parents[2].parent / "shared/data/habrok_sacct_rug/sacct.txt"
HABROK_FORMAT = (  # the --format of the dump, from its README
    "JobID,JobName,User,Partition,NodeList,NNodes,NCPUs,NTasks,State,Submit,Start,End,"
    "Timelimit,Elapsed,TotalCPU,CPUTime,UserCPU,SystemCPU,ReqMem,MaxRSS,MaxVMSize,ReqTRES,"
    "AllocTRES,TRESUsageInMax,TRESUsageInTot,TRESUsageOutTot,MaxDiskRead,MaxDiskWrite,"
    "MaxRSSNode,MaxRSSTask,MaxVMSizeNode,MaxVMSizeTask,MaxDiskReadNode,MaxDiskReadTask,"
    "MaxDiskWriteNode,MaxDiskWriteTask,Comment"
)
HABROK_FIELDS = tuple(HABROK_FORMAT.split(","))


def _read(path: Path, **options: Any) -> ReadResult:
    return sacct_text.read(path, ReadOptions(**options))


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sacct.txt"
    path.write_text(text, encoding="utf-8")
    return path


def _jobs(result: ReadResult) -> dict[str, list[dict[str, object]]]:
    by_id: dict[str, list[dict[str, object]]] = {}
    for row in result.tables["jobs"].to_pylist():
        by_id.setdefault(str(row["job_id"]), []).append(row)
    return by_id


def _utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture(scope="module")
def fixture_result() -> ReadResult:
    return _read(FIXTURES / "parsable2_header.txt", tz="Europe/Amsterdam", cluster="c1")


def test_header_fixture_reads_every_line(fixture_result: ReadResult) -> None:
    assert fixture_result.format == "sacct"
    assert fixture_result.rows("jobs") == 13
    assert fixture_result.rows("steps") == 5
    assert fixture_result.rejects.num_rows == 0
    assert fixture_result.tables["jobs"].schema == schema.JOBS
    assert fixture_result.tables["steps"].schema == schema.STEPS
    assert set(fixture_result.tables["jobs"]["cluster"].to_pylist()) == {"c1"}
    assert set(fixture_result.tables["jobs"]["source"].to_pylist()) == {
        str(FIXTURES / "parsable2_header.txt")
    }


def test_job_columns(fixture_result: ReadResult) -> None:
    job = _jobs(fixture_result)["1001"][0]
    assert job["job_id_raw"] == "1001"
    assert (job["name"], job["user"], job["account"], job["partition"], job["qos"]) == (
        "train", "alice", "ml", "gpu", "normal",
    )  # fmt: skip
    assert job["nodes"] == ["gpu001", "gpu002"]
    assert (job["n_nodes"], job["n_cpus"], job["n_gpus"]) == (2, 16, 16)
    assert job["submit_time"] == _utc(2024, 3, 1, 9, 0)
    assert job["start_time"] == _utc(2024, 3, 1, 9, 5)
    assert job["end_time"] == _utc(2024, 3, 1, 11, 5)
    assert (job["elapsed"], job["time_limit"], job["restarts"]) == (7200, 86400, 0)
    assert (job["exit_code"], job["exit_signal"]) == (0, 0)


def test_requeued_attempts_are_kept(fixture_result: ReadResult) -> None:
    attempts = _jobs(fixture_result)["1002"]
    assert [a["state"] for a in attempts] == ["NODE_FAIL", "COMPLETED"]
    assert [a["nodes"] for a in attempts] == [["gpu003", "gpu004"], ["gpu005", "gpu006"]]
    assert [a["restarts"] for a in attempts] == [0, 1]
    assert attempts[0]["n_gpus"] == 8  # untyped total, not typed + untyped


def test_arrays_het_jobs_and_states(fixture_result: ReadResult) -> None:
    jobs = _jobs(fixture_result)
    oom = jobs["1003_4"][0]
    assert (oom["state"], oom["job_id_raw"], oom["n_gpus"]) == ("OUT_OF_MEMORY", "1003", 3)
    pending = jobs["1004_[1-5%2]"][0]
    assert (pending["state"], pending["nodes"], pending["n_gpus"]) == ("PENDING", [], 0)
    assert pending["start_time"] is None and pending["end_time"] is None
    assert pending["time_limit"] is None  # UNLIMITED
    het = jobs["1005+0"][0]
    assert (het["state"], het["state_raw"], het["cancelled_by"]) == (
        "CANCELLED", "CANCELLED by 0", "0",
    )  # fmt: skip
    assert (het["exit_code"], het["exit_signal"], het["time_limit"]) == (0, 15, None)
    assert jobs["1005+1"][0]["job_id_raw"] == "1006"
    states = {job_id: rows[-1]["state"] for job_id, rows in jobs.items()}
    assert states["1009"] == "PREEMPTED"
    assert states["1010"] == "REQUEUED"
    assert states["1011"] == "FAILED"
    assert states["1012"] == "RUNNING"


def test_node_fail_that_never_started(fixture_result: ReadResult) -> None:
    job = _jobs(fixture_result)["1007"][0]
    assert job["state"] == "NODE_FAIL"
    assert job["start_time"] is None
    assert job["nodes"] == []
    assert job["time_limit"] == 600  # "10:00" is ten minutes


def test_local_times_across_dst(fixture_result: ReadResult) -> None:
    job = _jobs(fixture_result)["1008"][0]
    assert job["start_time"] == _utc(2024, 3, 31, 1, 0)  # 02:30 does not exist: 03:00 CEST
    assert job["end_time"] == _utc(2024, 10, 27, 0, 30)  # 02:30 twice: the earlier one


def test_steps(fixture_result: ReadResult) -> None:
    steps = fixture_result.tables["steps"].to_pylist()
    assert [(s["job_id"], s["step_id"]) for s in steps] == [
        ("1001", "batch"), ("1001", "extern"), ("1001", "0"), ("1003_4", "batch"), ("1005+0", "0"),
    ]  # fmt: skip
    assert steps[2]["exit_code"] is None  # step rows may have an empty ExitCode
    assert steps[3]["state"] == "OUT_OF_MEMORY"
    assert steps[1]["nodes"] == ["gpu001", "gpu002"]


def test_malformed_lines_become_rejects_with_line_field_and_reason() -> None:
    result = _read(FIXTURES / "malformed.txt", tz="UTC")
    assert result.rows("jobs") == 1
    rejects = [(r["line"], r["field"], r["reason"]) for r in result.rejects.to_pylist()]
    assert rejects == [
        (3, "Start", "unparseable time: '2024-03-01T25:00:00'"),
        (4, "State", "unknown job state: 'EXPLODED'"),
        (5, None, "wrong field count: 4 fields, expected 9"),
        (6, "JobID", "empty JobID"),
        (7, "JobID", "unparseable JobID: 'abc'"),
        (8, "NodeList", "unparseable hostlist: 'n[3-1]'"),
        (9, "ExitCode", "ExitCode is not code:signal: 'x:1'"),
        (10, "AllocTRES", "unparseable TRES: 'cpu=one,node=1'"),
        (11, "Elapsed", "unparseable duration: 'forever'"),
        (12, None, "repeated header line"),
        (13, "Start", "unparseable time: '2024-02-30T10:00:00'"),  # first bad field only
        (14, None, "truncated line"),
    ]
    assert result.rejects["raw"][0].as_py().startswith("2002|badtime|")
    assert result.rejects["source"][0].as_py() == str(FIXTURES / "malformed.txt")


def test_snowman_delimiter_without_header_needs_fields() -> None:
    path = FIXTURES / "snowman_noheader.txt"
    with pytest.raises(InputError, match="--fields"):
        _read(path)
    fields = ("JobID", "State", "NodeList", "Start", "End", "JobName", "AllocTRES")
    result = _read(path, fields=fields, tz="UTC")
    assert result.rows("jobs") == 2 and result.rows("steps") == 1
    assert result.rejects.num_rows == 0
    cancelled = _jobs(result)["3002"][0]
    assert cancelled["name"] == "x|y☂z"
    assert (cancelled["state"], cancelled["cancelled_by"]) == ("CANCELLED", "10304007")
    assert cancelled["start_time"] is None and cancelled["nodes"] == []


def test_header_wins_over_fields_and_delimiter_option(tmp_path: Path) -> None:
    text = "State;JobID;Start\nCOMPLETED;7;2024-01-01T00:00:00\n"
    result = _read(_write(tmp_path, text), fields=("JobID", "State", "Start"), tz="UTC")
    assert _jobs(result)["7"][0]["state"] == "COMPLETED"
    forced = _read(_write(tmp_path, "JobID,State\n8,FAILED\n"), delimiter=",")
    assert _jobs(forced)["8"][0]["state"] == "FAILED"


def test_missing_columns_are_null(tmp_path: Path) -> None:
    result = _read(_write(tmp_path, "JobID\n1\n2.batch\n"))
    job = result.tables["jobs"].to_pylist()[0]
    assert (job["state"], job["n_gpus"], job["nodes"], job["start_time"]) == (
        "UNKNOWN", None, None, None,
    )  # fmt: skip
    assert result.rows("steps") == 1


def test_raw_columns_fill_in(tmp_path: Path) -> None:
    text = "JobID|ElapsedRaw|TimelimitRaw|State\n1|3600|120|COMPLETED\n2|0|UNLIMITED|PENDING\n"
    rows = _read(_write(tmp_path, text)).tables["jobs"].to_pylist()
    assert [(r["elapsed"], r["time_limit"]) for r in rows] == [(3600, 7200), (0, None)]


def test_blank_lines_crlf_and_trailing_delimiters(tmp_path: Path) -> None:
    text = "JobID|State|\r\n\r\n1|COMPLETED|\r\n   \r\n2|FAILED\r\n"
    result = _read(_write(tmp_path, text))
    assert [r["state"] for r in result.tables["jobs"].to_pylist()] == ["COMPLETED", "FAILED"]
    assert result.rejects.num_rows == 0


def test_truncated_last_line_versus_complete_last_line(tmp_path: Path) -> None:
    complete = _read(_write(tmp_path, "JobID|State\n1|COMPLETED"))
    assert complete.rows("jobs") == 1 and complete.rejects.num_rows == 0
    cut = _read(_write(tmp_path, "JobID|State|Start\n1|COMPLETED|Unknown\n2|COMPL"))
    assert cut.rejects.to_pylist()[0]["reason"] == "truncated line"
    assert cut.rejects.to_pylist()[0]["line"] == 3


def test_empty_and_blank_files(tmp_path: Path) -> None:
    for text in ("", "\n\n  \n"):
        result = _read(_write(tmp_path, text))
        assert result.kept == 0 and result.rejects.num_rows == 0


def test_header_without_jobid_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="JobID"):
        _read(_write(tmp_path, "User|State\nalice|COMPLETED\n"))


def test_binary_and_undecodable_files(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_bytes(b"JobID|State\n1|COMPLETED\x00\n")
    with pytest.raises(InputError, match="binary"):
        sacct_text.read(path, ReadOptions())
    path.write_bytes(b"JobID|State\n1|COMPLETED\xff\n")
    with pytest.raises(InputError, match="UTF-8"):
        sacct_text.read(path, ReadOptions())
    with pytest.raises(InputError, match="cannot read"):
        sacct_text.read(tmp_path / "missing.txt", ReadOptions())


def test_unknown_time_zone_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(GpurelError, match="time zone"):
        _read(_write(tmp_path, "JobID|Start\n1|Unknown\n"), tz="Nowhere/Land")


def test_sniff() -> None:
    assert sacct_text.sniff((FIXTURES / "parsable2_header.txt").read_text())
    assert sacct_text.sniff((FIXTURES / "snowman_noheader.txt").read_text())
    assert sacct_text.sniff(HABROK.read_text(encoding="utf-8")[:65536])
    assert sacct_text.sniff("jobid|state\n")
    assert not sacct_text.sniff("")
    assert not sacct_text.sniff('{"jobs": []}')
    assert not sacct_text.sniff("1700000000,node1,xid,fail,message\n1700000001,node2,x,ok,m\n")
    assert not sacct_text.sniff("2024-01-01T00:00:00 node1 NHC: check_fs: failed\n")


def test_habrok_golden() -> None:
    """Every line of the real Habrok dump is a job, a step or a counted reject."""
    lines = HABROK.read_text(encoding="utf-8").splitlines()
    fields = [line.split("☃") for line in lines]
    expected_jobs = [f for f in fields if "." not in f[0]]
    expected_steps = [f for f in fields if "." in f[0]]
    expected_states = Counter(f[8].split(" ")[0] for f in expected_jobs)

    result = sacct_text.read(HABROK, ReadOptions(fields=HABROK_FIELDS, tz="Europe/Amsterdam"))

    assert len(lines) == 242
    assert result.rows("jobs") + result.rows("steps") + result.rejects.num_rows == len(lines)
    assert result.rejects.num_rows == 0
    assert result.rows("jobs") == len(expected_jobs) == 100
    assert result.rows("steps") == len(expected_steps) == 142
    assert Counter(result.tables["jobs"]["state"].to_pylist()) == expected_states
    node_fail = [j for j in result.tables["jobs"].to_pylist() if j["state"] == "NODE_FAIL"]
    assert len(node_fail) == 1
    assert node_fail[0]["start_time"] is None
    assert node_fail[0]["nodes"] == []
    assert node_fail[0]["job_id"] == "7336818"
    gpus = {j["job_id"]: j["n_gpus"] for j in result.tables["jobs"].to_pylist()}
    assert gpus["7965768"] == 1  # gres/gpu:v100=1,gres/gpu=1 counts once
    assert gpus["7219441"] == 0  # pending: nothing allocated


def _check_read(path: Path, options: ReadOptions) -> None:
    try:
        result = sacct_text.read(path, options)
    except GpurelError:
        return
    assert isinstance(result, ReadResult)
    total = result.kept + result.rejects.num_rows
    assert total <= len(path.read_bytes().split(b"\n"))


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300), st.sampled_from([None, ("JobID", "State", "Start")]))
def test_fuzz_text(tmp_path: Path, text: str, fields: tuple[str, ...] | None) -> None:
    path = _write(tmp_path, text)
    _check_read(path, ReadOptions(fields=fields, tz="UTC"))


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_fuzz_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "sacct.bin"
    path.write_bytes(data)
    _check_read(path, ReadOptions(fields=("JobID", "State"), tz="UTC"))


VALUES = [
    "1", "2.batch", "3_4", "5_[1-3]", "6+0.0", "", "COMPLETED", "CANCELLED by 0", "OUT_OF_ME+",
    "2024-01-01T00:00:00", "Unknown", "None", "2024-02-30T00:00:00", "1-00:00:00", "05:10",
    "UNLIMITED", "0:0", "1:9", "n[1-2]", "None assigned", "n[", "gres/gpu=2,cpu=4", "cpu=x",
    "|", "☃", "[", "99999999999999999999",
]  # fmt: skip
PRINTABLE = st.characters(blacklist_categories=("Cc", "Cs"))
HEADER = "JobID|State|Submit|Start|End|Elapsed|Timelimit|ExitCode|NodeList|AllocTRES|NNodes"


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.lists(st.sampled_from(VALUES) | st.text(PRINTABLE, max_size=5), min_size=9, max_size=13),
        max_size=8,
    ),
    st.booleans(),
)
def test_fuzz_sacct_like_rows(tmp_path: Path, rows: list[list[str]], trailing: bool) -> None:
    end = "|" if trailing else ""
    text = "\n".join([HEADER, *("|".join(r) + end for r in rows)])
    path = _write(tmp_path, text)
    result = sacct_text.read(path, ReadOptions(tz="UTC"))
    lines = [line for line in text.split("\n")[1:] if line.strip()]
    assert result.kept + result.rejects.num_rows == len(lines)


def _same(a: ReadResult, b: ReadResult) -> None:
    for name in ("jobs", "steps"):
        assert a.tables[name].equals(b.tables[name])
    assert a.rejects.equals(b.rejects)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("malformed.txt", {}),
        ("parsable2_header.txt", {"tz": "Europe/Amsterdam"}),
        ("snowman_noheader.txt", {"fields": ("JobID", "State", "NodeList", "Start", "End")}),
    ],
)
def test_small_blocks_read_like_one_block(
    monkeypatch: pytest.MonkeyPatch, name: str, options: dict[str, Any]
) -> None:
    """Blocks read in parallel number their lines and order their rows as one block does."""
    whole = _read(FIXTURES / name, **{"tz": "UTC", **options})
    for block_bytes in (1, 100):
        monkeypatch.setattr(line_blocks, "BLOCK_BYTES", block_bytes)
        _same(whole, _read(FIXTURES / name, **{"tz": "UTC", **options}))


def test_lone_carriage_return_stays_in_its_field(tmp_path: Path) -> None:
    result = _read(_write(tmp_path, "JobID|JobName|State\r\n1|a\rb|COMPLETED\r\n2|c|FAILED\n"))
    assert result.tables["jobs"]["name"].to_pylist() == ["a\rb", "c"]
    assert result.rejects.num_rows == 0


def test_multibyte_delimiter_when_no_byte_can_stand_in(tmp_path: Path) -> None:
    name = "".join(map(chr, [*range(1, 9), *range(14, 32)]))  # every stand-in byte is taken
    result = _read(_write(tmp_path, f"JobID☃JobName☃State\n1☃{name}☃COMPLETED\n"))
    assert result.tables["jobs"]["name"].to_pylist() == [name]


def test_parsable_rows_with_a_filled_extra_field_are_rejected(tmp_path: Path) -> None:
    text = "JobID|State|\n1|COMPLETED|\n2|FAILED|x\n3|FAILED|\n4|FAILED\n5|FAILED|\n"
    result = _read(_write(tmp_path, text))
    assert [r["job_id"] for r in result.tables["jobs"].to_pylist()] == ["1", "3", "4", "5"]
    rejects = [(r["line"], r["field"], r["reason"]) for r in result.rejects.to_pylist()]
    assert rejects == [(3, None, "wrong field count: 3 fields, expected 2")]


def test_repeated_header_of_another_width_and_a_newline_delimiter(tmp_path: Path) -> None:
    result = _read(_write(tmp_path, "JobID|State|\n1|COMPLETED\nJobID|State|\n"))
    rejects = [(r["line"], r["field"], r["reason"]) for r in result.rejects.to_pylist()]
    assert (result.rows("jobs"), rejects) == (1, [(3, None, "repeated header line")])
    lines = _read(_write(tmp_path, "1\n2.batch\n"), fields=("JobID",), delimiter="\n")
    assert (lines.rows("jobs"), lines.rows("steps"), lines.rejects.num_rows) == (1, 1, 0)


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.lists(st.sampled_from(VALUES) | st.text(PRINTABLE, max_size=5), min_size=9, max_size=13),
        max_size=8,
    ),
    st.sampled_from(["\n", "\r\n"]),
    st.integers(min_value=1, max_value=200),
)
def test_fuzz_blocks_agree(
    tmp_path: Path, rows: list[list[str]], newline: str, block_bytes: int
) -> None:
    text = newline.join([HEADER, *("|".join(r) for r in rows)])
    path = _write(tmp_path, text)
    whole = sacct_text.read(path, ReadOptions(tz="UTC"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(line_blocks, "BLOCK_BYTES", block_bytes)
        _same(whole, sacct_text.read(path, ReadOptions(tz="UTC")))
