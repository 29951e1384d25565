"""``gpurel serve`` refuses what it cannot use before it listens: exit 2 naming the option,
or the missing warehouse."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gpurel.cli.app import app


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--interval", "soon"], "--interval"),
        (["--port", "70000"], "--port"),
        (["--engine", "nope"], "nope"),
        (["--after", "-1"], "--after"),
    ],
)
def test_bad_values_exit_2(tmp_path: Path, args: list[str], named: str) -> None:
    done = CliRunner().invoke(app, ["serve", *args, "--warehouse", str(tmp_path / "w.duckdb")])
    assert done.exit_code == 2, done.output
    assert named in done.stderr
    assert "Traceback" not in done.output


def test_a_missing_warehouse_exits_2_before_listening(tmp_path: Path) -> None:
    missing = tmp_path / "none.duckdb"
    done = CliRunner().invoke(app, ["serve", "--port", "0", "--warehouse", str(missing)])
    assert done.exit_code == 2
    assert str(missing) in done.stderr
    assert "serving" not in done.output
