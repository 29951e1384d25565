"""The report's figures: matplotlib, headless and deterministic, one function per figure.

Each figure function takes result tables of an ``Analysis`` and returns a ``Figure`` (built
without pyplot, so no global state and no display); ``svg`` and ``save`` write it with fixed
settings, so the same input gives byte-identical files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from io import StringIO
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pyarrow as pa
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patheffects import Normal, Stroke
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator, PercentFormatter
from matplotlib.typing import RcKeyType

from gpurel.formatting import number, share

STYLE: dict[RcKeyType, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 9.5,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#555555",
    "axes.grid": True,
    "grid.color": "#e3e3e3",
    "grid.linewidth": 0.7,
    "axes.axisbelow": True,
    "legend.frameon": False,
    "legend.fontsize": 8.5,
    "text.parse_math": False,  # node and check names may contain "$"
    "svg.fonttype": "none",  # text stays text: searchable, small, escaped by the SVG writer
    "svg.image_inline": True,
    "path.simplify": True,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.08,
    "figure.dpi": 100,
}
SVG_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}
PNG_METADATA = {"Software": None}
PNG_DPI = 150
WIDTH = 7.6  # inches
BASE_HEIGHT = 1.3  # inches, plus a share per bar or row
COUNT_COLOR = "#3b6ea5"
TIME_COLOR = "#e08a2c"
BAND_COLOR = "#9bb8d3"
EXPECTED_COLOR = "#3a3a3a"
EXPECTED_BAND = "#d6d6d6"
OPTIMAL_COLOR = "#d62728"
TARGET_ETTR = 0.9
# ETTR colour steps: finer near 1, where the choices are made
ETTR_LEVELS = (0.0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 1.0)
INTERVAL_TICKS_MIN = (1, 5, 15, 60, 240, 1440)
OTHER = "other"
BAR_DAYS = 6.0  # a week's bar, leaving a gap
MAX_NUMBERED_MARKERS = 15  # more new checks get unnumbered markers (see the table)
TOP_CATEGORIES = 8
# unknown causes, attribution outcomes and the "other" bucket are grey
GREYS = {"unknown": "#a5a5a5", "unattributed": "#7f7f7f", "none": "#c4c4c4", OTHER: "#dcdcdc"}
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#9c755f")


@contextmanager
def style() -> Iterator[None]:
    """The fixed matplotlib settings every figure is drawn and saved with."""
    with mpl.rc_context(STYLE):
        yield


def category_colors(ranked: Sequence[str]) -> dict[str, str]:
    """A colour per category: palette colours by rank (most episodes first), greys for
    unknown causes, and grey "other" once the palette runs out."""
    colors = dict(GREYS)
    free = iter(PALETTE)
    for name in ranked:
        if name not in colors:
            colors[name] = next(free, GREYS[OTHER])
    return colors


def _figure(rows: int, per_row: float = 0.3) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(WIDTH, BASE_HEIGHT + per_row * max(rows, 1)))
    return fig, fig.add_subplot()


# --- bar charts of shares ---------------------------------------------------------------------


def paired_shares(
    labels: Sequence[str],
    by_count: Sequence[float | None],
    by_time: Sequence[float | None],
    title: str,
    count_label: str = "by job count",
    time_label: str = "by GPU time",
) -> Figure:
    """Horizontal bars, two per label: share by count and share by GPU time (0..1 inputs)."""
    with style():
        fig, ax = _figure(len(labels), per_row=0.42)
        y = np.arange(len(labels))
        h = 0.38
        count = np.array([v or 0.0 for v in by_count]) * 100
        gpu = np.array([v or 0.0 for v in by_time]) * 100
        ax.barh(y - h / 2, count, h, color=COUNT_COLOR, label=count_label)
        ax.barh(y + h / 2, gpu, h, color=TIME_COLOR, label=time_label)
        for offset, values in ((-h / 2, count), (h / 2, gpu)):
            for yi, v in zip(y + offset, values, strict=True):
                ax.annotate(
                    share(v / 100),
                    (v, yi),
                    xytext=(3, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=7.5,
                    color="#333333",
                )
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        ax.set_xlim(0, _headroom(count, gpu))
        ax.xaxis.set_major_formatter(PercentFormatter(decimals=0))
        ax.set_xlabel("share of the total (%)")
        ax.grid(axis="y", visible=False)
        ax.set_title(title)
        ax.legend(loc="best")
    return fig


def _headroom(*values: np.ndarray) -> float:
    top = max(float(v.max(initial=0)) for v in values)
    return min(100.0, max(top * 1.18, 1.0))


def job_states(table: pa.Table) -> Figure:
    """Paper Fig. 3: job attempts per final state, by count and by GPU time."""
    return paired_shares(
        table["state"].to_pylist(),
        table["jobs_share"].to_pylist(),
        table["gpu_hours_share"].to_pylist(),
        "Job attempts by final state",
        count_label="by attempt count",
    )


def failure_causes(table: pa.Table) -> Figure:
    """Paper Fig. 4: interrupted attempts per attributed category, by count and by GPU time."""
    return paired_shares(
        table["category"].to_pylist(),
        table["failures_share"].to_pylist(),
        table["failed_gpu_hours_share"].to_pylist(),
        "Interrupted attempts (FAILED, NODE_FAIL) by attributed cause",
        count_label="by attempt count",
        time_label="by GPU time of the attempts",
    )


def job_sizes(table: pa.Table) -> Figure:
    """Paper Fig. 6: job attempts per power-of-two size bucket, by count and by GPU time."""
    return paired_shares(
        [_size_label(b) for b in table["bucket"].to_pylist()],
        table["jobs_share"].to_pylist(),
        table["gpu_hours_share"].to_pylist(),
        "Job attempts by size",
        count_label="by attempt count",
    )


def _size_label(bucket: int) -> str:
    """GPUs in a power-of-two bucket: "no GPU", "1 GPU", "2 GPUs", "3–4 GPUs", "5–8 GPUs"."""
    if bucket <= 2:
        return ("no GPU", "1 GPU", "2 GPUs")[bucket]
    return f"{bucket // 2 + 1:,}–{bucket:,} GPUs"


# --- rates with intervals ---------------------------------------------------------------------


def episode_rates(table: pa.Table) -> Figure:
    """Node failure episodes per category: rate per 1000 node-days with its 95% interval."""
    categories = table["category"].to_pylist()
    repeated = {c for c in categories if categories.count(c) > 1}
    labels = [
        f"{c}{f' · {d}' if c in repeated else ''} ({n})"
        for c, d, n in zip(
            categories, table["domain"].to_pylist(), table["episodes"].to_pylist(), strict=True
        )
    ]
    rate = np.array(table["per_1000_node_days"].to_pylist(), dtype=float)
    lo = np.array(table["lo_per_1000_node_days"].to_pylist(), dtype=float)
    hi = np.array(table["hi_per_1000_node_days"].to_pylist(), dtype=float)
    colors = category_colors(categories)
    with style():
        fig, ax = _figure(len(labels), per_row=0.3)
        y = np.arange(len(labels))
        ax.barh(y, rate, 0.6, color=[colors[c] for c in categories])
        ax.errorbar(rate, y, xerr=[rate - lo, hi - rate], fmt="none", ecolor="#333333", lw=0.9)
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        ax.set_xlim(left=0)
        ax.set_xlabel("failure episodes per 1000 node-days (bars: 95% exact Poisson interval)")
        ax.grid(axis="y", visible=False)
        ax.set_title("Node failure episodes by category (episode count in brackets)")
    return fig


# --- over time --------------------------------------------------------------------------------


def _top_categories(weekly: pa.Table) -> list[str]:
    totals: dict[str, int] = {}
    for c, n in zip(weekly["category"].to_pylist(), weekly["episodes"].to_pylist(), strict=True):
        totals[c] = totals.get(c, 0) + n
    ranked = sorted(totals, key=lambda c: (-totals[c], c))
    return ranked if len(ranked) <= TOP_CATEGORIES else ranked[: TOP_CATEGORIES - 1]


def weekly_episodes(weekly: pa.Table, first_seen: pa.Table) -> Figure:
    """Paper Fig. 5: episodes per 1000 node-days per ISO week, stacked by category.

    Triangles on top mark where a check first appears (``first_seen.new``), numbered in order.
    """
    top = _top_categories(weekly)
    weeks = sorted(set(weekly["week_start"].to_pylist()))
    index = {w: i for i, w in enumerate(weeks)}
    stacks: dict[str, np.ndarray] = {}
    for row in weekly.to_pylist():
        name = row["category"] if row["category"] in top else OTHER
        values = stacks.setdefault(name, np.zeros(len(weeks)))
        values[index[row["week_start"]]] += row["per_1000_node_days"] or 0.0
    order = [c for c in [*top, OTHER] if c in stacks]
    colors = category_colors(top)
    with style():
        fig, ax = _figure(8, per_row=0.3)
        bottom = np.zeros(len(weeks))
        for name in order:
            ax.bar(
                date2num(weeks),
                stacks[name],
                width=BAR_DAYS,
                bottom=bottom,
                align="edge",
                color=colors[name],
                label=name,
                linewidth=0,
            )
            bottom += stacks[name]
        ax.xaxis_date()
        _mark_new_checks(ax, first_seen)
        locator = AutoDateLocator(minticks=3, maxticks=10)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        ax.set_ylabel("episodes per 1000 node-days")
        ax.set_xlabel("ISO week (UTC), bar = one week")
        ax.grid(axis="x", visible=False)
        ax.set_title("Node failure episodes per week, by category", pad=16)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), title="category")
    return fig


def _mark_new_checks(ax: Axes, first_seen: pa.Table) -> None:
    new = [r for r in first_seen.to_pylist() if r["new"]]
    if not new:
        return
    top = ax.get_ylim()[1]
    ax.set_ylim(top=top * 1.12 if top > 0 else 1.0)
    y = ax.get_ylim()[1]
    for i, row in enumerate(new, start=1):
        x = date2num(row["first_seen"])
        ax.axvline(x, color="#666666", lw=0.5, ls=":", zorder=0)
        ax.plot([x], [y], marker="v", color="#333333", ms=5, clip_on=False)
        if len(new) <= MAX_NUMBERED_MARKERS:
            ax.annotate(
                str(i),
                (x, y),
                xytext=(0, 5),
                textcoords="offset points",
                ha="center",
                fontsize=7,
                annotation_clip=False,
            )


# --- MTTF -------------------------------------------------------------------------------------


def mttf_by_size(measured: pa.Table, projection: pa.Table | None, rate_label: str) -> Figure:
    """Paper Fig. 7: measured MTTF per size bucket with 95% intervals, log-log, and the
    projection 1 / (N_nodes x r_f) with its band from r_f's interval (when there is one).

    Buckets without failures show their lower bound (a triangle pointing up).
    """
    rows = [r for r in measured.to_pylist() if r["bucket"] > 0]
    with style():
        fig, ax = _figure(10, per_row=0.33)
        projected = [] if projection is None else projection.to_pylist()
        proj = [r for r in projected if _finite(r["mttf_hours"])]
        if proj:
            gpus = [r["gpus"] for r in proj]
            ax.fill_between(
                gpus,
                [r["mttf_lo_hours"] for r in proj],
                [r["mttf_hi_hours"] for r in proj],
                color=BAND_COLOR,
                alpha=0.45,
                lw=0,
                label="projection, 95% band of r_f",
            )
            ax.plot(
                gpus,
                [r["mttf_hours"] for r in proj],
                color=COUNT_COLOR,
                lw=1.6,
                label=f"projection at {rate_label}",
            )
        hit = [r for r in rows if _finite(r["mttf_hours"])]
        if hit:
            x = np.array([r["bucket"] for r in hit], dtype=float)
            y = np.array([r["mttf_hours"] for r in hit])
            err = [y - [r["mttf_lo_hours"] for r in hit], [r["mttf_hi_hours"] for r in hit] - y]
            ax.errorbar(
                x,
                y,
                yerr=err,
                fmt="o",
                color=TIME_COLOR,
                ecolor="#7a4a12",
                capsize=3,
                ms=5,
                label="measured (95% interval)",
            )
        bound = [r for r in rows if not _finite(r["mttf_hours"]) and _finite(r["mttf_lo_hours"])]
        if bound:
            ax.plot(
                [r["bucket"] for r in bound],
                [r["mttf_lo_hours"] for r in bound],
                "^",
                color="#999999",
                ms=5,
                label="no failure: lower bound",
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=2, numticks=20))
        ax.xaxis.set_major_formatter(FuncFormatter(_gpus_tick))
        ax.yaxis.set_major_formatter(FuncFormatter(_hours_tick))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda _v, _p: ""))
        ax.set_xlabel("job size (GPUs, power-of-two bucket; log scale)")
        ax.set_ylabel("MTTF (hours, log scale)")
        ax.set_title("Mean time to failure by job size")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="lower left")
    return fig


# --- ETTR -------------------------------------------------------------------------------------

SCHEDULER_COLOR = "#59a14f"
# (column prefix in the measured table, legend label, colour, marker, x shift on the log axis)
ETTR_VARIANTS = (
    ("ettr", "every interruption counted (lower bound)", COUNT_COLOR, "o", 0.9),
    ("ettr_infra", "infrastructure interruptions only", TIME_COLOR, "s", 1.0),
    ("ettr_scheduler", "preemptions and requeues only", SCHEDULER_COLOR, "D", 1.11),
)
MANY_BUCKETS = 8  # more size buckets than this: run counts written upright


def ettr_by_size(measured: pa.Table, expected: pa.Table | None, rate_label: str) -> Figure:
    """Paper Fig. 9: measured ETTR of job runs per size bucket (mean, bar from the 25th to the
    75th percentile of runs), counting every interruption, only infrastructure ones and only
    preemptions and requeues (a variant whose values are all null is left out), against the
    expected ETTR (``ettr`` with its band ``ettr_lo`` – ``ettr_hi``) when given. Run counts
    label the top axis, so that they never crowd the sizes below."""
    rows = measured.to_pylist()
    buckets = np.array([r["bucket"] for r in rows], dtype=float)
    lowest = [TARGET_ETTR]
    with style():
        fig, ax = _figure(10, per_row=0.33)
        if expected is not None:
            gpus = expected["gpus"].to_numpy()
            ettr = [_column(expected, name) for name in ("ettr", "ettr_lo", "ettr_hi")]
            ax.fill_between(
                gpus, ettr[1], ettr[2], color=EXPECTED_BAND, lw=0, label="expected, 95% band of r_f"
            )
            ax.plot(gpus, ettr[0], color=EXPECTED_COLOR, lw=1.6, label=f"expected at {rate_label}")
            lowest.append(float(np.nanmin(ettr[0])))
        for prefix, label, color, marker, shift in ETTR_VARIANTS:
            q25, q75 = _column(measured, f"{prefix}_q25"), _column(measured, f"{prefix}_q75")
            mean = _column(measured, f"{prefix}_mean")
            if np.isnan(mean).all():
                continue
            ax.vlines(buckets * shift, q25, q75, color=color, lw=2.2)
            ax.plot(buckets * shift, mean, marker, color=color, ms=6, label=label)
            lowest.append(float(np.nanmin(np.concatenate([q25, mean]))))
        ax.axhline(TARGET_ETTR, color="#777777", lw=0.8, ls=":")
        ax.set_xscale("log", base=2)
        ax.set_xticks(buckets, [_gpus_tick(b, 0) for b in buckets])
        ax.xaxis.set_minor_locator(NullLocator())
        _run_counts(ax, buckets, [r["runs"] for r in rows])
        ax.set_xlim(buckets.min() / 1.6, buckets.max() * 1.6)
        ax.set_ylim(max(0.0, np.floor((min(lowest) - 0.02) * 10) / 10), 1.01)
        ax.set_xlabel("job run size (GPUs of its largest attempt, power-of-two bucket; log scale)")
        ax.set_ylabel("ETTR (productive / wallclock time)")
        ax.set_title("ETTR of job runs by size: measured and expected")
        ax.legend(loc="lower left")
    return fig


def _column(table: pa.Table, name: str) -> np.ndarray:
    return np.array(table[name].to_pylist(), dtype=float)


def _run_counts(ax: Axes, buckets: np.ndarray, runs: Sequence[int]) -> None:
    """The number of runs of each bucket on a top axis, upright when buckets are many."""
    top = ax.secondary_xaxis("top")
    top.set_xticks(buckets, [f"{n:,}" for n in runs])
    top.xaxis.set_minor_locator(NullLocator())
    top.tick_params(labelsize=8, length=2, rotation=90 if len(buckets) > MANY_BUCKETS else 0)
    top.set_xlabel("runs in the bucket", fontsize=8)


def ettr_design_space(
    ckpt_min: np.ndarray,
    gpus: np.ndarray,
    ettr: np.ndarray,
    optimal_min: np.ndarray,
    assumed_min: float,
    write_label: str,
) -> Figure:
    """Paper Fig. 10: expected ETTR (``ettr[i, j]`` at ``gpus[i]``, ``ckpt_min[j]``) as filled
    contours on log axes, the ETTR 0.9 contour, the Young/Daly optimal interval
    (``optimal_min`` per size) and the assumed interval."""
    with style():
        fig = Figure(figsize=(WIDTH, 5.6))
        ax = fig.add_subplot()
        cmap = mpl.colormaps["viridis"]
        filled = ax.contourf(
            ckpt_min,
            gpus,
            ettr,
            levels=ETTR_LEVELS,
            cmap=cmap,
            norm=BoundaryNorm(ETTR_LEVELS, cmap.N),
        )
        handles = []
        if np.nanmin(ettr) < TARGET_ETTR < np.nanmax(ettr):
            ax.contour(ckpt_min, gpus, ettr, levels=[TARGET_ETTR], colors="black", linewidths=1.8)
            handles.append(Line2D([], [], color="black", lw=1.8, label="ETTR = 0.9"))
        inside = (optimal_min >= ckpt_min[0]) & (optimal_min <= ckpt_min[-1])
        handles += ax.plot(
            optimal_min[inside],
            gpus[inside],
            color=OPTIMAL_COLOR,
            ls="--",
            lw=1.8,
            label=f"Young/Daly optimal interval √(2 w_cp / λ), {write_label}",
        )
        handles.append(
            ax.axvline(
                assumed_min,
                color="white",
                lw=1.2,
                path_effects=[Stroke(linewidth=2.6, foreground="#333333"), Normal()],
                label=f"assumed interval, {number(assumed_min)} min",
            )
        )
        ax.set_xscale("log")
        ax.set_yscale("log", base=2)
        ticks = [t for t in INTERVAL_TICKS_MIN if ckpt_min[0] <= t <= ckpt_min[-1]]
        ax.set_xticks(ticks, [_minutes_tick(t) for t in ticks])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_major_locator(LogLocator(base=4, numticks=20))
        ax.yaxis.set_major_formatter(FuncFormatter(_gpus_tick))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.set_xlim(ckpt_min[0], ckpt_min[-1])
        ax.set_ylim(gpus[0], gpus[-1])
        ax.grid(False)
        ax.set_xlabel("checkpoint interval Δt_cp (log scale)")
        ax.set_ylabel("job size (GPUs, log scale)")
        ax.set_title("Expected ETTR by checkpoint interval and job size")
        bar = fig.colorbar(filled, ax=ax, pad=0.02, ticks=ETTR_LEVELS)
        bar.set_label("expected ETTR (productive / wallclock time)")
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, -0.1))
    return fig


def _minutes_tick(minutes: float) -> str:
    return f"{minutes:g} min" if minutes < 60 else f"{minutes / 60:g} h"


def _finite(value: float | None) -> bool:
    return value is not None and bool(np.isfinite(value))


def _hours_tick(value: float, _pos: int) -> str:
    return f"{value:g}"


def _gpus_tick(value: float, _pos: int) -> str:
    n = round(value)
    return f"{n // 1024}k" if n >= 1024 else str(n)


# --- lost goodput and lemon nodes -------------------------------------------------------------


def lost_goodput(by_bucket: pa.Table) -> Figure:
    """Paper Fig. 8: GPU-hours lost per size bucket of the failed job, first order (the failed
    attempts) stacked with second order (the preemptions their requeues caused)."""
    rows = by_bucket.to_pylist()
    first = np.array([r["first_order_gpu_hours"] for r in rows], dtype=float)
    second = np.array([r["second_order_gpu_hours"] for r in rows], dtype=float)
    total = first + second
    with style():
        fig, ax = _figure(len(rows), per_row=0.32)
        y = np.arange(len(rows))
        ax.barh(y, first, 0.6, color=COUNT_COLOR, label="first order: the failed attempts")
        ax.barh(
            y, second, 0.6, left=first, color=TIME_COLOR, label="second order: preempted for them"
        )
        for yi, lost, extra in zip(y, total, second, strict=True):
            note = number(lost) + (f" ({share(extra / lost)} 2nd order)" if extra else "")
            ax.annotate(
                note, (lost, yi), xytext=(3, 0), textcoords="offset points", va="center",
                fontsize=7.5, color="#333333",
            )  # fmt: skip
        ax.set_yticks(y, [_size_label(r["bucket"]) for r in rows])
        ax.invert_yaxis()
        ax.set_xlim(0, max(float(total.max(initial=0)) * 1.35, 1.0))
        ax.set_xlabel("lost GPU-hours (min(runtime, Δt_cp / 2) × GPUs)")
        ax.grid(axis="y", visible=False)
        ax.set_title("Lost goodput by size of the failed job")
        ax.legend(loc="upper right")
    return fig


def lemon_signals(nodes: pa.Table, thresholds: pa.Table) -> Figure:
    """Paper Fig. 11 (our reading): per cluster and signal with a threshold, the CDF of its
    values across the cluster's nodes (zoomed to the upper tail), the cluster's threshold
    (dashed) and its flagged nodes (red dots); panels name the cluster where there are several."""
    signals = [r for r in thresholds.to_pylist() if r["threshold"] is not None]
    several = len({r["cluster"] for r in signals}) > 1
    cols = 2 if len(signals) > 1 else 1
    rows = -(-len(signals) // cols)
    flagged = np.array(nodes["flagged"].to_pylist(), dtype=bool)
    clusters = np.array(nodes["cluster"].to_pylist(), dtype=object)
    with style():
        fig = Figure(figsize=(WIDTH, 0.8 + 2.2 * rows), layout="constrained")
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax, signal in zip(axes, signals, strict=False):
            mine = clusters == signal["cluster"]
            x = _column(nodes, signal["signal"])[mine]
            title = f"{signal['cluster']}: {signal['signal']}" if several else signal["signal"]
            _signal_cdf(ax, x, flagged[mine], title, signal["threshold"])
        for ax in axes[len(signals) :]:
            ax.set_visible(False)
        fig.legend(
            handles=[
                Line2D([], [], color=OPTIMAL_COLOR, ls="--", lw=1, label="threshold"),
                Line2D([], [], color=OPTIMAL_COLOR, marker="o", ls="", ms=4, label="flagged node"),
            ],
            loc="outside upper center",
            ncols=2,
        )
    return fig


def _signal_cdf(ax: Axes, x: np.ndarray, flagged: np.ndarray, title: str, cut: float) -> None:
    known = ~np.isnan(x)
    values = np.sort(x[known])
    ax.set_title(f"{title} (threshold {number(cut)})", fontsize=9)
    cdf = np.arange(1, len(values) + 1) / len(values)
    ax.step(values, cdf, where="post", color=COUNT_COLOR, lw=1.4)
    ax.axvline(cut, color=OPTIMAL_COLOR, ls="--", lw=1)
    marked = x[known & flagged]
    at = np.searchsorted(values, marked, side="right") / len(values)
    ax.plot(marked, at, "o", color=OPTIMAL_COLOR, ms=4)
    right = max(float(values[-1]), cut)
    ax.set_xlim(min(float(values[0]), 0.0) - 0.04 * right, right * 1.08)
    bottom = np.searchsorted(values, values[0], side="right") / len(values)
    ax.set_ylim(max(0.0, np.floor((bottom - 0.02) * 50) / 50), 1.005)
    ax.set_ylabel("share of nodes ≤ value")


# --- output -----------------------------------------------------------------------------------

_PROLOG = re.compile(r"^.*?(?=<svg)", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_TAG = re.compile(r"<[^<>]+>")
_ID_OR_REF = re.compile(r'(\bid="|url\(#|href="#)')


def svg(fig: Figure, name: str) -> str:
    """The figure as an SVG document; ``name`` salts its generated element ids."""
    out = StringIO()
    with style(), mpl.rc_context({"svg.hashsalt": name}):
        fig.savefig(out, format="svg", metadata=SVG_METADATA)
    return out.getvalue()


def inline_svg(document: str, name: str) -> str:
    """An SVG document made fit for inlining in HTML: no XML prolog, doctype or metadata,
    and every element id (and reference to one) prefixed with ``name`` so that ids stay
    unique among the page's figures."""
    body = _METADATA.sub("", _PROLOG.sub("", document, count=1), count=1)
    prefix = f"{name}-"
    return _TAG.sub(lambda tag: _ID_OR_REF.sub(lambda m: m[1] + prefix, tag[0]), body)


def save(fig: Figure, name: str, directory: Path, document: str | None = None) -> list[Path]:
    """Write ``name.svg`` (``document`` if given) and ``name.png`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    svg_path, png_path = directory / f"{name}.svg", directory / f"{name}.png"
    svg_path.write_text(document or svg(fig, name), encoding="utf-8")
    with style():
        fig.savefig(png_path, format="png", dpi=PNG_DPI, metadata=PNG_METADATA)
    return [svg_path, png_path]
