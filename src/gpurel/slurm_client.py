"""Running a Slurm client (sacct, sacctmgr, scontrol): the one way gpurel calls Slurm.

A client runs from an argument list (never through a shell), with ``TZ=UTC`` and
``SLURM_TIME_FORMAT=standard`` so that it prints and reads times in UTC whatever the zone of
the controller or of this host, its output captured and undecodable bytes replaced, and is
stopped after a timeout. A client that is not on PATH or gives no answer in time fails with the
caller's error; reading the exit status and the output is the caller's.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable

TIMEOUT_S = 120.0  # per call of a Slurm client

Failure = Callable[[str, bool], Exception]
"""The caller's error for a client that failed: from what went wrong, and whether trying again
later may help."""


def slurm_env() -> dict[str, str]:
    """This process's environment, with Slurm clients printing and reading UTC."""
    return {**os.environ, "TZ": "UTC", "SLURM_TIME_FORMAT": "standard"}


def run(
    args: list[str], fail: Failure, timeout_s: float = TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """Run the client ``args`` and return it finished, whatever its exit status; ``fail`` makes
    the error raised when it is not on PATH or gives no answer within ``timeout_s``."""
    try:
        return subprocess.run(
            args,
            env=slurm_env(),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout_s,
            check=False,
        )
    except FileNotFoundError as exc:
        raise fail(f"{args[0]} not found on PATH", False) from exc
    except subprocess.TimeoutExpired as exc:
        raise fail(f"no answer in {timeout_s:g} s", True) from exc


def last_line(text: str) -> str:
    """The last line of ``text`` that says something, stripped ("" for blank text)."""
    lines = text.strip().splitlines()
    return lines[-1].strip() if lines else ""


def exit_text(status: int) -> str:
    """A nonzero exit status in words: the signal that killed the client, or the status."""
    return f"killed by signal {-status}" if status < 0 else f"exit status {status}"
