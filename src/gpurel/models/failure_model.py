"""Node failure model: exact Poisson rate intervals and MTTF of jobs on N nodes (PAPER.md §4).

Nodes fail independently at ``r_f`` failures per node-day; a job on N nodes fails when any of its
nodes does (nodes in series), so its failures arrive at ``N * r_f`` per day and its mean time to
failure is ``1 / (N * r_f)`` days.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

HOURS_PER_DAY = 24.0


def poisson_interval(k: int, exposure: float, conf: float = 0.95) -> tuple[float, float, float]:
    """Rate ``k / exposure`` with its exact (Garwood) two-sided interval at ``conf``.

    The lower bound is 0 when ``k == 0``. Zero exposure gives NaNs (no information).
    """
    if k < 0 or exposure < 0:
        raise ValueError(f"need k >= 0 and exposure >= 0, got k={k}, exposure={exposure}")
    if exposure == 0:
        return math.nan, math.nan, math.nan
    from scipy.stats import chi2  # scipy.stats takes a second to import: only when needed

    alpha = 1.0 - conf
    lo = chi2.ppf(alpha / 2, 2 * k) / 2 if k > 0 else 0.0
    hi = chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2
    return k / exposure, float(lo) / exposure, float(hi) / exposure


def mttf_interval(k: int, exposure: float, conf: float = 0.95) -> tuple[float, float, float]:
    """Mean time to failure ``exposure / k`` and its interval from the Poisson rate interval.

    In the unit of ``exposure``; ``math.inf`` where the rate (or its lower bound) is 0.
    """
    rate, lo, hi = poisson_interval(k, exposure, conf)
    return _inverse(rate), _inverse(hi), _inverse(lo)


def _inverse(rate: float) -> float:
    return math.inf if rate == 0 else 1.0 / rate


def nodes_for(gpus: npt.ArrayLike, gpus_per_node: int = 8) -> npt.NDArray[np.float64]:
    """Nodes a job of ``gpus`` GPUs occupies (whole nodes)."""
    return np.ceil(np.asarray(gpus, dtype=np.float64) / gpus_per_node)


def projected_mttf_hours(
    gpus: npt.ArrayLike, rf_per_node_day: float, gpus_per_node: int = 8
) -> npt.NDArray[np.float64]:
    """MTTF in hours of jobs of ``gpus`` GPUs at ``rf_per_node_day``: 24 / (nodes * r_f).

    ``inf`` where ``r_f`` is 0.
    """
    with np.errstate(divide="ignore"):
        return HOURS_PER_DAY / (nodes_for(gpus, gpus_per_node) * rf_per_node_day)


def projected_mttf_band(
    gpus: npt.ArrayLike, rf_lo: float, rf_hi: float, gpus_per_node: int = 8
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(lower, upper) MTTF in hours for an ``r_f`` interval: the high rate gives the low MTTF."""
    return (
        projected_mttf_hours(gpus, rf_hi, gpus_per_node),
        projected_mttf_hours(gpus, rf_lo, gpus_per_node),
    )
