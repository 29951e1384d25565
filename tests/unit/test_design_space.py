"""The ETTR design space (Fig. 10) is computed by the analysis and shown by the report: the JSON
grid against an independent recomputation with the paper's formula, the r_f and write time
with their sources, and the report's table against the JSON."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gpurel import demo
from gpurel.absent import Absent
from gpurel.analysis.design import ettr_design
from gpurel.analysis.runs import Checkpointing
from gpurel.analysis.summary import Analysis, Settings, analyze, to_json
from gpurel.cli.app import app
from gpurel.formatting import cell
from gpurel.ingest import ingest
from gpurel.models.design_space import target_band
from gpurel.report import render_markdown
from gpurel.sources.base import ReadOptions
from gpurel.warehouse import Warehouse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _ettr(gpus: int, rf_per_node_day: float, ckpt_s: float, restart_s: float, write_s: float):
    """The exact long-run ETTR of one run, written out: λΔt / (e^{λu0} (e^{λ(Δt+w)} − 1))."""
    lam = math.ceil(gpus / 8) * rf_per_node_day / 86_400
    return lam * ckpt_s / (math.exp(lam * restart_s) * math.expm1(lam * (ckpt_s + write_s)))


@pytest.fixture(scope="module")
def demo_analysis() -> Analysis:
    store = Warehouse.in_memory()
    try:
        ingest(store, demo.files(), ReadOptions(cluster=demo.CLUSTER, tz="UTC"))
        return analyze(store)
    finally:
        store.close()


@pytest.fixture(scope="module")
def doc(demo_analysis: Analysis) -> dict[str, Any]:
    return json.loads(json.dumps(to_json(demo_analysis)))["design_space"]


def test_the_grid_is_the_papers_formula(doc: dict[str, Any], demo_analysis: Analysis) -> None:
    rf = doc["rf"]
    assert rf["source"] == "measured"
    assert rf["per_1000_node_days"] == pytest.approx(
        demo_analysis.node_failure_rate.per_1000_node_days
    )
    assert doc["write_s"] == 30.0 and doc["write_source"] == "ettr.design_write"
    assert doc["restart_s"] == 300.0
    per_day = rf["per_1000_node_days"] / 1000
    grid = doc["ettr"]
    assert len(grid) == len(doc["gpus"]) and {len(r) for r in grid} == {len(doc["intervals_min"])}
    for gpus, row in zip(doc["gpus"], grid, strict=True):
        assert gpus % 8 == 0
        expected = [_ettr(gpus, per_day, m * 60, 300.0, 30.0) for m in doc["intervals_min"]]
        assert row == pytest.approx(expected, rel=1e-9)
    for gpus, optimal in zip(doc["gpus"], doc["young_daly_min"], strict=True):
        lam = math.ceil(gpus / 8) * per_day / 86_400
        assert optimal == pytest.approx(math.sqrt(2 * 30.0 / lam) / 60, rel=1e-12)


def test_the_contour_crosses_0_9(doc: dict[str, Any]) -> None:
    per_day = doc["rf"]["per_1000_node_days"] / 1000
    bands = {b["gpus"]: b for b in doc["contour"]}
    assert bands, "small jobs reach 0.9"
    for gpus, row in zip(doc["gpus"], doc["ettr"], strict=True):
        if gpus not in bands:
            assert max(row) < 0.9
            continue
        band = bands[gpus]
        for minutes in (band["from_min"], band["to_min"]):
            assert _ettr(gpus, per_day, minutes * 60, 300.0, 30.0) == pytest.approx(0.9, abs=1e-9)
        middle = math.sqrt(band["from_min"] * band["to_min"]) * 60
        assert _ettr(gpus, per_day, middle, 300.0, 30.0) > 0.9


def test_free_writes_reach_0_9_from_a_zero_interval() -> None:
    band = target_band(16_384, 6.5 / 1000, 300.0, 0.0, 8, 0.9)
    assert band is not None and band.from_min == 0.0
    assert _ettr(16_384, 6.5 / 1000, band.to_min * 60, 300.0, 0.0) == pytest.approx(0.9)
    assert target_band(16_384, 6.5 / 1000, 3600.0, 0.0, 8, 0.9) is None  # u0 alone costs more


def test_the_report_table_shows_the_json_numbers(
    doc: dict[str, Any], demo_analysis: Analysis
) -> None:
    per_day = doc["rf"]["per_1000_node_days"] / 1000
    page = render_markdown(demo_analysis)
    for row in doc["table"]:
        assert row["ettr_at"] == pytest.approx(
            [_ettr(row["gpus"], per_day, m * 60, 300.0, 30.0) for m in doc["table_minutes"]]
        )
        shown = [
            cell(row["gpus"], "int"),
            cell(row["mttf_hours"], "h"),
            cell(round(row["young_daly_min"], 3)),
            cell(round(row["ettr_young_daly"], 3)),
            *(cell(round(v, 3)) for v in row["ettr_at"]),
        ]
        assert "| " + " | ".join(shown) + " |" in page
    assert [r["gpus"] for r in doc["table"]] == list(demo_analysis.settings.projection_gpus)
    assert 60.0 in doc["table_minutes"]  # the assumed interval


def test_an_assumed_write_time_is_used(demo_analysis: Analysis) -> None:
    settings = replace(demo_analysis.settings, checkpointing=Checkpointing(write_s=60.0))
    design = ettr_design(demo_analysis.projection_rf, 1, settings)
    assert not isinstance(design, Absent)
    assert design.space.write_s == 60.0 and design.write_source == "checkpointing.write"
    lam = 2048 * design.space.rf_per_node_day / 86_400
    row = next(r for r in design.space.table if r.gpus == 16_384)
    assert row.young_daly_min * 60 == pytest.approx(math.sqrt(2 * 60 / lam))


def test_without_a_measured_rf_the_reference_stands_in() -> None:
    why = Absent("no attempt of a job with more than 128 GPUs ran")
    design = ettr_design(why, 3, Settings(reference_rf=2.0, design_write_s=45.0))
    assert not isinstance(design, Absent)
    assert design.rf_source == "ettr.reference_rf" and design.measured_rf == why
    assert design.space.rf_per_node_day == 2.0 / 1000 and design.space.write_s == 45.0
    assert ettr_design(why, 0, Settings()) == Absent(
        "no job run and no measured r_f (no attempt of a job with more than 128 GPUs ran)"
    )


def test_analyze_json_names_the_reference_rf(tmp_path: Path) -> None:
    """The sacct fixtures hold one long run but no large job: r_f is absent, with its reason."""
    store_path = tmp_path / "w.duckdb"
    store = Warehouse.open(store_path)
    try:
        ingest(store, sorted((FIXTURES / "sacct").iterdir()), ReadOptions(tz="UTC"))
    finally:
        store.close()
    flags = ["--reference-rf", "3", "--design-write", "45s"]
    result = CliRunner().invoke(app, ["analyze", "--json", "--warehouse", str(store_path), *flags])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)["design_space"]
    assert doc["rf"]["source"] == "ettr.reference_rf"
    assert doc["rf"]["per_1000_node_days"] == 3.0
    assert doc["rf"]["measured"]["value"] is None and doc["rf"]["measured"]["absent"]
    assert doc["write_s"] == 45.0 and doc["write_source"] == "ettr.design_write"


def test_no_design_space_without_runs_or_rf() -> None:
    store = Warehouse.in_memory()
    try:
        doc = to_json(analyze(store))["design_space"]
    finally:
        store.close()
    assert doc["value"] is None and doc["absent"].startswith("no job run and no measured r_f")
