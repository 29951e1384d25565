"""Lemons on accounting alone (the real Habrok sacct dump, no node events): infrastructure
failures cannot be told apart from user failures, so every signal is absent with its reason,
nodes are not ranked, and the terminal, ``--json`` and the report's lemon section say so."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from test_cli import HABROK, HABROK_FIELDS, needs_data
from typer.testing import Result

from gpurel.analysis import lemons

Gpurel = Callable[..., Result]
WINDOW = ("--window", "400d")  # the whole dump, 2023-05 .. 2024-04


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory, gpurel: Gpurel) -> Path:
    path = tmp_path_factory.mktemp("habrok") / "w.duckdb"
    result = gpurel(
        "ingest", HABROK, "--fields", HABROK_FIELDS, "--delimiter", "☃",
        "--tz", "Europe/Amsterdam", "-w", path,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return path


def _ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


@needs_data
def test_terminal_warns_and_ranks_no_node(warehouse: Path, gpurel: Gpurel) -> None:
    out = " ".join(_ok(gpurel("lemons", *WINDOW, "-w", warehouse)).split())
    assert f"warning: {lemons.WARN_NO_EVENTS}" in out
    assert f"warning: {lemons.WARN_NO_SIGNAL}" in out
    assert f"single_node_node_fails ({lemons.NO_EVENTS_NO_NODE_FAIL})" in out
    assert "71 nodes not ranked: no signal in their cluster" in out
    assert "Nodes by lemon score" not in out


@needs_data
def test_json_has_every_signal_absent_with_its_reason(warehouse: Path, gpurel: Gpurel) -> None:
    doc = json.loads(_ok(gpurel("lemons", *WINDOW, "--json", "-w", warehouse)))
    assert doc["warnings"] == [lemons.WARN_NO_EVENTS, lemons.WARN_NO_SIGNAL]
    signals = {s["signal"]: s for s in doc["signals"]}
    assert set(signals) == set(lemons.NAMES)
    assert all(not s["available"] and s["absent_reason"] for s in signals.values())
    assert all(s["threshold"] is None and s["firing"] is None for s in signals.values())
    assert signals["out_count"]["absent_reason"] == "no node events"
    assert doc["rated_nodes"] == 71 and doc["flagged"] == 0
    assert all(n["rank"] is None and n["score"] is None for n in doc["nodes"])
    assert all(n[s] is None for n in doc["nodes"] for s in lemons.NAMES)
    assert (doc["exclude"], doc["drain"]) == ({}, {})


@needs_data
def test_report_lemon_section_warns(warehouse: Path, gpurel: Gpurel, tmp_path: Path) -> None:
    doc = json.loads(_ok(gpurel("analyze", "--json", "-w", warehouse)))
    assert lemons.WARN_NO_EVENTS in doc["lemons"]["warnings"]
    assert doc["lemons"]["nodes"] == []  # no top list of unranked nodes
    for fmt in ("html", "md"):
        out = tmp_path / f"r.{fmt}"
        _ok(gpurel("report", "--format", fmt, "--out", out, "-w", warehouse))
        page = out.read_text(encoding="utf-8")
        section = page[page.index("Lemon nodes") :]
        assert "cannot be told apart from user failures" in section
        assert "fig11_lemon_signals" not in page  # no figure of signals nobody measured
