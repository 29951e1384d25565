"""The one Slurm-client runner, and the errors the drain and the collector make of its
failures, against small fake clients on PATH."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpurel import slurm_client, slurm_drain
from gpurel.collect.retry import CommandFailed
from gpurel.collect.slurm import run_command


class Told(Exception):
    def __init__(self, detail: str, transient: bool) -> None:
        super().__init__(detail)
        self.transient = transient


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))  # no real Slurm client
    monkeypatch.setenv("TZ", "America/New_York")
    return folder


def client(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)


def test_a_client_runs_without_a_shell_in_utc(bin_dir: Path) -> None:
    client(bin_dir, "scontrol", 'printf "%s|%s|%s\\n" "$TZ" "$SLURM_TIME_FORMAT" "$1"\n')
    done = slurm_client.run(["scontrol", "a b; echo no"], Told)
    assert (done.returncode, done.stdout) == (0, "UTC|standard|a b; echo no\n")


def test_a_nonzero_exit_is_returned_for_the_caller_to_read(bin_dir: Path) -> None:
    client(bin_dir, "sacct", "echo out; echo err >&2; exit 3\n")
    done = slurm_client.run(["sacct"], Told)
    assert (done.returncode, done.stdout, done.stderr) == (3, "out\n", "err\n")


def test_a_missing_client_is_the_callers_lasting_error(bin_dir: Path) -> None:
    with pytest.raises(Told, match=r"^sacct not found on PATH$") as raised:
        slurm_client.run(["sacct", "--helpformat"], Told)
    assert raised.value.transient is False


def test_a_hanging_client_is_stopped_as_the_callers_passing_error(bin_dir: Path) -> None:
    client(bin_dir, "sacctmgr", "exec /bin/sleep 3600\n")
    with pytest.raises(Told, match=r"^no answer in 0\.5 s$") as raised:
        slurm_client.run(["sacctmgr"], Told, timeout_s=0.5)
    assert raised.value.transient is True


def test_last_line_and_exit_text() -> None:
    assert slurm_client.last_line("a\n  b  \n\n") == "b"
    assert slurm_client.last_line(" \n") == ""
    assert slurm_client.exit_text(2) == "exit status 2"
    assert slurm_client.exit_text(-9) == "killed by signal 9"


def test_the_drain_names_the_command_and_what_scontrol_said(bin_dir: Path) -> None:
    client(bin_dir, "scontrol", "echo 'slurm_update error: Invalid node name specified' >&2\n"
           "exit 1\n")  # fmt: skip
    argv = slurm_drain.resume_argv("gpu 9")
    with pytest.raises(slurm_drain.DrainError) as raised:
        slurm_drain.run_scontrol(argv)
    said = "scontrol update 'NodeName=gpu 9' State=RESUME: slurm_update error: Invalid node name"
    assert str(raised.value) == said + " specified"


@pytest.mark.parametrize(
    ("script", "said"),
    [
        ("echo only on stdout; exit 1\n", "only on stdout"),
        ("exit 4\n", "exit status 4"),
        ("kill -TERM $$\n", "killed by signal 15"),
    ],
)
def test_the_drain_says_why_scontrol_failed_without_stderr(
    bin_dir: Path, script: str, said: str
) -> None:
    client(bin_dir, "scontrol", script)
    with pytest.raises(slurm_drain.DrainError, match=rf"^scontrol show node -o: {said}$"):
        slurm_drain.node_states()


def test_the_drain_and_the_collector_say_a_missing_client_their_way(bin_dir: Path) -> None:
    with pytest.raises(slurm_drain.DrainError, match=r"^scontrol show node -o: scontrol not found"):
        slurm_drain.node_states()
    with pytest.raises(CommandFailed, match=r"^sacct --helpformat: sacct not found on PATH$"):
        run_command(["sacct", "--helpformat"])


def test_the_collector_reads_a_nonzero_exit_as_before(bin_dir: Path) -> None:
    client(bin_dir, "sacct", "echo 'sacct: error: Problem talking to the database' >&2; exit 1\n")
    with pytest.raises(CommandFailed) as raised:
        run_command(["sacct", "-X"])
    assert str(raised.value) == "sacct -X: sacct: error: Problem talking to the database"
    assert raised.value.transient is True
