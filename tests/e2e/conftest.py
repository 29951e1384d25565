"""End-to-end fixtures: gpurel run in-process, and the demo cluster analysed once."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from gpurel import demo
from gpurel.cli.app import app

Gpurel = Callable[..., Result]
AnalyzeJson = Callable[[Path], dict[str, Any]]


def run_gpurel(*args: str | Path) -> Result:
    """``gpurel ARGS`` in-process, 200 columns wide so that tables and errors do not wrap."""
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def run_analyze_json(warehouse: Path) -> dict[str, Any]:
    """``gpurel analyze --json`` of ``warehouse``, decoded."""
    result = run_gpurel("analyze", "--json", "--warehouse", warehouse)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="session")
def gpurel() -> Gpurel:
    """Run a gpurel command; returns its Result (exit_code, stdout, stderr, exception)."""
    return run_gpurel


@pytest.fixture(scope="session")
def analyze_json() -> AnalyzeJson:
    """``gpurel analyze --json`` of a warehouse."""
    return run_analyze_json


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse holding the demo cluster (``gpurel.demo.run``); treat it as read-only."""
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    outcomes = demo.run(path)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    return path


@pytest.fixture(scope="session")
def demo_doc(demo_warehouse: Path) -> dict[str, Any]:
    """``gpurel analyze --json`` of the demo cluster."""
    return run_analyze_json(demo_warehouse)
