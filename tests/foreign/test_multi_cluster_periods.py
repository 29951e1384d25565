"""A failure log of several systems in different years: each counts node-days over its own span."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

from typer.testing import CliRunner

from gpurel.cli.app import app

ROWS = [  # (time, node, check, result, cluster)
    ("2010-01-01T00:00:00+00:00", "a1", "check_ib", "fail", "alpha"),
    ("2010-01-11T00:00:00+00:00", "a2", "check_ib", "fail", "alpha"),
    ("2010-01-31T12:00:00+00:00", "a1", "check_ib", "ok", "alpha"),
    ("2020-06-01T00:00:00+00:00", "b1", "check_gpu", "fail", "beta"),
    ("2020-06-21T00:00:00+00:00", "b2", "check_gpu", "fail", "beta"),
    ("2020-06-21T00:00:00+00:00", "b3", "check_gpu", "ok", "beta"),
]


def test_each_system_counts_node_days_over_its_own_span(tmp_path: Path) -> None:
    log = tmp_path / "systems.csv"
    with log.open("w", newline="") as handle:
        csv.writer(handle).writerows([("time", "node", "check", "result", "cluster"), *ROWS])
    warehouse = str(tmp_path / "w.duckdb")
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(log), "-w", warehouse]).exit_code == 0
    result = runner.invoke(app, ["analyze", "--json", "-w", warehouse])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    expected = {}  # plain recount: distinct nodes x the cluster's first-to-last record span
    for cluster in {row[4] for row in ROWS}:
        mine = [row for row in ROWS if row[4] == cluster]
        times = [datetime.fromisoformat(row[0]) for row in mine]
        days = (max(times) - min(times)).total_seconds() / 86400
        expected[cluster] = len({row[1] for row in mine}) * days
    found = {row["cluster"]: row["node_days"] for row in doc["node_days"]["by_cluster"]}
    assert found == expected
    assert doc["node_days"]["node_days"] == sum(expected.values())
    every = {row["scope"]: row for row in doc["episode_summary"]}["all"]
    failing = sum(row[3] == "fail" for row in ROWS)
    assert every["episodes"] == failing
    assert every["per_1000_node_days"] == failing / sum(expected.values()) * 1000
