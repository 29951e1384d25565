"""Node names no Slurm node can have, or that a shell would run, through every command.

A plain events file names flagged nodes ``gpu 041`` (a space), ``gpu,7`` (a comma) and
``gpu\u202e9`` (a bidirectional override), and ``gpu;reboot``, ``gpu$(reboot)`` and
``gpu`id``` (shell syntax Slurm does not forbid). ``lemons`` (every mode), ``analyze --json``
and ``report`` (HTML and Markdown) must run and show them; the exclude list and drain commands
must, run through a POSIX shell's word splitting, give exactly the intended arguments.
"""

from __future__ import annotations

import csv
import json
import shlex
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import Result

Gpurel = Callable[..., Result]

T0 = datetime(2024, 3, 1, tzinfo=UTC)
HEALTHY = [f"gpu{n:03d}" for n in range(1, 41)]
SHELL_SYNTAX = ["gpu$(reboot)", "gpu;reboot", "gpu`id`"]  # Slurm can have these
NOT_SLURM = {
    "gpu 041": "contains white space",
    "gpu,7": "contains ',', '[' or ']'",
    "gpu\u202e9": "contains an unprintable character",
}
FLAGGED = [*SHELL_SYNTAX, *NOT_SLURM]
IN_SACCT = ["gpu 041", *SHELL_SYNTAX]  # a comma would be two nodes in a NodeList


def _write_inputs(folder: Path) -> tuple[Path, Path]:
    """12 failing health checks on each flagged node, ok ones elsewhere; one job per node
    and check, NODE_FAIL on the flagged nodes."""
    events, sacct = folder / "events.csv", folder / "sacct.txt"
    jobs = ["JobID|JobName|User|Partition|NodeList|NNodes|State|ExitCode|Submit|Start|End"]
    with events.open("w", newline="", encoding="utf-8") as out:
        rows = csv.writer(out)
        rows.writerow(["time", "node", "check", "result", "message"])
        for i in range(12):
            start = T0 + timedelta(hours=6 * i)
            end = start + timedelta(hours=2)
            for node in HEALTHY + FLAGGED:
                bad = node in FLAGGED
                when = (end - timedelta(minutes=2)).isoformat()
                rows.writerow([when, node, "gpu_xid", "fail" if bad else "ok", "fell off the bus"])
                if node in HEALTHY or node in IN_SACCT:
                    times = "|".join(f"{t:%Y-%m-%dT%H:%M:%S}" for t in (start, start, end))
                    state = "NODE_FAIL" if bad else "COMPLETED"
                    jobs.append(f"{len(jobs)}|train|alice|gpu|{node}|1|{state}|0:0|{times}")
    sacct.write_text("\n".join(jobs) + "\n", encoding="utf-8")
    return events, sacct


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory, gpurel: Gpurel) -> Path:
    folder = tmp_path_factory.mktemp("hostile_names")
    events, sacct = _write_inputs(folder)
    path = folder / "w.duckdb"
    _ok(gpurel("ingest", sacct, events, "--tz", "UTC", "-w", path))
    return path


def _ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.stdout


def test_a_node_list_with_a_space_is_rejected_with_its_reason(
    warehouse: Path, gpurel: Gpurel
) -> None:
    """Slurm splits a NodeList at spaces: such a row is rejected, never split or dropped."""
    doc = json.loads(_ok(gpurel("analyze", "--json", "-w", warehouse)))
    reasons = {r["reason"]: r["rows"] for r in doc["rejects"]}
    assert reasons == {"unparseable hostlist: 'gpu 041'": 12}


def test_lemons_shows_every_flagged_name(warehouse: Path, gpurel: Gpurel) -> None:
    out = _ok(gpurel("lemons", "-w", warehouse))
    for name in ("gpu 041", "gpu,7", *SHELL_SYNTAX):
        assert name in out
    doc = json.loads(_ok(gpurel("lemons", "--json", "-w", warehouse)))
    assert {n["node"] for n in doc["nodes"] if n["flagged"]} == set(FLAGGED)
    assert doc["not_slurm_names"] == {"default": NOT_SLURM}
    assert doc["exclude"] == {"default": "gpu$(reboot),gpu;reboot,gpu`id`"}


def test_exclude_list_is_shell_quoted_and_leaves_out_what_slurm_cannot_name(
    warehouse: Path, gpurel: Gpurel
) -> None:
    out = _ok(gpurel("lemons", "--exclude-list", "-w", warehouse))
    lines = out.splitlines()
    assert all(line.isprintable() for line in lines)  # no raw control or bidi character
    commands = [shlex.split(line) for line in lines if not line.startswith("#")]
    assert commands[0] == ["--exclude=gpu$(reboot),gpu;reboot,gpu`id`"]
    drains = commands[1:]
    assert all(c[:2] == ["scontrol", "update"] and c[3] == "state=drain" for c in drains)
    assert all(len(c) == 5 and c[4].startswith("reason=gpurel: lemon score ") for c in drains)
    assert sorted(c[2] for c in drains) == sorted(f"nodename={n}" for n in SHELL_SYNTAX)
    left_out = [line for line in lines if "left out" in line]
    assert left_out == [
        f"# cluster default: left out, no Slurm node can be called {name!r} ({why})"
        for name, why in NOT_SLURM.items()
    ]


def test_analyze_json_and_reports_carry_the_names(
    warehouse: Path, gpurel: Gpurel, tmp_path: Path
) -> None:
    doc = json.loads(_ok(gpurel("analyze", "--json", "-w", warehouse)))
    assert {n["node"] for n in doc["lemons"]["nodes"] if n["flagged"]} == set(FLAGGED)
    for fmt in ("html", "md"):
        out = tmp_path / f"r.{fmt}"
        _ok(gpurel("report", "--format", fmt, "--out", out, "-w", warehouse))
        page = out.read_text(encoding="utf-8")
        assert "gpu 041" in page and "Left out of the Slurm lists (default)" in page
