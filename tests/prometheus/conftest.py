"""The real-Prometheus test's setup: Debian's prometheus, installed when missing (apt-get as
root), and processes started on loopback ports and stopped by their own handle at the end.

Without the binary and no way to install it (not root, no apt-get) the test is skipped with
the reason; in CI and on the dev machine it runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from promlab import Process

PROMETHEUS = "/usr/bin/prometheus"


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(["apt-get", *args], env=env, capture_output=True, text=True)


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    """Debian's prometheus, installed first if missing (apt-get update when the lists are
    stale); its ``--version`` must answer."""
    if not Path(PROMETHEUS).exists():
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            pytest.skip("prometheus is missing and cannot be installed: needs root and apt-get")
        if _apt("install", "-y", "-q", "prometheus").returncode != 0:
            update = _apt("update", "-q")
            assert update.returncode == 0, f"apt-get update failed:\n{update.stderr}"
            install = _apt("install", "-y", "-q", "prometheus")
            assert install.returncode == 0, f"apt-get install prometheus failed:\n{install.stderr}"
    version = subprocess.run([PROMETHEUS, "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and "prometheus" in version.stdout, version.stderr
    return PROMETHEUS


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[[str, list[str]], Process]]:
    """Start a named process; every one started is stopped at the end, even on failure."""
    started: list[Process] = []

    def run(name: str, args: list[str]) -> Process:
        process = Process(args, tmp_path / f"{name}.log")
        started.append(process)
        return process

    yield run
    for process in reversed(started):
        process.stop()
