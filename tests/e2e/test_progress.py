"""Progress is drawn on stderr when it is a terminal, never in a pipe, never with --quiet."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
TITAN = DATA / "titan_gpu_olcf" / "gc_full.csv"  # 3 MB of GPU replacement records
GPUREL = [sys.executable, "-c", "from gpurel.cli import main; main()"]


def _stderr_on_a_terminal(args: list[str], cwd: Path) -> tuple[str, str]:
    """Run gpurel with stderr on a pseudo-terminal and stdout on a pipe: (stdout, stderr)."""
    leader, follower = pty.openpty()
    env = os.environ | {"TERM": "xterm-256color", "COLUMNS": "120"}
    process = subprocess.Popen(
        [*GPUREL, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=follower, env=env
    )
    os.close(follower)
    seen = bytearray()
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closes when the process ends
            break
        if not chunk:
            break
        seen += chunk
    stdout, _ = process.communicate(timeout=600)
    os.close(leader)
    assert process.returncode == 0, seen.decode(errors="replace")
    return stdout.decode(), seen.decode(errors="replace")


@pytest.mark.parametrize("quiet", [False, True])
def test_ingest_draws_progress_only_on_a_terminal(tmp_path: Path, quiet: bool) -> None:
    args = ["ingest", str(TITAN), "--warehouse", str(tmp_path / "w.duckdb"), "--json"]
    stdout, stderr = _stderr_on_a_terminal([*args, "--quiet"] if quiet else args, tmp_path)
    assert ("ingesting gc_full.csv" in stderr) != quiet
    assert '"stored"' in stdout  # the JSON on stdout is untouched by the progress


def test_ingest_into_a_pipe_draws_no_progress(tmp_path: Path) -> None:
    args = ["ingest", str(TITAN), "--warehouse", str(tmp_path / "w.duckdb")]
    done = subprocess.run(
        [*GPUREL, *args], cwd=tmp_path, capture_output=True, text=True, timeout=600, check=True
    )
    assert "ingesting" not in done.stderr


def test_simulate_counts_days_and_analyze_names_its_steps(tmp_path: Path) -> None:
    store = str(tmp_path / "sim.duckdb")
    simulate = ["simulate", "--preset", "rsc1", "--scale", "0.02", "--days", "3"]
    stdout, stderr = _stderr_on_a_terminal([*simulate, "--warehouse", store], tmp_path)
    assert "simulating" in stderr and " days" in stderr
    assert "with --validate" in stdout  # the lemon-free figure needs the twin simulation
    _, stderr = _stderr_on_a_terminal(["analyze", "--warehouse", store], tmp_path)
    assert "attributing failures" in stderr and "lemon nodes" in stderr
