"""Collection survives being killed and slurmdbd going away."""

from __future__ import annotations

import shutil
import signal
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from slurmlab import SlurmLab, wait_until
from slurmlab_files import CLUSTER

from conftest import CHUNK, Ran, collect, collector, contents, window_args
from gpurel.cli.collect_cmd import UNREACHABLE_EXIT
from gpurel.collect import state
from gpurel.warehouse import Warehouse

pytestmark = pytest.mark.slow


def resume_point(path: Path) -> datetime | None:
    """The stored resume point of the lab's accounting."""
    warehouse = Warehouse.open(path)
    try:
        return state.resume_time(warehouse, state.slurm_stream(CLUSTER))
    finally:
        warehouse.close()


def test_killed_collection_resumes_to_the_same_warehouse(
    lab: SlurmLab, ran: Ran, clean: Path, tmp_path: Path
) -> None:
    path = tmp_path / "killed.duckdb"
    command, env = collector(lab, path, *window_args(ran))
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    for line in process.stderr:
        if line.startswith("stored "):  # the first window is committed
            process.send_signal(signal.SIGKILL)
            break
    assert process.wait(timeout=60) == -signal.SIGKILL
    interrupted_at = resume_point(path)
    assert interrupted_at is not None and interrupted_at < ran.until

    done = collect(lab, path, *window_args(ran, since=False))
    assert done.returncode == 0, done.stderr
    assert resume_point(path) == ran.until
    assert contents(path) == contents(clean)


def test_unreachable_slurmdbd_fails_clearly_then_resumes(
    lab: SlurmLab, clean: Path, tmp_path: Path
) -> None:
    path = tmp_path / "dbd.duckdb"
    shutil.copy2(clean, path)
    before, resumed_from = contents(path), resume_point(path)
    later = ["--until", "now", "--chunk", CHUNK, "--overlap", CHUNK]
    lab.stop_slurmdbd()
    try:
        job = lab.sbatch("-w", "gpu008", script="sleep 1")  # its records wait in slurmctld
        lab.wait_job(job, {"COMPLETED"})
        done = collect(lab, path, *later, "--retries", "2", "--backoff", "0.2s")
        message = " ".join(done.stderr.split())
        assert done.returncode == UNREACHABLE_EXIT, message
        assert "no complete answer from Slurm, giving up" in message
        assert "failed 3 times" in message and "Connection refused" in message
        assert contents(path) == before
        assert resume_point(path) == resumed_from
    finally:
        lab.start_slurmdbd()
    wait_until(lambda: _in_accounting(lab, job), f"job {job} in slurmdbd", timeout=90)

    done = collect(lab, path, *later)
    assert done.returncode == 0, done.stderr
    after = contents(path)
    for table, rows in before.items():
        assert set(rows) <= set(after[table]), table
    warehouse = Warehouse.open(path)
    try:
        jobs = warehouse.jobs()
        new = jobs.filter(jobs.job_id == job).to_pyarrow().to_pylist()
    finally:
        warehouse.close()
    assert [(row["state"], row["nodes"]) for row in new] == [("COMPLETED", ["gpu008"])]


def _in_accounting(lab: SlurmLab, job: str) -> bool:
    done = lab.run(["sacct", "-n", "-X", "-P", "-j", job, "-o", "State"], check=False)
    return done.stdout.strip() == "COMPLETED"
