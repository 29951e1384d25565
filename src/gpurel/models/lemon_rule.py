"""The lemon-node rule: per-signal thresholds, the combination rule and the ranking score.

Input: a matrix of per-node signal values (nodes x signals; a column of NaN is a signal the
input cannot provide, a NaN cell a node the signal cannot rate) and each signal's floor. The
nodes are those judged together: ``analysis.lemons`` applies the rule to one cluster at a time.

- **Threshold** of a signal, from its distribution across the nodes that have a value:
  ``robust_z`` (default): median + ``z`` x scale, a modified z-score (Iglewicz and Hoaglin:
  |z| > 3.5 marks an outlier), the scale being 1.4826 x the median absolute deviation or,
  where that is 0 (most nodes at the median, as with sparse counts), 1.2533 x the mean
  absolute deviation; ``percentile``: the ``percentile`` quantile of the nodes' values (0.99:
  about the top 1% reach it; this presumes lemons are rarer than that). The threshold is never
  below the signal's floor (e.g. 3 outages: at RSC-1's rate a healthy node has two in 28 days
  about once in a hundred, three about once in 1,500), which also keeps a signal that is 0 on
  almost every node from firing on one or two counts.
- A signal **fires** on a node when its value reaches the threshold (value >= threshold).
- **Combination rule**: a node is flagged when at least ``min(min_signals, available)``
  signals fire, ``available`` being the number of signals the input provides. The default,
  one, flags a node on any signal: the signals of one input are correlated (an outage that
  kills jobs raises the outage and the failure counts together) and a second, independent
  input is often missing (a fault trace has fault history alone); raise it where exclusions
  or tickets can corroborate.
- **Score** (ranks every node): the sum over available signals of value / threshold, each
  term capped at ``cap`` so that one runaway counter cannot outrank several signals. A score
  of 2 is, e.g., two signals at their thresholds. Where no signal is available the score is
  NaN (nothing measured, not 0) and no node is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gpurel.errors import ConfigError

METHODS = ("percentile", "robust_z")
MAD_SCALE = 1.4826  # MAD of a normal distribution -> its standard deviation
MEAN_AD_SCALE = 1.2533  # mean absolute deviation of a normal -> its standard deviation

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LemonRule:
    """How thresholds are set and combined (defaults: see the module docstring)."""

    method: str = "robust_z"
    percentile: float = 0.99
    z: float = 3.5
    min_signals: int = 1
    cap: float = 5.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"lemon rule: method must be one of {', '.join(METHODS)}")
        if not 0 < self.percentile < 1 or self.z <= 0 or self.min_signals < 1 or self.cap <= 0:
            raise ConfigError(
                "lemon rule: percentile in (0, 1), z > 0, min_signals >= 1 and cap > 0"
            )


@dataclass(frozen=True)
class Detection:
    """Thresholds per signal; per node: which signals fire, how many, the score, the flag."""

    thresholds: Array  # per signal, NaN where the signal is not available
    fires: npt.NDArray[np.bool_]  # nodes x signals
    fired: npt.NDArray[np.int64]  # per node
    score: Array  # per node; NaN where no signal is available
    flagged: npt.NDArray[np.bool_]  # per node
    required: int  # signals that must fire for a flag


def _robust_z_threshold(x: Array, z: float) -> float:
    median = float(np.median(x))
    scale = MAD_SCALE * float(np.median(np.abs(x - median)))
    if scale == 0:
        scale = MEAN_AD_SCALE * float(np.mean(np.abs(x - median)))
    return median + z * scale


def threshold(values: npt.ArrayLike, floor: float, rule: LemonRule) -> float:
    """One signal's threshold across nodes (NaN values ignored; NaN if no node has a value)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    if not x.size:
        return float("nan")
    if rule.method == "percentile":
        cut = float(np.quantile(x, rule.percentile, method="higher"))
    else:
        cut = _robust_z_threshold(x, rule.z)
    return max(cut, floor)


def detect(values: npt.ArrayLike, floors: npt.ArrayLike, rule: LemonRule) -> Detection:
    """Apply ``rule`` to a nodes x signals matrix with one floor per signal."""
    x = np.asarray(values, dtype=np.float64).reshape(-1, len(np.atleast_1d(floors)))
    floor = np.asarray(floors, dtype=np.float64)
    cuts = np.array([threshold(x[:, s], floor[s], rule) for s in range(x.shape[1])])
    available = ~np.isnan(cuts)
    with np.errstate(invalid="ignore"):
        fires = np.nan_to_num(x) >= cuts
    fires &= available & ~np.isnan(x)
    fired = fires.sum(axis=1)
    ratio = np.where(available & ~np.isnan(x), np.nan_to_num(x) / np.where(available, cuts, 1), 0)
    required = min(rule.min_signals, int(available.sum()))
    score = np.minimum(ratio, rule.cap).sum(axis=1) if required else np.full(len(x), np.nan)
    flagged = (fired >= required) if required else np.zeros(len(x), dtype=bool)
    return Detection(cuts, fires, fired.astype(np.int64), score, flagged, required)
