"""The real-Slurm suite: one lab and one workload per session, collected by ``gpurel collect``.

The lab installs what it lacks (Debian packages, as root), runs every daemon from a private
directory on private loopback ports, and stops them by pid at the end, even on failure.
Without root or apt the suite is skipped with the reason; in CI and on the dev machine it runs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import slurm_workload
import slurmlab
from slurm_workload import Exclusions, Workload
from slurmlab import LabError, SlurmLab, wait_until

from gpurel import schema
from gpurel.warehouse import Warehouse

CHUNK = "30s"
COLLECT_TZ = "Asia/Kolkata"  # the collector's zone: times must not depend on it


def gpurel_command() -> list[str]:
    script = Path(sys.executable).with_name("gpurel")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from gpurel.cli import main; main()"]


@pytest.fixture(scope="session")
def lab() -> Iterator[SlurmLab]:
    """A running Slurm cluster of 10 GPU nodes (installed and started once per session)."""
    reason = slurmlab.install_prerequisites()
    if reason is not None:
        pytest.skip(f"real-Slurm suite needs Slurm, munge and MariaDB: {reason}")
    slurmlab.kill_stale_runs()
    cluster = SlurmLab()
    try:
        try:
            cluster.start()
        except LabError as exc:
            raise LabError(f"{exc}\n{cluster.report()}") from exc
        yield cluster
    finally:
        cluster.stop()


@dataclass(frozen=True)
class Ran:
    """The workload after it ran: job ids, its time span and snapshots of the logs."""

    workload: Workload
    health_log: Path
    kernel_log: Path

    @property
    def since(self) -> datetime:
        """Start of the collection window."""
        return self.workload.started - timedelta(seconds=30)

    @property
    def until(self) -> datetime:
        """End of the collection window."""
        assert self.workload.finished is not None
        return self.workload.finished + timedelta(seconds=5)

    def job(self, role: str) -> str:
        """The job id of a role of the workload."""
        return self.workload.jobs[role]


@pytest.fixture(scope="session")
def ran(lab: SlurmLab, tmp_path_factory: pytest.TempPathFactory) -> Ran:
    """The scripted workload with its faults, run to its end (about 90 s)."""
    try:
        done = slurm_workload.run(lab)
    except LabError as exc:
        raise LabError(f"{exc}\n{lab.report()}") from exc
    snapshots = tmp_path_factory.mktemp("logs")
    health = shutil.copy2(lab.layout.health_log, snapshots / "health.jsonl")
    kernel = shutil.copy2(lab.layout.kernel_log, snapshots / "kern.log")
    return Ran(done, Path(health), Path(kernel))


def collector(lab: SlurmLab, warehouse: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    """Command and environment of ``gpurel collect slurm`` against the lab, run in another
    time zone than UTC."""
    command = [*gpurel_command(), "collect", "slurm", "--warehouse", str(warehouse), *args]
    return command, {**lab.env, "TZ": COLLECT_TZ, "COLUMNS": "200"}


def collect(
    lab: SlurmLab, warehouse: Path, *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run ``gpurel collect slurm`` against the lab to its end."""
    command, env = collector(lab, warehouse, *args)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def window_args(ran: Ran, *, since: bool = True) -> list[str]:
    """The options of a collection of the workload's window with its logs; without
    ``since`` the collection resumes from the stored point."""
    start = ["--since", ran.since.isoformat()] if since else []
    return [
        *start,
        "--until",
        ran.until.isoformat(),
        "--chunk",
        CHUNK,
        "--overlap",
        CHUNK,
        "--health-log",
        str(ran.health_log),
        "--kernel-log",
        str(ran.kernel_log),
    ]


def contents(path: Path) -> dict[str, list[str]]:
    """Every canonical table of a warehouse file, as sorted row texts."""
    warehouse = Warehouse.open(path)
    try:
        return {
            name: sorted(map(repr, warehouse.table(name).to_pyarrow().to_pylist()))
            for name in schema.TABLES
        }
    finally:
        warehouse.close()


@pytest.fixture(scope="session")
def clean(lab: SlurmLab, ran: Ran, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse with one uninterrupted collection of the workload."""
    path = tmp_path_factory.mktemp("clean") / "gpurel.duckdb"
    done = collect(lab, path, *window_args(ran))
    assert done.returncode == 0, done.stderr
    return path


@dataclass(frozen=True)
class Excluding:
    """Jobs that excluded nodes, run after the workload's window, and their collection."""

    exclusions: Exclusions
    warehouse: Path


@pytest.fixture(scope="session")
def excluding(
    lab: SlurmLab, ran: Ran, clean: Path, tmp_path_factory: pytest.TempPathFactory
) -> Excluding:
    """The jobs of ``slurm_workload.run_exclusions`` collected into a warehouse of their own.

    They start once the workload's window has passed, so that no collection of that window
    sees them (``clean`` is collected first).
    """
    later = ran.until + timedelta(seconds=6)
    wait_until(lambda: datetime.now(UTC) > later, "the workload's window to pass", timeout=60)
    done = slurm_workload.run_exclusions(lab)
    assert done.finished is not None
    path = tmp_path_factory.mktemp("excluding") / "gpurel.duckdb"
    since, until = done.started - timedelta(seconds=5), done.finished + timedelta(seconds=5)
    window = ["--since", since.isoformat(), "--until", until.isoformat()]
    collected = collect(lab, path, *window, "--chunk", CHUNK, "--overlap", CHUNK)
    assert collected.returncode == 0, collected.stderr
    return Excluding(done, path)
