"""The expected-ETTR design space of paper Fig. 10: ETTR over checkpoint interval × job size.

One long training run, no queue time, Poisson failures at λ = nodes × r_f (whole nodes in
series), the exact renewal form ``ettr.ettr_renewal``. Besides the grid: per job size, the
Young/Daly interval √(2 w_cp / λ) and the band of intervals at which the ETTR reaches 0.9 (the
contour), and a table at chosen sizes and intervals. Numbers in, numbers out; durations in
seconds unless a name says minutes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gpurel.models.ettr import ettr_renewal, failure_rate, young_daly
from gpurel.models.failure_model import projected_mttf_hours

TARGET_ETTR = 0.9
INTERVAL_RANGE_MIN = (0.5, 1440.0)  # checkpoint intervals of the grid, minutes
GRID_POINTS = 160  # grid points per axis
TABLE_MINUTES = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0)  # fixed intervals of the table
MIN_TOP_NODES = 16  # the grid reaches at least this many nodes
_GROWTH = 2.0  # bracket expansion factor of the upper crossing
_TINY = 1e-12  # λΔt_cp just above 0, where the exact form is a limit


@dataclass(frozen=True)
class Band:
    """The checkpoint intervals (minutes) at which jobs of ``gpus`` GPUs reach the target
    ETTR: from ``from_min`` (0 with free checkpoint writes) to ``to_min``."""

    gpus: int
    from_min: float
    to_min: float


@dataclass(frozen=True)
class SizeRow:
    """The table's row of one job size: MTTF, the Young/Daly interval and the ETTR there, and
    the ETTR at each of ``DesignSpace.table_minutes``."""

    gpus: int
    mttf_hours: float
    young_daly_min: float
    ettr_young_daly: float
    ettr_at: tuple[float, ...]


@dataclass(frozen=True)
class DesignSpace:
    """Expected long-run ETTR at r_f (per node-day), restart cost u0 and write time w_cp.

    ``ettr[i, j]`` is at ``gpus[i]`` and ``intervals_min[j]``; ``young_daly_min`` is per
    ``gpus``; ``contour`` holds a band for every grid size that reaches ``target`` (a size
    missing from it reaches it at no interval).
    """

    rf_per_node_day: float
    restart_s: float
    write_s: float
    gpus_per_node: int
    target: float
    intervals_min: npt.NDArray[np.float64]
    gpus: npt.NDArray[np.int64]
    ettr: npt.NDArray[np.float64]
    young_daly_min: npt.NDArray[np.float64]
    contour: tuple[Band, ...]
    table_minutes: tuple[float, ...]
    table: tuple[SizeRow, ...]


def grid_sizes(
    top_gpus: int, gpus_per_node: int, points: int = GRID_POINTS
) -> npt.NDArray[np.int64]:
    """Whole-node job sizes from one node to ``top_gpus`` (at least ``MIN_TOP_NODES`` nodes),
    evenly spaced in log."""
    top = max(top_gpus / gpus_per_node, MIN_TOP_NODES)
    nodes = np.unique(np.round(np.geomspace(1, top, points)))
    return (nodes * gpus_per_node).astype(np.int64)


def target_band(
    gpus: int, rf: float, restart_s: float, write_s: float, gpus_per_node: int, target: float
) -> Band | None:
    """The intervals at which ``gpus`` GPUs reach ``target`` ETTR; None where none does.

    The exact ETTR is unimodal in the interval: with x = λΔt_cp and c = λw_cp its maximum is at
    x* = 1 + W0(−e^{−1−c}) (Lambert W), and the two crossings of ``target`` are found by
    bracketing on either side of x*.
    """
    from scipy.optimize import brentq
    from scipy.special import lambertw

    lam = float(failure_rate(gpus, rf, gpus_per_node))
    if lam <= 0:
        raise ValueError("the design space needs a positive failure rate")

    def gap(x: float) -> float:
        return float(ettr_renewal(lam, x / lam, restart_s, write_s)) - target

    if write_s <= 0:  # free writes: the ETTR falls from e^{−λu0} at Δt_cp → 0
        if math.exp(-lam * restart_s) < target:
            return None
        low = x_best = 0.0
    else:
        x_best = 1 + float(lambertw(-math.exp(-1 - lam * write_s)).real)
        if gap(x_best) < 0:
            return None
        low = brentq(gap, x_best * _TINY, x_best, xtol=1e-15, rtol=1e-12)
    below, above = x_best or _TINY, max(2 * x_best, 1.0)
    while gap(above) >= 0:
        below, above = above, above * _GROWTH
    up = brentq(gap, below, above, xtol=1e-15, rtol=1e-12)
    return Band(int(gpus), low / lam / 60, up / lam / 60)


def design_space(
    rf: float,
    restart_s: float,
    write_s: float,
    gpus_per_node: int,
    top_gpus: int,
    table_gpus: tuple[int, ...],
    table_minutes: tuple[float, ...] = TABLE_MINUTES,
    target: float = TARGET_ETTR,
) -> DesignSpace:
    """The design space at ``rf`` failures per node-day: the grid up to ``top_gpus``, its
    Young/Daly line and ``target`` contour, and the table at ``table_gpus`` × ``table_minutes``."""
    minutes = np.geomspace(*INTERVAL_RANGE_MIN, GRID_POINTS)
    gpus = grid_sizes(top_gpus, gpus_per_node)
    lam = failure_rate(gpus, rf, gpus_per_node)
    bands = (target_band(g, rf, restart_s, write_s, gpus_per_node, target) for g in gpus)
    return DesignSpace(
        rf_per_node_day=rf,
        restart_s=restart_s,
        write_s=write_s,
        gpus_per_node=gpus_per_node,
        target=target,
        intervals_min=minutes,
        gpus=gpus,
        ettr=ettr_renewal(lam[:, None], minutes[None, :] * 60, restart_s, write_s),
        young_daly_min=young_daly(lam, write_s) / 60,
        contour=tuple(band for band in bands if band is not None),
        table_minutes=table_minutes,
        table=tuple(
            _size_row(g, rf, restart_s, write_s, gpus_per_node, table_minutes) for g in table_gpus
        ),
    )


def _size_row(
    gpus: int,
    rf: float,
    restart_s: float,
    write_s: float,
    gpus_per_node: int,
    minutes: tuple[float, ...],
) -> SizeRow:
    lam = failure_rate(gpus, rf, gpus_per_node)
    optimal = young_daly(lam, write_s)
    return SizeRow(
        gpus=int(gpus),
        mttf_hours=float(projected_mttf_hours(gpus, rf, gpus_per_node)),
        young_daly_min=float(optimal) / 60,
        ettr_young_daly=float(ettr_renewal(lam, optimal, restart_s, write_s)),
        ettr_at=tuple(float(ettr_renewal(lam, m * 60, restart_s, write_s)) for m in minutes),
    )
