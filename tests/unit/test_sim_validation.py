"""The validation table: calibration and validation figures, judged, and absent ones never pass."""

from __future__ import annotations

import json
import math
from pathlib import Path

from typer.testing import CliRunner

from gpurel.absent import Absent
from gpurel.cli.app import app
from gpurel.sim.calibration import PAPER, Target
from gpurel.sim.validation import VALIDATION, judged, table


def test_every_calibration_figure_names_what_was_tuned_and_no_validation_figure_does() -> None:
    assert all(target.tuned for target in PAPER.values())
    assert not any(target.tuned for target in VALIDATION.values())
    assert not set(PAPER) & set(VALIDATION)


def test_bounds_within_above_and_factor() -> None:
    within = Target(0.10, None, 0.04, "x")
    assert within.allows("rsc1", 0.139) and not within.allows("rsc1", 0.141)
    above = Target(0.9, None, 0.0, "x", bound="above")
    assert above.allows("rsc1", 0.95) and not above.allows("rsc1", 0.89)
    factor = Target(35, None, 2.0, "x", bound="factor")
    assert factor.allows("rsc1", 17.5) and factor.allows("rsc1", 70)
    assert not factor.allows("rsc1", 17) and not factor.allows("rsc1", 71)
    assert factor.describe() == "×/÷ 2" and within.describe() == "±0.04"


def test_absent_nan_and_missing_paper_values_are_not_judged() -> None:
    target = Target(0.5, None, 0.1, "x")
    absent = judged("k", "validation", target, "rsc1", Absent("no run that large"))
    assert absent.passed is None and "no run that large" in absent.note
    assert absent.to_json()["simulated"] is None
    assert absent.to_json()["absent"] == "no run that large"
    nan = judged("k", "validation", target, "rsc1", math.nan)
    assert nan.passed is None and isinstance(nan.simulated, Absent)
    no_paper = judged("k", "validation", target, "rsc2", 0.5)
    assert no_paper.passed is None and "RSC2" in no_paper.note
    assert judged("k", "validation", target, "rsc1", 0.55).passed is True
    assert judged("k", "validation", target, "rsc1", 0.65).passed is False


def test_table_has_every_figure_of_both_tables_in_order() -> None:
    measured = {key: Absent("not simulated") for key in (*PAPER, *VALIDATION)}
    rows = table("rsc1", measured)
    assert [r.key for r in rows] == [*PAPER, *VALIDATION]
    assert {r.table for r in rows[: len(PAPER)]} == {"calibration"}
    assert {r.table for r in rows[len(PAPER) :]} == {"validation"}
    assert all(r.passed is None for r in rows)


def test_simulate_validate_json_shows_absent_figures_with_reasons(tmp_path: Path) -> None:
    args = ["simulate", "--days", "3", "--scale", "0.05", "--seed", "2", "--set", "warmup_days=1"]
    args += ["--warehouse", str(tmp_path / "sim.duckdb"), "--validate", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output[result.output.index("{") :])
    rows = {row["key"]: row for row in doc["validation"]}
    assert set(rows) == set(PAPER) | set(VALIDATION)
    xl = rows["xl_run_ettr"]  # 100 nodes: the largest job has 256 GPUs
    assert xl["simulated"] is None and xl["pass"] is None and "256 GPUs" in xl["absent"]
    assert all(r["pass"] is None for r in rows.values() if r["absent"])
    assert all(
        r["pass"] in (True, False)
        for r in rows.values()
        if r["simulated"] is not None and r["paper"] is not None
    )
