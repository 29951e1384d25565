"""The terminal rendering of an analysis: the report's columns, cells as plain text."""

from __future__ import annotations

import pyarrow as pa
import pytest
from rich.console import Console

from gpurel import demo
from gpurel.analysis.summary import analyze
from gpurel.cli import render
from gpurel.ingest import ingest
from gpurel.report import columns
from gpurel.report.content import Column
from gpurel.sources.base import ReadOptions
from gpurel.warehouse import Warehouse


def _shown(table: object) -> str:
    out = Console(width=200, record=True)
    with out.capture() as captured:
        out.print(table)
    return captured.get()


def test_cells_are_plain_text_and_numbers_right_aligned() -> None:
    rows = [{"node": "[bold]gpu1[/bold]", "n": 1234}]
    shown = render.table("t", [Column("node", "node", "text"), Column("n", "n", "int")], rows)
    assert [c.justify for c in shown.columns] == ["left", "right"]
    assert "[bold]gpu1[/bold]" in _shown(shown)
    assert "1,234" in _shown(shown)


def test_top_nodes_fold_their_categories() -> None:
    top = pa.Table.from_pylist(
        [
            {
                "rank": 1,
                "cluster": "c",
                "node": "n1",
                "total": 3,
                "category": "pcie",
                "episodes": 2,
            },
            {
                "rank": 1,
                "cluster": "c",
                "node": "n1",
                "total": 3,
                "category": "thermal",
                "episodes": 1,
            },
            {
                "rank": 2,
                "cluster": "c",
                "node": "n2",
                "total": 1,
                "category": "pcie",
                "episodes": 1,
            },
        ]
    )
    assert columns.per_node(top) == [
        {"rank": 1, "cluster": "c", "node": "n1", "total": 3, "categories": "pcie 2, thermal 1"},
        {"rank": 2, "cluster": "c", "node": "n2", "total": 1, "categories": "pcie 1"},
    ]


def test_render_prints_the_sections_with_the_reports_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wide = Console(width=240)
    monkeypatch.setattr(render, "console", wide)
    store = Warehouse.in_memory()
    try:
        ingest(store, demo.files(), ReadOptions(cluster=demo.CLUSTER, tz="UTC"))
        result = analyze(store)
    finally:
        store.close()
    with wide.capture() as captured:
        render.render(result)
    text = " ".join(captured.get().split())  # titles wrap to their table's width
    for section in (*render.JOB_SECTIONS, *render.EVENT_SECTIONS, render.LEMONS):
        assert section.title in text or f"{section.name}: none" in text
    assert "GPU-time share" in text  # columns.SHARES
    assert "gpu_unavailable 1, ipmi_critical 1, pcie 1" in text  # gpu011's folded categories
