"""The command line answers at once: its help imports no engine, table or plotting library."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest

from gpurel.cli.app import COMMANDS, load

HEAVY = ("ibis", "duckdb", "scipy", "matplotlib", "pyarrow", "pandas")


def _imported_by(args: list[str]) -> set[str]:
    """The heavy top-level modules a fresh interpreter imports to run ``gpurel ARGS``."""
    code = (
        "import sys, json\n"
        "from gpurel.cli.app import app\n"
        "try:\n"
        f"    app({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        (["--help"], set()),
        (["mttf", "--gpus", "1024", "--rf", "6.5"], set()),
        (["ettr", "--gpus", "1024", "--rf", "6.5"], set()),
        (["config", "--json"], set()),
    ],
)
def test_light_commands_import_no_heavy_library(args: list[str], allowed: set[str]) -> None:
    assert _imported_by(args) <= allowed


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_listed_summary_is_the_commands_own(name: str) -> None:
    command = load(name)
    callback = command.callback
    doc = inspect.getdoc(callback) if callback is not None else command.help
    first = (doc or command.help or "").split("\n\n")[0].replace("\n", " ")
    assert COMMANDS[name].summary == first
