"""Readers of public job traces: DIR-LAB (Helios, Philly, Blue Waters) and Alibaba's pods."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reader_fuzz import read_quietly, texts_of

from gpurel import ingest, schema
from gpurel.errors import InputError
from gpurel.sources import job_traces
from gpurel.sources.base import ReadOptions, ReadResult

DATA = Path(__file__).parents[2].parent / "shared/data"
DIRLAB = DATA / "dirlab_genparallel_15k"
HELIOS = DIRLAB / "helios_data_training.csv"
PHILLY = DIRLAB / "philly_data_training.csv"
BLUE_WATERS = DIRLAB / "blue_waters_data_training.csv"
PODS = DATA / "alibaba_gpu_v2023" / "openb_pod_list_default.csv"
NODES = DATA / "alibaba_gpu_v2023" / "openb_node_list_all_node.csv"
needs_data = pytest.mark.skipif(not DIRLAB.is_dir(), reason=f"no shared data at {DATA}")

DIRLAB_HEADER = "u_id,user,gpu_num,cpu_num,node_num,interval,run_time,wall_time,new_status"
POD_HEADER = (
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,"
    "creation_time,deletion_time,scheduled_time"
)
NODE_HEADER = "sn,cpu_milli,memory_mib,gpu,model"
DAY0 = datetime(1970, 1, 1, tzinfo=UTC)
OPTIONS = ReadOptions(trace_start=DAY0)  # times as time since the trace began

# dirlab_genparallel_15k/README.md: rows, states, GPU jobs, GPU-count histogram, span in days
GOLDEN = {
    "helios": (
        HELIOS,
        {"COMPLETED": 9316, "CANCELLED": 3452, "FAILED": 2232},
        10796,
        {1: 5939, 2: 544, 4: 647, 8: 2382, 16: 579, 32: 246},
        160,
        20.2,
    ),
    "philly": (
        PHILLY,
        {"COMPLETED": 8538, "FAILED": 4509, "CANCELLED": 1953},
        15000,
        {1: 11963, 2: 375, 4: 905, 8: 1477, 16: 243, 32: 33},
        48,
        57.6,
    ),
    "blue_waters": (
        BLUE_WATERS,
        {"COMPLETED": 10075, "CANCELLED": 4687, "FAILED": 238},
        3403,
        {1: 1062, 4: 318, 8: 118, 24: 152, 100: 1162},
        1000,
        86.5,
    ),
}


def _write(tmp_path: Path, text: str, name: str = "trace.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _rows(result: ReadResult, table: str = "jobs") -> list[dict[str, Any]]:
    return result.tables[table].to_pylist()


def _rejects(result: ReadResult) -> list[tuple[Any, ...]]:
    return [(r["line"], r["field"], r["reason"], r["raw"]) for r in result.rejects.to_pylist()]


@pytest.fixture(scope="module")
def traces() -> dict[str, ReadResult]:
    return {name: job_traces.read_dirlab(g[0], OPTIONS) for name, g in GOLDEN.items()}


@pytest.fixture(scope="module")
def pods() -> ReadResult:
    return job_traces.read_pods(PODS, OPTIONS)


# --- sniffing -----------------------------------------------------------------------------------


def test_sniffers_take_exactly_their_header() -> None:
    assert job_traces.sniff_dirlab(DIRLAB_HEADER + "\n0,1,1,1,1,0,84,0,Pass\n")
    assert job_traces.sniff_dirlab("\ufeff\n" + DIRLAB_HEADER.upper().replace(",", " , ") + "\n")
    assert job_traces.sniff_pods(POD_HEADER + "\n")
    assert job_traces.sniff_nodes(NODE_HEADER + "\n")
    reordered = ",".join(reversed(DIRLAB_HEADER.split(",")))
    assert job_traces.sniff_dirlab(reordered)
    for header in (DIRLAB_HEADER + ",extra", DIRLAB_HEADER.replace("user,", "")):
        assert job_traces.sniff_dirlab(header)  # extra columns, optional ones absent
    submits = DIRLAB_HEADER.replace("interval", "submit_time")
    assert job_traces.sniff_dirlab(submits)
    for header in (DIRLAB_HEADER.replace("new_status", "status"), submits.replace("u_id", "x")):
        assert not job_traces.sniff_dirlab(header)  # a renamed column needs --format
    assert not job_traces.sniff_dirlab(POD_HEADER)
    assert not job_traces.sniff_pods(POD_HEADER + ",node")
    assert not job_traces.sniff_nodes("sn,cpu_milli,memory_mib,gpu,model,sn")
    assert not job_traces.sniff_nodes("time,node,check,result")
    assert not job_traces.sniff_dirlab("")


@needs_data
@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        (HELIOS, "dirlab-trace"),
        (PHILLY, "dirlab-trace"),
        (BLUE_WATERS, "dirlab-trace"),
        (PODS, "k8s-pods"),
        (NODES, "k8s-nodes"),
    ],
)
def test_ingest_detects_the_format(path: Path, fmt: str) -> None:
    assert ingest.detect(path).name == fmt


def test_other_csv_files_are_not_claimed(tmp_path: Path) -> None:
    events = _write(tmp_path, "time,node,check,result\n2024-01-01T00:00:00Z,n1,gpu,fail\n")
    assert ingest.detect(events).name == "events-csv"


# --- DIR-LAB traces, golden ---------------------------------------------------------------------


@needs_data
@pytest.mark.parametrize("name", list(GOLDEN))
def test_dirlab_golden_counts(traces: dict[str, ReadResult], name: str) -> None:
    _, states, gpu_jobs, sizes, largest, span_days = GOLDEN[name]
    result = traces[name]
    assert result.format == "dirlab-trace"
    assert result.rows("jobs") == 15000
    assert result.rejects.num_rows == 0
    jobs = _rows(result)
    assert Counter(j["state"] for j in jobs) == states
    assert Counter(j["state_raw"] for j in jobs) == {
        {"COMPLETED": "Pass", "FAILED": "Failed", "CANCELLED": "Killed"}[s]: n
        for s, n in states.items()
    }
    gpus = Counter(j["n_gpus"] for j in jobs if j["n_gpus"] > 0)
    assert sum(gpus.values()) == gpu_jobs
    assert {size: gpus[size] for size in sizes} == sizes
    assert max(gpus) == largest
    submits = [j["submit_time"] for j in jobs]
    assert submits == sorted(submits)
    assert round((submits[-1] - submits[0]) / timedelta(days=1), 1) == span_days
    assert {j["cluster"] for j in jobs} == {name}


def _shares(jobs: list[dict[str, Any]], low: int, high: float) -> tuple[float, float]:
    """Percent FAILED and CANCELLED of the GPU jobs with low..high GPUs."""
    sized = [j["state"] for j in jobs if low <= j["n_gpus"] <= high]
    return (
        round(100 * sized.count("FAILED") / len(sized), 1),
        round(100 * sized.count("CANCELLED") / len(sized), 1),
    )


@needs_data
def test_status_share_by_gpu_size(traces: dict[str, ReadResult]) -> None:
    helios, philly = _rows(traces["helios"]), _rows(traces["philly"])
    assert _shares(helios, 1, 1) == (19.9, 21.6)
    assert _shares(helios, 2, 8) == (21.2, 38.4)
    assert _shares(helios, 9, 64) == (8.1, 52.6)
    assert _shares(helios, 65, float("inf")) == (0.9, 96.4)
    assert _shares(philly, 1, 1) == (24.7, 11.4)
    assert _shares(philly, 2, 8) == (49.9, 20.9)
    assert _shares(philly, 9, 64) == (63.2, 6.4)


@needs_data
def test_dirlab_mapping(traces: dict[str, ReadResult]) -> None:
    helios = _rows(traces["helios"])
    first, second = helios[0], helios[1]  # 0,1,1,1,1,0,84,0,Pass and 1,1,1,1,1,94,87,0,Pass
    assert first["job_id"] == "0" and first["user"] == "1"
    assert first["submit_time"] == first["start_time"] == DAY0
    assert first["end_time"] == DAY0 + timedelta(seconds=84)
    assert first["elapsed"] == 84 and first["time_limit"] is None
    assert (first["n_gpus"], first["n_cpus"], first["n_nodes"]) == (1, 1, 1)
    assert second["submit_time"] == DAY0 + timedelta(seconds=94)
    assert first["source"] == str(HELIOS)
    assert all(j["end_time"] - j["start_time"] == timedelta(seconds=j["elapsed"]) for j in helios)
    philly = _rows(traces["philly"])
    assert {j["n_cpus"] for j in philly} == {None}  # cpu_num 0: not recorded
    assert {j["time_limit"] for j in philly} == {None}
    blue_waters = _rows(traces["blue_waters"])
    assert blue_waters[0]["time_limit"] == 43200 and blue_waters[0]["n_cpus"] == 86464
    assert traces["helios"].tables["jobs"].schema == schema.JOBS


@needs_data
def test_dirlab_options(tmp_path: Path) -> None:
    start = datetime(2020, 4, 1)  # naive = UTC
    result = job_traces.read_dirlab(HELIOS, ReadOptions(cluster="sh40", trace_start=start))
    jobs = _rows(result)
    assert {j["cluster"] for j in jobs} == {"sh40"}
    assert jobs[0]["submit_time"] == start.replace(tzinfo=UTC)
    unnamed = _write(tmp_path, DIRLAB_HEADER + "\n0,1,1,1,1,0,84,0,Pass\n", "mine.csv")
    assert _rows(job_traces.read_dirlab(unnamed, OPTIONS))[0]["cluster"] == "default"


# --- DIR-LAB traces, bad rows -------------------------------------------------------------------


def test_dirlab_bad_rows_go_to_rejects(tmp_path: Path) -> None:
    text = (
        DIRLAB_HEADER + "\n"
        "0,1,1,1,1,0,84,0,Pass\n"
        "1,1,x,1,1,100,87,0,Pass\n"  # non-numeric GPU count; its interval still counts
        "\n"
        "2,1,1,1,1,10,-5,0,Pass\n"  # negative duration
        "3,2,1,1,1,10,5,0,Crashed\n"  # unknown status
        "4,2,1\n"  # too few fields
        "5,2,8.5,2,1,2.5,60,3600,Killed\n"  # a fraction of a GPU; its interval counts
        ",2,8,2,1,20,60,3600,Killed\n"  # no job id
        "6,2,8,2,1,20,60,3600,killed\n"
        "7,2,8,2,1,20,60,-3600,Killed\n"  # negative time limit
    )
    result = job_traces.read_dirlab(_write(tmp_path, text, "helios.csv"), OPTIONS)
    assert _rejects(result) == [
        (3, "gpu_num", "not a whole number: 'x'", "1,1,x,1,1,100,87,0,Pass"),
        (5, "run_time", "negative duration: -5", "2,1,1,1,1,10,-5,0,Pass"),
        (
            6,
            "new_status",
            "unknown new_status 'Crashed' (known: Pass, Failed, Killed)",
            "3,2,1,1,1,10,5,0,Crashed",
        ),
        (7, None, "expected 9 fields, found 3", "4,2,1"),
        (8, "gpu_num", "not a whole number: '8.5'", "5,2,8.5,2,1,2.5,60,3600,Killed"),
        (9, "u_id", "missing u_id", ",2,8,2,1,20,60,3600,Killed"),
        (11, "wall_time", "negative time limit: -3600", "7,2,8,2,1,20,60,-3600,Killed"),
    ]
    assert {r["source"] for r in result.rejects.to_pylist()} == {str(tmp_path / "helios.csv")}
    jobs = _rows(result)
    assert [j["job_id"] for j in jobs] == ["0", "6"]
    # 0 + 100 + 10 + 10 + (unknown: 0) + 2.5 + 20 + 20
    assert jobs[1]["submit_time"] == DAY0 + timedelta(seconds=162.5)
    assert (jobs[1]["state"], jobs[1]["state_raw"]) == ("CANCELLED", "killed")
    assert result.size == 9  # every data line is a row or a reject; the blank line is neither


def test_times_past_year_9999_are_rejected(tmp_path: Path) -> None:
    text = DIRLAB_HEADER + "\n0,1,1,1,1,999999999999,1,0,Pass\n1,1,1,1,1,0,999999999999,0,Pass\n"
    start = datetime(9990, 1, 1, tzinfo=UTC)
    result = job_traces.read_dirlab(_write(tmp_path, text), ReadOptions(trace_start=start))
    assert [(r[0], r[1], r[2]) for r in _rejects(result)] == [
        (2, "interval", "submit time past the year 9999"),
        (3, "interval", "submit time past the year 9999"),
    ]
    huge = DIRLAB_HEADER + "\n0,1,99999999999,1,1,0,1,0,Pass\n"
    result = job_traces.read_dirlab(_write(tmp_path, huge), OPTIONS)
    assert _rejects(result)[0][1:3] == ("gpu_num", "GPU count too large: 99999999999")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file"),
        ("\n  \n", "empty file"),
        ("u_id,user\n0,1\n", "line 1: CSV header lacks gpu_num"),
        ("\n" + DIRLAB_HEADER + ",user\n", "line 2: CSV header repeats user"),
    ],
)
def test_unreadable_headers(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        job_traces.read_dirlab(_write(tmp_path, text), OPTIONS)


def test_header_only_and_extra_columns(tmp_path: Path) -> None:
    result = job_traces.read_dirlab(_write(tmp_path, DIRLAB_HEADER + "\n"), OPTIONS)
    assert result.rows("jobs") == 0 and result.rejects.num_rows == 0
    text = "\n" + DIRLAB_HEADER + ",vc\n0,1,1,1,1,0,84,0,Pass,vc1\n\n1,1,1\n"
    result = job_traces.read_dirlab(_write(tmp_path, text), OPTIONS)
    assert result.rows("jobs") == 1
    assert _rejects(result) == [(5, None, "expected 10 fields, found 3", "1,1,1")]


# --- Alibaba pods and nodes ---------------------------------------------------------------------


@needs_data
def test_pods_golden(pods: ReadResult) -> None:
    assert pods.format == "k8s-pods"
    assert (pods.rows("jobs"), pods.rejects.num_rows) == (8152, 0)
    jobs = _rows(pods)
    assert Counter(j["state"] for j in jobs) == {
        "RUNNING": 5193,
        "FAILED": 1870,
        "PENDING": 897,
        "COMPLETED": 192,
    }
    assert Counter(j["n_gpus"] for j in jobs) == {1: 6989, 0: 1088, 8: 44, 2: 16, 4: 15}
    qos = {"LS": 4647, "BE": 3398, "Burstable": 100, "Guaranteed": 7}
    assert Counter(j["qos"] for j in jobs) == qos
    pending = [j for j in jobs if j["state"] == "PENDING"]
    assert all(j["start_time"] is None and j["n_nodes"] is None for j in pending)
    assert all(j["start_time"] is not None for j in jobs if j["state"] != "PENDING")
    assert {j["cluster"] for j in jobs} == {"alibaba_openb"}
    assert max(j["end_time"] for j in jobs) - DAY0 < timedelta(days=150)


@needs_data
def test_pod_mapping(pods: ReadResult) -> None:
    by_id = {j["job_id"]: j for j in _rows(pods)}
    # openb-pod-0001,6000,12288,1,460,,LS,Running,427061,12902960,427061: a 0.46 GPU share
    pod = by_id["openb-pod-0001"]
    assert (pod["n_gpus"], pod["n_cpus"], pod["n_nodes"], pod["qos"]) == (1, 6, 1, "LS")
    assert pod["submit_time"] == pod["start_time"] == DAY0 + timedelta(seconds=427061)
    assert pod["end_time"] == DAY0 + timedelta(seconds=12902960)
    assert (pod["state"], pod["state_raw"]) == ("RUNNING", "Running")


def test_pod_bad_rows_go_to_rejects(tmp_path: Path) -> None:
    text = (
        POD_HEADER + "\n"
        "p0,1500,0,1,460,,LS,Succeeded,10,20,\n"  # never scheduled, yet succeeded: kept
        "p1,1000,0,1,1000,,LS,Exploded,0,10,0\n"
        "p2,1000,0,1,1000,,LS,Failed,100,50,100\n"
        "p3,1000,0,1,1000,,LS,Failed,100,150,90\n"
        "p4,1000,0,1,1000,,LS,Failed,soon,150,100\n"
        "p5,1000,0,one,1000,,LS,Failed,0,150,100\n"
        "p6,,0,0,0,,BE,Pending,7,,\n"
    )
    result = job_traces.read_pods(_write(tmp_path, text, "pods.csv"), OPTIONS)
    assert [r[:3] for r in _rejects(result)] == [
        (
            3,
            "pod_phase",
            "unknown pod_phase 'Exploded' (known: Succeeded, Failed, Running, Pending, Unknown)",
        ),
        (4, "deletion_time", "negative duration: deleted at 50, before it was created"),
        (5, "scheduled_time", "negative wait: scheduled at 90, before it was created"),
        (6, "creation_time", "not a number: 'soon'"),
        (7, "num_gpu", "not a whole number: 'one'"),
    ]
    jobs = {j["job_id"]: j for j in _rows(result)}
    assert jobs["p0"]["n_cpus"] == 2 and jobs["p0"]["start_time"] is None
    assert jobs["p0"]["cluster"] == "default"
    assert jobs["p6"]["end_time"] is None and jobs["p6"]["n_cpus"] is None
    assert jobs["p6"]["n_gpus"] == 0


@needs_data
def test_nodes_inventory() -> None:
    result = job_traces.read_nodes(NODES, ReadOptions())
    assert (result.format, result.rows("nodes"), result.rejects.num_rows) == ("k8s-nodes", 1523, 0)
    nodes = _rows(result, "nodes")
    assert Counter(n["gpus"] for n in nodes) == {0: 310, 2: 518, 8: 617, 4: 54, 1: 24}
    assert {(n["in_service_start"], n["in_service_end"]) for n in nodes} == {(None, None)}
    assert result.tables["nodes"].schema == schema.NODES


def test_node_bad_rows(tmp_path: Path) -> None:
    text = NODE_HEADER + "\nn1,1000,10,8,A100\n,1000,10,8,A100\nn3,1000,10,eight,A100\n"
    result = job_traces.read_nodes(_write(tmp_path, text), ReadOptions(cluster="k"))
    assert [r[:3] for r in _rejects(result)] == [
        (3, "sn", "missing sn"),
        (4, "gpu", "not a whole number: 'eight'"),
    ]
    assert _rows(result, "nodes")[0] | {"source": None} == {
        "cluster": "k",
        "node": "n1",
        "gpus": 8,
        "in_service_start": None,
        "in_service_end": None,
        "source": None,
    }


# --- fuzz ---------------------------------------------------------------------------------------

_FRAGMENTS = [
    DIRLAB_HEADER,
    POD_HEADER,
    NODE_HEADER,
    "\n",
    "\r\n",
    ",",
    '"',
    "0",
    "-1",
    "123456789012345",
    "Pass",
    "Killed",
    "Running",
    "Pending",
    " ",
    "1.5",
    "\ufeff",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts_of(_FRAGMENTS), st.sampled_from(["dirlab", "pods", "nodes"]))
def test_fuzz_rows_become_rows_or_rejects(text: str, kind: str) -> None:
    read = {
        "dirlab": job_traces.read_dirlab,
        "pods": job_traces.read_pods,
        "nodes": job_traces.read_nodes,
    }[kind]
    job_traces.sniff_dirlab(text)
    job_traces.sniff_pods(text)
    read_quietly(read, text, OPTIONS, "helios_trace.csv")


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.lists(
            st.sampled_from(["", "0", "7", "-3", "x", "99999999999999", "Pass", "Failed", " 1 "]),
            min_size=7,
            max_size=11,
        ),
        max_size=12,
    )
)
def test_fuzz_every_line_is_a_row_or_a_reject(tmp_path_factory: Any, rows: list[list[str]]) -> None:
    lines = [",".join(row) for row in rows]
    path = tmp_path_factory.mktemp("fuzz") / "trace.csv"
    path.write_text("\n".join([DIRLAB_HEADER, *lines]) + "\n", encoding="utf-8")
    result = job_traces.read_dirlab(path, OPTIONS)
    data_lines = sum(1 for line in lines if line.replace(",", "").strip())
    assert result.size == data_lines
    assert result.tables["jobs"].schema == schema.JOBS
    rejected = result.rejects.column("line").to_pylist()
    assert rejected == sorted(rejected) and all(isinstance(n, int) for n in rejected)
    assert isinstance(result.tables["jobs"], pa.Table)


@pytest.mark.parametrize("blank", ["\n", "\n\n", "\n \n", "\n\n  "])
def test_blank_lines_after_the_header_are_counted_skipped(tmp_path: Path, blank: str) -> None:
    path = tmp_path / "helios_trace.csv"
    path.write_text(DIRLAB_HEADER + "\n" + blank, encoding="utf-8")
    result = job_traces.read_dirlab(path, OPTIONS)
    lines = len((DIRLAB_HEADER + "\n" + blank).splitlines())
    assert (result.lines, result.records, result.skipped) == (lines, 0, lines)
