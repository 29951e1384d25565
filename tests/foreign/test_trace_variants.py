"""Job traces as found in the wild: day 0, schema variants, and lines past the parser's limits.

The expected jobs are recounted in plain Python from the text each test writes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import pyarrow as pa
import pyarrow.csv as pv
import pytest

from gpurel.errors import InputError
from gpurel.ingest import detect, ingest
from gpurel.sources import job_traces, known_traces
from gpurel.sources.base import ReadOptions, ReadResult
from gpurel.warehouse import Warehouse

DAY0 = datetime(2020, 4, 1, tzinfo=UTC)
OPTIONS = ReadOptions(trace_start=DAY0)
HEADER = "u_id,user,gpu_num,cpu_num,node_num,interval,run_time,wall_time,new_status"
STATES = {"Pass": "COMPLETED", "Failed": "FAILED", "Killed": "CANCELLED"}
Read = Callable[[Path, ReadOptions], ReadResult]


def accounted(result: ReadResult) -> bool:
    """Every line became a row, a reject or a skipped line."""
    return result.lines + result.expanded == result.records + result.rejects.num_rows + (
        result.skipped
    )


def _write(tmp_path: Path, text: str, name: str = "trace.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- day 0 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "header", "read", "named"),
    [
        ("mine.csv", HEADER, job_traces.read_dirlab, None),
        ("helios_data_training.csv", HEADER, job_traces.read_dirlab, "Helios"),
        ("philly_data_training.csv", HEADER, job_traces.read_dirlab, "Philly"),
        ("openb_pod_list_gpushare40.csv", ",".join(job_traces.POD_COLUMNS),
         job_traces.read_pods, "Alibaba"),
    ],
)  # fmt: skip
def test_relative_times_without_a_start_are_refused(
    tmp_path: Path, name: str, header: str, read: Read, named: str | None
) -> None:
    path = _write(tmp_path, header + "\n", name)
    with pytest.raises(InputError, match="--trace-start") as refused:
        read(path, ReadOptions())
    assert (named in str(refused.value)) if named else ("this is" not in str(refused.value))
    assert read(path, OPTIONS).rows("jobs") == 0


def test_a_node_list_needs_no_start(tmp_path: Path) -> None:
    path = _write(tmp_path, "sn,cpu_milli,memory_mib,gpu,model\nn1,1000,10,8,A100\n")
    assert job_traces.read_nodes(path, ReadOptions()).rows("nodes") == 1


def test_known_traces_cite_a_source_and_only_documented_starts() -> None:
    traces = known_traces.known()
    assert all(t.source and t.about and t.files for t in traces)
    dated = {t.format: t.start for t in traces if t.start is not None}
    assert dated == {"infinitehbd": datetime(2024, 3, 30, tzinfo=UTC)}
    found = known_traces.recognise(Path("/data/Fault_Trace.json"), "infinitehbd")
    assert found is not None and found.start == datetime(2024, 3, 30, tzinfo=UTC)
    assert known_traces.recognise(Path("fault_trace.json"), "dirlab-trace") is None
    options = ReadOptions(trace_start=datetime(2025, 1, 1))  # naive = UTC, and it wins
    got = known_traces.day0(Path("fault_trace.json"), options, "infinitehbd")
    assert got == datetime(2025, 1, 1, tzinfo=UTC)


# --- DIR-LAB variants ---------------------------------------------------------------------------


def _expected(rows: list[dict[str, str]], submit: str = "interval") -> list[tuple[object, ...]]:
    """job id, submit, end, state, GPUs, elapsed: recounted from the text."""
    out: list[tuple[object, ...]] = []
    clock = 0.0
    for row in rows:
        clock = clock + float(row[submit]) if submit == "interval" else float(row[submit])
        start = DAY0 + timedelta(seconds=clock)
        end = start + timedelta(seconds=float(row["run_time"]))
        elapsed = int(float(row["run_time"]) + 0.5)
        out.append(
            (row["u_id"], start, end, STATES[row["new_status"]], int(float(row["gpu"])), elapsed)
        )
    return out


def _jobs(result: ReadResult) -> list[tuple[object, ...]]:
    return [
        (j["job_id"], j["submit_time"], j["end_time"], j["state"], j["n_gpus"], j["elapsed"])
        for j in result.tables["jobs"].to_pylist()
    ]


def test_integers_written_as_floats_and_fractional_seconds(tmp_path: Path) -> None:
    # as Theta's (fractional run times) and pandas exports (8.0) of the DIR-LAB schema
    keys = ("u_id", "gpu", "interval", "run_time", "new_status")
    rows = [
        dict(zip(keys, ("0", "8.0", "0.0", "18431.92", "Pass"), strict=True)),
        dict(zip(keys, ("1", "1.0", "1126233", "2854.5", "Killed"), strict=True)),
        dict(zip(keys, ("2", "0", "12.25", "79.96", "Failed"), strict=True)),
    ]
    lines = [HEADER] + [
        f"{r['u_id']},1,{r['gpu']},32768.0,512.0,{r['interval']},{r['run_time']},21600.0,"
        f"{r['new_status']}"
        for r in rows
    ]
    result = job_traces.read_dirlab(_write(tmp_path, "\n".join(lines) + "\n"), OPTIONS)
    assert result.rejects.num_rows == 0 and accounted(result)
    assert _jobs(result) == _expected(rows)
    assert {j["time_limit"] for j in result.tables["jobs"].to_pylist()} == {21600}


def test_submit_times_instead_of_intervals(tmp_path: Path) -> None:
    rows = [
        {"u_id": "a", "gpu": "2", "submit_time": "100", "run_time": "50", "new_status": "Pass"},
        {"u_id": "b", "gpu": "4", "submit_time": "40", "run_time": "5", "new_status": "Failed"},
        {"u_id": "c", "gpu": "4", "submit_time": "nan", "run_time": "5", "new_status": "Failed"},
    ]
    text = "u_id,gpu_num,submit_time,run_time,new_status,queue\n" + "".join(
        f"{r['u_id']},{r['gpu']},{r['submit_time']},{r['run_time']},{r['new_status']},q\n"
        for r in rows
    )
    path = _write(tmp_path, text)
    assert detect(path).name == "dirlab-trace"
    result = job_traces.read_dirlab(path, OPTIONS)
    assert _jobs(result) == _expected(rows[:2], "submit_time")
    (reject,) = result.rejects.to_pylist()
    assert (reject["line"], reject["field"], reject["reason"]) == (
        4,
        "submit_time",
        "missing submit_time",
    )
    jobs = result.tables["jobs"].to_pylist()
    assert {(j["user"], j["n_cpus"], j["n_nodes"], j["time_limit"]) for j in jobs} == {
        (None, None, None, None)
    }
    assert accounted(result) and result.lines == 4


def test_renamed_columns_and_headers_with_spaces(tmp_path: Path) -> None:
    # SDSC-95 of the same repository names its columns Job_Number, Interval, Run_Time...
    text = (
        "Job_Number,Interval,Run_Time,Number_of_Allocated_Processors,GPU Num,Status\n"
        "1,0.0,37349,128,0,Pass\n"
        "2,4751.0,43349,128,1,Failed\n"
    )
    path = _write(tmp_path, text, "sdsc.csv")
    result = job_traces.read_dirlab(path, OPTIONS)
    rows = [
        {"u_id": "1", "gpu": "0", "interval": "0", "run_time": "37349", "new_status": "Pass"},
        {"u_id": "2", "gpu": "1", "interval": "4751", "run_time": "43349", "new_status": "Failed"},
    ]
    assert _jobs(result) == _expected(rows) and accounted(result)
    assert [j["n_cpus"] for j in result.tables["jobs"].to_pylist()] == [128, 128]
    (note,) = result.notes
    assert "job_number as u_id" in note and "number_of_allocated_processors as cpu_num" in note
    assert "status as new_status" in note


def test_a_missing_column_is_named_with_how_to_supply_it(tmp_path: Path) -> None:
    path = _write(tmp_path, "Job_Number,Interval,Run_Time,gpu_num,outcome\n1,0,5,1,Pass\n")
    with pytest.raises(InputError) as refused:
        job_traces.read_dirlab(path, OPTIONS)
    message = str(refused.value)
    assert "lacks new_status (how the job ended: Pass, Failed or Killed)" in message
    assert "--map new_status=COLUMN" in message
    mapped = ReadOptions(trace_start=DAY0, field_map=(("new_status", "Outcome"),))
    result = job_traces.read_dirlab(path, mapped)
    assert result.rows("jobs") == 1 and "outcome as new_status" in result.notes[0]
    no_time = _write(tmp_path, "u_id,gpu_num,run_time,new_status\n1,1,5,Pass\n")
    with pytest.raises(InputError, match="lacks interval or submit_time"):
        job_traces.read_dirlab(no_time, OPTIONS)
    wrong = ReadOptions(trace_start=DAY0, field_map=(("u_id", "JobRef"),))
    with pytest.raises(InputError, match="no column for --map u_id=JobRef"):
        job_traces.read_dirlab(path, wrong)


# --- parser limits ------------------------------------------------------------------------------


def test_a_line_over_a_mebibyte_is_read(tmp_path: Path) -> None:
    huge = "u" * (3 << 20)
    text = f"{HEADER}\n0,1,1,1,1,0,84,0,Pass\n1,{huge},1,1,1,5,10,0,Pass\n2,1,1,1,1,5,1,0,Oops\n"
    result = job_traces.read_dirlab(_write(tmp_path, text), OPTIONS)
    users = [j["user"] for j in result.tables["jobs"].to_pylist()]
    assert users == ["1", huge]
    assert [r["line"] for r in result.rejects.to_pylist()] == [4]
    assert accounted(result) and result.lines == 4


def test_a_parser_error_is_one_files_error_and_the_batch_goes_on(tmp_path: Path) -> None:
    broken = _write(tmp_path, f"{HEADER}\n0,1,1,1,1,0,84,0,Pass\n", "broken.csv")
    fine = _write(tmp_path, f"{HEADER}\n0,1,1,1,1,0,84,0,Pass\n", "fine.csv")
    real = pv.read_csv

    def fails_on_broken(source: pa.BufferReader, **kwargs: object) -> pa.Table:
        calls.append(1)
        if len(calls) == 1:
            raise pa.ArrowInvalid("CSV parse error: straddling object")
        return real(source, **kwargs)

    calls: list[int] = []
    warehouse = Warehouse.open(tmp_path / "w.duckdb")
    try:
        with mock.patch.object(pv, "read_csv", fails_on_broken):
            outcomes = ingest(warehouse, [broken, fine], OPTIONS)
    finally:
        warehouse.close()
    assert outcomes[0].error is not None and "not readable as CSV" in outcomes[0].error
    assert str(broken) in outcomes[0].error
    assert outcomes[1].ok and outcomes[1].rows == {"jobs": 1}
