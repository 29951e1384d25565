"""Processes of the real-Prometheus test: gpurel and prometheus started on loopback ports,
polled until they answer, and stopped by their own handle."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

DEADLINE_S = 180.0  # the first analysis of a busy machine takes a while


def gpurel_command() -> list[str]:
    """How to run this checkout's gpurel."""
    script = Path(sys.executable).with_name("gpurel")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from gpurel.cli import main; main()"]


def free_port() -> int:
    """A loopback TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def get(url: str) -> tuple[int, str]:
    """Status and body of a GET, or (0, the error) when nothing answers yet."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError as exc:
        return 0, str(exc)


class Process:
    """A process started by a test, with its output in a log file."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.popen = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def poll(what: str, check: Callable[[], str | None], process: Process) -> str:
    """Call ``check`` until it returns a value, the process dies or the deadline passes."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        found = check()
        if found is not None:
            return found
        if process.popen.poll() is not None:
            pytest.fail(
                f"{what}: the process exited {process.popen.returncode}:\n{process.output()}"
            )
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {DEADLINE_S:g} s:\n{process.output()}")
        time.sleep(0.2)  # between two polls; the state is checked, never assumed
