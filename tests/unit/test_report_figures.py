"""Report figures: built headless, deterministic, escaped, fit for inlining; value formatting."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from gpurel.formatting import cell, interval, share
from gpurel.report import figures

HOSTILE = "<script>alert(1)</script>"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _projection(rate: float) -> pa.Table:
    gpus = [8, 1024, 131072]
    mttf = [24 / (g / 8 * rate) if rate else math.nan for g in gpus]
    return pa.table(
        {
            "gpus": gpus,
            "nodes": [g // 8 for g in gpus],
            "mttf_hours": mttf,
            "mttf_lo_hours": [m / 2 for m in mttf],
            "mttf_hi_hours": [m * 2 for m in mttf],
        }
    )


MEASURED = pa.table(
    {
        "bucket": [0, 8, 256],
        "label": ["cpu", "8", "256"],
        "jobs": [1, 10, 3],
        "runtime_hours": [5.0, 100.0, 40.0],
        "failures": [0, 2, 0],
        "mttf_hours": [None, 50.0, None],
        "mttf_lo_hours": [1.4, 14.0, 10.8],
        "mttf_hi_hours": [None, 400.0, None],
    }
)


def _texts(fig: Figure) -> str:
    return " ".join(t.get_text() for t in fig.findobj(match=Text) if isinstance(t, Text))


def test_paired_shares_state_their_weighting() -> None:
    fig = figures.paired_shares(["COMPLETED", "FAILED"], [0.75, 0.25], [0.4, 0.6], "States")
    text = _texts(fig)
    assert "by job count" in text and "by GPU time" in text and "share of the total (%)" in text
    assert "75.0%" in text and "60.0%" in text


@pytest.mark.parametrize("rate", [0.0065, 0.0])
def test_mttf_figure_is_log_log_with_or_without_a_projection(rate: float) -> None:
    fig = figures.mttf_by_size(MEASURED, _projection(rate), "r_f = 6.5 / 1000 node-days")
    (ax,) = fig.axes
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labels = ax.get_legend_handles_labels()[1]
    assert "measured (95% interval)" in labels and "no failure: lower bound" in labels
    assert ("projection at r_f = 6.5 / 1000 node-days" in labels) == (rate > 0)


RUN_ETTR = pa.table(
    {
        "bucket": [16, 256],
        "runs": [2, 1],
        **{
            f"{prefix}_{stat}": [0.99, value]
            for prefix in ("ettr", "ettr_infra", "ettr_scheduler")
            for stat, value in (("mean", 0.93), ("q25", 0.93), ("q75", 0.95))
        },
    }
)
EXPECTED = pa.table(
    {"gpus": [8, 16, 32], "ettr": [0.99, 0.98, 0.96], "ettr_lo": [0.98, 0.97, 0.93]}
).append_column("ettr_hi", pa.array([1.0, 0.99, 0.98]))


@pytest.mark.parametrize("expected", [EXPECTED, None])
def test_ettr_by_size_shows_the_three_variants(expected: pa.Table | None) -> None:
    fig = figures.ettr_by_size(RUN_ETTR, expected, "r_f = 6.5 / 1000 node-days")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    labels = ax.get_legend_handles_labels()[1]
    assert "every interruption counted (lower bound)" in labels
    assert "infrastructure interruptions only" in labels
    assert "preemptions and requeues only" in labels
    assert ("expected at r_f = 6.5 / 1000 node-days" in labels) == (expected is not None)
    assert "runs in the bucket" in _texts(fig)
    assert ax.get_ylim()[0] <= 0.93


def test_ettr_by_size_leaves_out_a_variant_without_values() -> None:
    unknown = pa.nulls(RUN_ETTR.num_rows, pa.float64())
    t = RUN_ETTR
    for stat in ("mean", "q25", "q75"):
        t = t.set_column(t.column_names.index(f"ettr_infra_{stat}"), f"ettr_infra_{stat}", unknown)
    labels = figures.ettr_by_size(t, None, "").axes[0].get_legend_handles_labels()[1]
    assert "infrastructure interruptions only" not in labels
    assert "every interruption counted (lower bound)" in labels


def _overlapping(labels: list[Text], renderer: RendererBase) -> list[tuple[str, str]]:
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in labels if t.get_text()]
    return [
        (a, b)
        for i, (a, box_a) in enumerate(boxes)
        for b, box_b in boxes[i + 1 :]
        if box_a.overlaps(box_b)
    ]


def test_ettr_by_size_axis_labels_never_overlap() -> None:
    buckets = [2**k for k in range(18)]  # 1 to 131,072 GPUs: every bucket has runs
    table = pa.table(
        {
            "bucket": buckets,
            "runs": [12_345 - 600 * i for i in range(18)],
            **{
                f"{prefix}_{stat}": [0.9] * 18
                for prefix in ("ettr", "ettr_infra", "ettr_scheduler")
                for stat in ("mean", "q25", "q75")
            },
        }
    )
    fig = figures.ettr_by_size(table, None, "")
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    (ax,) = fig.axes
    (runs,) = ax.child_axes  # the run counts on top
    for axis in (ax.xaxis, runs.xaxis):
        assert _overlapping(list(axis.get_ticklabels()), renderer) == []


def test_ettr_design_space_has_the_target_contour_and_the_optimal_line() -> None:
    minutes, gpus = np.geomspace(1, 1000, 20), np.geomspace(8, 2**17, 30)
    ettr = 1 - np.outer(gpus, minutes) / (gpus.max() * minutes.max())  # 0..1, crosses 0.9
    fig = figures.ettr_design_space(minutes, gpus, ettr, 600 / np.sqrt(gpus), 60, "w_cp = 30 s")
    ax, _colorbar = fig.axes
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labels = ax.get_legend().get_texts()
    assert [t.get_text() for t in labels] == [
        "ETTR = 0.9",
        "Young/Daly optimal interval √(2 w_cp / λ), w_cp = 30 s",
        "assumed interval, 60 min",
    ]


def test_weekly_episodes_marks_new_checks() -> None:
    weeks = [T0, T0.replace(day=8)]
    weekly = pa.table(
        {
            "week_start": weeks * 2,
            "category": ["ib_link", "ib_link", "pcie", "pcie"],
            "episodes": [1, 0, 2, 3],
            "per_1000_node_days": [1.0, 0.0, 2.0, 3.0],
        }
    )
    seen = pa.table({"first_seen": [T0, T0.replace(day=9)], "new": [False, True]})
    fig = figures.weekly_episodes(weekly, seen)
    (ax,) = fig.axes
    assert ax.get_legend_handles_labels()[1] == ["pcie", "ib_link"]  # most episodes first
    assert "1" in _texts(fig)  # the one new check, numbered


def test_svg_is_deterministic_escaped_and_inlinable() -> None:
    draw = lambda: figures.paired_shares([HOSTILE], [1.0], [0.5], "t")  # noqa: E731
    document = figures.svg(draw(), "fig_x")
    assert document == figures.svg(draw(), "fig_x")
    assert HOSTILE not in document and "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    inline = figures.inline_svg(document, "fig_x")
    assert inline.startswith("<svg")
    assert "<?xml" not in inline and "<!DOCTYPE" not in inline and "<metadata" not in inline
    assert 'id="fig_x-figure_1"' in inline
    assert "url(#fig_x-" in inline or 'href="#fig_x-' in inline


def test_save_writes_svg_and_png(tmp_path) -> None:
    fig = figures.paired_shares(["a"], [1.0], [1.0], "t")
    svg_path, png_path = figures.save(fig, "fig_a", tmp_path / "figs")
    assert svg_path.read_text(encoding="utf-8").lstrip().startswith("<?xml")
    assert png_path.read_bytes().startswith(b"\x89PNG")


def test_category_colors_rank_first_and_keep_unknowns_grey() -> None:
    colors = figures.category_colors(["unknown", "ib_link", "pcie", *map(str, range(20))])
    assert colors["unknown"] == figures.GREYS["unknown"]
    assert colors["ib_link"] == figures.PALETTE[0] and colors["pcie"] == figures.PALETTE[1]
    assert colors["19"] == figures.GREYS[figures.OTHER]


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [
        (None, "num", "–"),
        (math.nan, "%", "–"),
        (0.1234, "%", "12.3%"),
        (0.0001, "%", "<0.1%"),
        (1234.5, "num", "1,234"),
        (0.01234, "num", "0.0123"),
        (1234, "int", "1,234"),
        (math.inf, "num", "∞"),
        (30.0, "h", "30 h"),
        (T0, "time", "2024-01-01 00:00"),
        (T0, "date", "2024-01-01"),
        ("<b>", "text", "<b>"),
    ],
)
def test_cell(value: object, kind: str, text: str) -> None:
    assert cell(value, kind) == text


def test_interval_and_share() -> None:
    assert interval(6.5, 5.0, 8.25) == "6.5 (95%: 5 – 8.25)"
    assert share(0.0) == "0.0%"
