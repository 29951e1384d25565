"""Collection against fake sacct, sacctmgr and scontrol executables on PATH (no Slurm).

The fakes log every call, answer from JSON files the way Slurm selects (a job is listed by
every window it was eligible or running in; an event by every window it was open in), and
fail on demand the way a Slurm client fails when slurmdbd is down.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gpurel import schema
from gpurel.cli.app import app
from gpurel.cli.collect_cmd import UNREACHABLE_EXIT
from gpurel.collect import state
from gpurel.collect.collector import Window, collect_slurm
from gpurel.collect.retry import Backoff, CommandFailed, GaveUp
from gpurel.collect.slurm import DELIMITER, SACCT_FIELDS, SlurmClient, local_cluster
from gpurel.errors import GpurelError
from gpurel.warehouse import Warehouse

FAKE = r"""
import json, os, signal, sys, time
data = os.environ["FAKE_SLURM_DIR"]
prog = os.path.basename(sys.argv[0])
args = sys.argv[1:]
with open(os.path.join(data, "calls.jsonl"), "a") as log:
    log.write(json.dumps({"prog": prog, "args": args, "tz": os.environ.get("TZ")}) + "\n")

def fault(name):
    # the fault of file ``name`` if it applies to this call, counted; else None
    path = os.path.join(data, name)
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        spec = json.load(handle)
    if not spec["times"] or spec.get("prog", prog) != prog:
        return None
    if spec["match"] and not any(spec["match"] in a for a in args):
        return None
    spec["times"] -= 1
    with open(path, "w") as handle:
        json.dump(spec, handle)
    return spec

fail = fault("fail.json")
if fail:
    sys.stderr.write(fail["stderr"] + "\n")
    sys.exit(fail["code"])
damage = fault("damage.json") or {"kind": None}
if damage["kind"] == "hang":
    time.sleep(3600)

def option(prefix):
    return next(a[len(prefix):] for a in args if a.startswith(prefix))

def load(name):
    with open(os.path.join(data, name)) as handle:
        return json.load(handle)

def active(row, start, end):
    return row["from"] <= end and (row["to"] == "Unknown" or row["to"] >= start)

lines, delimiter = [], "|"
if prog == "scontrol":
    lines = ["Configuration data as of 2024-05-01T10:00:00", "ClusterName             = fake"]
elif prog == "sacct" and "--helpformat" in args:
    lines = [" ".join(load("helpformat.json"))]
elif prog == "sacct":
    fields, delimiter = option("--format=").split(","), option("--delimiter=")
    start, end = option("--starttime="), option("--endtime=")
    lines = [delimiter.join(fields)]
    for job in load("jobs.json"):
        if active(job, start, end):
            lines.append(delimiter.join(job.get(f, "") for f in fields))
elif prog == "sacctmgr" and "configuration" in args:
    lines = ["PrivateData = none", "", "SlurmDBD configuration:", "PrivateData = none"]
elif prog == "sacctmgr":
    start, end = option("Start="), option("End=")
    lines = ["Cluster|NodeName|TimeStart|TimeEnd|State|Reason|User"]
    for event in load("events.json"):
        if active(event, start, end):
            lines.append("|".join([event["cluster"], event["node"], event["from"], event["to"],
                                   event["state"], event["reason"], "root(0)"]))
if damage["kind"] == "fields":  # the last line loses its last field
    lines[-1] = lines[-1].rsplit(delimiter, 1)[0]
text = "".join(line + "\n" for line in lines)
if damage["kind"] == "cut":  # the output stops in the middle of a line
    cut = len(text) // 2
    text = text[: cut - 1 if text[cut - 1] == "\n" else cut]
sys.stdout.write(text)
sys.stdout.flush()
if damage["kind"] == "exit":  # after a complete answer, without a word on stderr
    if damage["code"] < 0:
        os.kill(os.getpid(), -damage["code"])
    sys.exit(damage["code"])
"""

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
NO_RESTARTS = [f for f in SACCT_FIELDS if f != "Restarts"]  # like Slurm 22.05


def at(minutes: float) -> str:
    """A time ``minutes`` after T0 as sacct prints it with TZ=UTC."""
    return (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S")


def job(
    job_id: str,
    state: str,
    submit: float,
    start: float | None,
    end: float | None,
    node: str = "gpu001",
) -> dict[str, str]:
    """One sacct job row; ``from``/``to`` say which windows list it."""
    begin = "Unknown" if start is None else at(start)
    finish = "Unknown" if end is None else at(end)
    return {
        "JobID": job_id,
        "JobIDRaw": job_id,
        "JobName": "train|v2",  # a | in a name must not shift the columns
        "User": "alice",
        "Account": "research",
        "Partition": "main",
        "QOS": "normal",
        "NodeList": "None assigned" if start is None else node,
        "NNodes": "1",
        "NCPUS": "8",
        "AllocTRES": "billing=8,cpu=8,gres/gpu=8,node=1",
        "State": state,
        "Submit": at(submit),
        "Eligible": at(submit),
        "Start": begin,
        "End": finish,
        "ElapsedRaw": "0",
        "TimelimitRaw": "60",
        "ExitCode": "0:0",
        "from": at(submit),
        "to": finish,
    }


def event(node: str, start: float, end: float | None, reason: str) -> dict[str, str]:
    """One sacctmgr node event."""
    finish = "Unknown" if end is None else at(end)
    fields = {"cluster": "fake", "node": node, "state": "DOWN", "reason": reason}
    return fields | {"from": at(start), "to": finish}


JOBS = [
    job("1", "COMPLETED", 5, 6, 20),
    job("2", "NODE_FAIL", 10, 11, 100),  # runs across three windows
    job("2", "COMPLETED", 100, 101, 110),  # its requeued attempt
    job("3", "PENDING", 170, None, None),  # still waiting: its start would change its key
]
EVENTS = [event("gpu001", 99, 120, "NHC: check_hw_ib: No IB port is ACTIVE")]


@dataclass
class FakeSlurm:
    """The fakes' data directory."""

    data: Path

    def answer(self, jobs: list[dict[str, str]], events: list[dict[str, str]]) -> None:
        (self.data / "jobs.json").write_text(json.dumps(jobs))
        (self.data / "events.json").write_text(json.dumps(events))

    def fail(self, times: int, stderr: str, match: str | None = None, code: int = 1) -> None:
        spec = {"times": times, "stderr": stderr, "match": match, "code": code}
        (self.data / "fail.json").write_text(json.dumps(spec))

    def damage(
        self, kind: str, times: int, prog: str, match: str | None = None, code: int = 0
    ) -> None:
        """Answer ``times`` calls of ``prog`` (-1: all) whose arguments hold ``match`` badly:
        ``cut`` mid-line, ``fields`` (a field short), ``exit`` with ``code`` (negative: killed by
        that signal) after a complete answer, or ``hang``."""
        spec = {"kind": kind, "times": times, "prog": prog, "match": match, "code": code}
        (self.data / "damage.json").write_text(json.dumps(spec))

    def calls(self) -> list[dict[str, Any]]:
        path = self.data / "calls.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def windows(self, prog: str = "sacct") -> list[str]:
        """The window starts of the job (sacct) or event (sacctmgr) queries, in order."""
        marker = "--starttime=" if prog == "sacct" else "Start="
        return [
            next(a for a in call["args"] if a.startswith(marker))[len(marker) :]
            for call in self.calls()
            if call["prog"] == prog and any(a.startswith(marker) for a in call["args"])
        ]


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeSlurm:
    bin_dir, data = tmp_path / "bin", tmp_path / "data"
    bin_dir.mkdir()
    data.mkdir()
    for name in ("sacct", "sacctmgr", "scontrol"):
        script = bin_dir / name
        script.write_text(f"#!{sys.executable}\n{FAKE}")
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_SLURM_DIR", str(data))
    monkeypatch.setenv("TZ", "America/New_York")
    (data / "helpformat.json").write_text(json.dumps(NO_RESTARTS))
    fake = FakeSlurm(data)
    fake.answer(JOBS, EVENTS)
    return fake


def client(retries: int = 0) -> SlurmClient:
    return SlurmClient("fake", Backoff(retries=retries, first_s=0.01))


def contents(warehouse: Warehouse) -> dict[str, list[str]]:
    return {
        name: sorted(map(repr, warehouse.table(name).to_pyarrow().to_pylist()))
        for name in schema.TABLES
    }


def clean_contents(fake: FakeSlurm) -> dict[str, list[str]]:
    """The warehouse a clean run stores, without its calls in the log."""
    clean = Warehouse.in_memory()
    collect_slurm(clean, client(), window())
    (fake.data / "calls.jsonl").unlink()
    return contents(clean)


def window(until: float = 180, since: float | None = 0) -> Window:
    start = None if since is None else T0 + timedelta(minutes=since)
    return Window(until=T0 + timedelta(minutes=until), since=start, chunk_s=3600, overlap_s=3600)


def test_one_sacct_and_one_sacctmgr_query_per_window(fake: FakeSlurm) -> None:
    warehouse = Warehouse.in_memory()
    done = collect_slurm(warehouse, client(), window())
    assert len(done) == 3
    calls = fake.calls()
    assert [c["prog"] for c in calls] == ["sacct"] + ["sacct", "sacctmgr"] * 3
    assert {c["tz"] for c in calls} == {"UTC"}
    first = calls[1]["args"]
    assert first[:4] == ["--allusers", "--duplicates", "--parsable2", f"--delimiter={DELIMITER}"]
    assert f"--format={','.join(NO_RESTARTS)}" in first
    assert "--clusters=fake" in first
    assert fake.windows() == ["2024-05-01T10:00:00", "2024-05-01T11:00:00", "2024-05-01T12:00:00"]
    assert "--endtime=2024-05-01T13:00:00" in calls[-2]["args"]


def test_jobs_listed_by_several_windows_are_stored_once(fake: FakeSlurm) -> None:
    warehouse = Warehouse.in_memory()
    collect_slurm(warehouse, client(), window())
    jobs = warehouse.jobs().order_by("job_id", "attempt").to_pyarrow().to_pylist()
    assert [(j["job_id"], j["attempt"], j["state"]) for j in jobs] == [
        ("1", 1, "COMPLETED"),
        ("2", 1, "NODE_FAIL"),
        ("2", 2, "COMPLETED"),
    ]
    assert {j["name"] for j in jobs} == {"train|v2"}
    assert jobs[1]["source"] == "sacct fake 2024-05-01T11:00:00Z/2024-05-01T12:00:00Z"
    assert warehouse.counts()["node_events"] == 1
    assert warehouse.counts()["rejects"] == 0


def test_a_running_job_is_replaced_by_its_end(fake: FakeSlurm) -> None:
    warehouse = Warehouse.in_memory()
    fake.answer([job("7", "RUNNING", 5, 6, None)], [])
    collect_slurm(warehouse, client(), window(until=60))
    fake.answer([job("7", "COMPLETED", 5, 6, 70)], [])
    collect_slurm(warehouse, client(), window(until=120, since=None))
    rows = warehouse.jobs().to_pyarrow().to_pylist()
    assert [(r["job_id"], r["state"]) for r in rows] == [("7", "COMPLETED")]


def test_resume_reads_the_overlap_again(fake: FakeSlurm) -> None:
    warehouse = Warehouse.in_memory()
    collect_slurm(warehouse, client(), window(until=90))
    stream = state.slurm_stream("fake")
    assert state.resume_time(warehouse, stream) == T0 + timedelta(minutes=90)
    collect_slurm(warehouse, client(), window(until=180, since=None))
    assert fake.windows()[2:] == [
        "2024-05-01T10:00:00",  # 10:30 less the one-hour overlap, down to the grid
        "2024-05-01T11:00:00",
        "2024-05-01T12:00:00",
    ]


def test_a_parquet_warehouse_resumes_where_it_stopped(fake: FakeSlurm, tmp_path: Path) -> None:
    clean = clean_contents(fake)
    first = Warehouse.open(tmp_path / "parquet")
    collect_slurm(first, client(), window(until=90))
    first.close()
    again = Warehouse.open(tmp_path / "parquet")
    collect_slurm(again, client(), window(until=180, since=None))
    assert fake.windows()[2:] == [
        "2024-05-01T10:00:00",
        "2024-05-01T11:00:00",
        "2024-05-01T12:00:00",
    ]
    assert contents(again) == clean
    again.close()


def test_first_run_needs_since(fake: FakeSlurm) -> None:
    with pytest.raises(Exception, match="pass --since"):
        collect_slurm(Warehouse.in_memory(), client(), window(since=None))


def test_interrupted_run_keeps_what_it_stored_and_resumes_to_a_clean_result(
    fake: FakeSlurm,
) -> None:
    clean = Warehouse.in_memory()
    collect_slurm(clean, client(), window())
    broken = Warehouse.in_memory()
    fake.fail(
        -1,
        "sacct: error: Problem talking to the database: Connection refused",
        match="--starttime=2024-05-01T11:00:00",
    )
    with pytest.raises(GaveUp, match="failed 3 times"):
        collect_slurm(broken, client(retries=2), window())
    stream = state.slurm_stream("fake")
    assert state.resume_time(broken, stream) == T0 + timedelta(hours=1)
    assert sorted(r["job_id"] for r in broken.jobs().to_pyarrow().to_pylist()) == ["1", "2"]
    (fake.data / "fail.json").unlink()
    collect_slurm(broken, client(), window(since=None))
    assert contents(broken) == contents(clean)


def test_slurmdbd_back_within_the_budget(fake: FakeSlurm) -> None:
    fake.fail(2, "sacctmgr: error: Sending PersistInit msg: Connection refused", match="Start=")
    warehouse = Warehouse.in_memory()
    told: list[float] = []
    retrying = SlurmClient("fake", Backoff(retries=3, first_s=0.01), lambda e, d: told.append(d))
    collect_slurm(warehouse, retrying, window())
    assert told == [0.01, 0.02]
    assert warehouse.counts()["node_events"] == 1


def test_lasting_errors_are_not_retried(fake: FakeSlurm) -> None:
    fake.fail(5, 'sacct: error: Invalid field requested: "Foo"', match="--starttime")
    with pytest.raises(CommandFailed, match="Invalid field") as caught:
        collect_slurm(Warehouse.in_memory(), client(retries=3), window())
    assert not isinstance(caught.value, GaveUp)
    assert len(fake.windows()) == 1


def test_empty_answer_is_a_failure_not_an_empty_window(fake: FakeSlurm) -> None:
    fake.fail(1, "", match="--starttime", code=0)
    with pytest.raises(GaveUp, match="no output"):
        collect_slurm(Warehouse.in_memory(), client(), window())


def test_missing_fields_are_reported(fake: FakeSlurm) -> None:
    (fake.data / "helpformat.json").write_text(json.dumps(["JobID", "State"]))
    with pytest.raises(CommandFailed, match="lacks the fields End, NodeList, Start, Submit"):
        collect_slurm(Warehouse.in_memory(), client(), window())


def test_cluster_name_from_scontrol(fake: FakeSlurm) -> None:
    assert local_cluster() == "fake"


# --- incomplete answers, short windows, hanging clients -----------------------------------------

WINDOW_2 = {"sacct": "--starttime=2024-05-01T11:00:00", "sacctmgr": "Start=2024-05-01T11:00:00"}


@pytest.mark.parametrize("prog", ["sacct", "sacctmgr"])
@pytest.mark.parametrize(
    ("kind", "code", "said"),
    [
        ("cut", 0, "output stops in the middle of a line"),
        ("fields", 0, "fields, expected"),
        ("exit", 1, "exit status 1"),
        ("exit", -15, "killed by signal 15"),
    ],
)
def test_an_incomplete_answer_is_retried_not_stored(
    fake: FakeSlurm, prog: str, kind: str, code: int, said: str
) -> None:
    clean = clean_contents(fake)
    fake.damage(kind, 1, prog, WINDOW_2[prog], code)
    told: list[str] = []
    retrying = SlurmClient(
        "fake", Backoff(retries=1, first_s=0.01), lambda e, d: told.append(str(e))
    )
    warehouse = Warehouse.in_memory()
    collect_slurm(warehouse, retrying, window())
    assert len(told) == 1 and said in told[0]
    assert fake.windows(prog).count("2024-05-01T11:00:00") == 2
    assert contents(warehouse) == clean


def test_a_cut_answer_commits_nothing_and_a_rerun_after_the_fix_stores_every_row(
    fake: FakeSlurm,
) -> None:
    clean = clean_contents(fake)
    fake.damage("cut", -1, "sacct", WINDOW_2["sacct"])
    warehouse = Warehouse.in_memory()
    with pytest.raises(GaveUp, match="incomplete answer: output stops in the middle of a line"):
        collect_slurm(warehouse, client(retries=2), window())
    assert state.resume_time(warehouse, state.slurm_stream("fake")) == T0 + timedelta(hours=1)
    (fake.data / "damage.json").unlink()
    collect_slurm(warehouse, client(), window(since=None))
    assert contents(warehouse) == clean


def test_a_window_stored_short_is_refilled_by_a_rerun(fake: FakeSlurm) -> None:
    clean = clean_contents(fake)
    warehouse = Warehouse.in_memory()
    collect_slurm(warehouse, client(), window())
    warehouse.con.raw_sql("DELETE FROM jobs WHERE job_id = '1'")  # rows lost after the run
    warehouse.con.raw_sql("DELETE FROM node_events")
    (fake.data / "calls.jsonl").unlink()
    done = collect_slurm(warehouse, client(), window(since=None))
    assert fake.windows() == ["2024-05-01T10:00:00", "2024-05-01T11:00:00", "2024-05-01T12:00:00"]
    assert [None if d.refill is None else d.refill.held for d in done] == [
        {"jobs": (1, 2)},
        {"node_events": (0, 1)},
        {"node_events": (0, 1)},  # in the overlap: asked again anyway
    ]
    assert contents(warehouse) == clean
    (fake.data / "calls.jsonl").unlink()
    assert [d.refill for d in collect_slurm(warehouse, client(), window(since=None))] == [None]


def test_a_run_whose_rows_the_warehouse_loses_fails_naming_the_windows(
    fake: FakeSlurm, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = Warehouse.in_memory()
    write = warehouse.write
    monkeypatch.setattr(warehouse, "write", lambda name, rows: write(name, rows.slice(0, 1)))
    lost = "lost rows of fake as they were stored (2024-05-01T11:00:00Z/2024-05-01T12:00:00Z: "
    with pytest.raises(GpurelError, match=re.escape(lost + "jobs 1 of 2)")):
        collect_slurm(warehouse, client(), window())


def test_a_hanging_sacct_is_stopped_after_the_timeout(fake: FakeSlurm) -> None:
    fake.damage("hang", 1, "sacct", "--starttime")
    hurried = SlurmClient("fake", Backoff(retries=0), timeout_s=1)
    with pytest.raises(GaveUp, match="no answer in 1 s"):
        collect_slurm(Warehouse.in_memory(), hurried, window())


# --- the command ---------------------------------------------------------------------------------


def run(warehouse: Path, *args: str) -> Any:
    command = ["collect", "slurm", "--warehouse", str(warehouse), "--chunk", "1h", *args]
    return CliRunner().invoke(app, command)


def test_command_collects_and_resumes(fake: FakeSlurm, tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    first = run(
        path,
        "--since",
        "2024-05-01T06:00:00",
        "--until",
        "2024-05-01T09:00:00-04:00",
        "--tz",
        "America/New_York",
    )
    assert first.exit_code == 0, first.output
    assert "cluster fake: 3 windows collected up to 2024-05-01 13:00:00 UTC" in first.output
    assert fake.windows()[0] == "2024-05-01T10:00:00"
    again = run(path, "--until", "2024-05-01T13:00:00Z")
    assert again.exit_code == 0, again.output
    assert fake.windows()[3] == "2024-05-01T12:00:00"


def test_command_tells_which_windows_it_refilled(fake: FakeSlurm, tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    since = ("--since", "2024-05-01T10:00:00Z", "--until", "2024-05-01T13:00:00Z")
    assert run(path, *since).exit_code == 0
    warehouse = Warehouse.open(path)
    warehouse.con.raw_sql("DELETE FROM jobs WHERE job_id = '1'")
    warehouse.close()
    again = run(path, "--until", "2024-05-01T13:00:00Z")
    assert again.exit_code == 0, again.output
    refilled = "refilled 2024-05-01T10:00:00Z/2024-05-01T11:00:00Z (it held jobs 1 of 2): jobs 2"
    assert refilled in again.output


def test_command_without_since_on_a_fresh_warehouse(fake: FakeSlurm, tmp_path: Path) -> None:
    result = run(tmp_path / "w.duckdb")
    assert result.exit_code == 2  # a missing option: nothing was done
    assert "pass --since for the first run" in " ".join(result.output.split())


def test_command_fails_clearly_when_slurmdbd_is_unreachable(
    fake: FakeSlurm, tmp_path: Path
) -> None:
    fake.fail(-1, "sacct: error: Problem talking to the database: Connection refused")
    result = run(
        tmp_path / "w.duckdb",
        "--since",
        "2024-05-01T10:00:00Z",
        "--cluster",
        "fake",
        "--retries",
        "1",
        "--backoff",
        "0.01s",
    )
    text = " ".join(result.output.split())
    assert result.exit_code == UNREACHABLE_EXIT
    assert "no complete answer" in text
    assert "giving up: sacctmgr show configuration failed 2 times" in text
    assert "Connection refused" in text and "run again to resume" in text


def test_command_reads_health_logs(fake: FakeSlurm, tmp_path: Path) -> None:
    log = tmp_path / "health.jsonl"
    record = {"node": "gpu001", "health_check": "check pci", "result": 2, "_msg": "x"}
    log.write_text(json.dumps(record | {"start_time": 1714557600}) + "\n")
    missing = tmp_path / "missing.log"
    result = run(
        tmp_path / "w.duckdb",
        "--since",
        "2024-05-01T10:00:00Z",
        "--until",
        "2024-05-01T12:00:00Z",
        "--health-log",
        str(log),
        "--kernel-log",
        str(missing),
    )
    assert result.exit_code == 2, result.output
    assert "missing.log" in result.output and "1 of 2 logs could not be read" in result.output
    warehouse = Warehouse.open(tmp_path / "w.duckdb")
    sources = warehouse.table("node_events").source.to_pyarrow().to_pylist()
    warehouse.close()
    assert sorted(sources) == ["gcm", "slurm_event"]


@pytest.mark.parametrize(
    ("prog", "match", "args", "code", "said"),
    [
        ("sacct", "--starttime", ["--cluster", "fake"], UNREACHABLE_EXIT, "sacct --allusers"),
        ("sacctmgr", None, ["--cluster", "fake"], UNREACHABLE_EXIT, "sacctmgr show configuration"),
        ("scontrol", None, [], 1, "scontrol show config"),
    ],
)
def test_command_stops_a_hanging_slurm_client_after_sacct_timeout(
    fake: FakeSlurm,
    tmp_path: Path,
    prog: str,
    match: str | None,
    args: list[str],
    code: int,
    said: str,
) -> None:
    fake.damage("hang", 1, prog, match)
    result = run(
        tmp_path / "w.duckdb",
        "--since",
        "2024-05-01T10:00:00Z",
        "--retries",
        "0",
        "--sacct-timeout",
        "1s",
        *args,
    )
    text = " ".join(result.output.split())
    assert result.exit_code == code, text
    assert said in text and "no answer in 1 s" in text


def test_command_refuses_a_bad_sacct_timeout(fake: FakeSlurm, tmp_path: Path) -> None:
    result = run(
        tmp_path / "w.duckdb", "--since", "2024-05-01T10:00:00Z", "--sacct-timeout", "soon"
    )
    assert result.exit_code == 2
    assert "--sacct-timeout: not a duration: 'soon'" in " ".join(result.output.split())
