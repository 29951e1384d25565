"""Do all nodes share one failure rate? (PAPER.md §4, §6: lemon nodes make r_f heavy-tailed.)

Input: per node, its failure count k_i and exposure e_i (node-days). Under the null hypothesis
every node fails at one rate r, so k_i ~ Poisson(r e_i) with r estimated as Σk / Σe.

- Poisson dispersion test: X² = Σ (k_i − r e_i)² / (r e_i) over nodes with exposure, compared
  with chi-square on n − 1 degrees of freedom (the exposure-weighted index of dispersion is
  X² / (n − 1), 1 under the null). A small p-value says the rate is not shared.
- Negative-binomial fit: node rates drawn from a gamma distribution with mean r and shape
  1/alpha, so k_i ~ NB(mean r e_i, variance r e_i + alpha (r e_i)²). alpha = 0 is the Poisson
  model; a large alpha (a shape below 1) is a heavy tail of bad nodes. Maximum likelihood
  (scipy), with a likelihood-ratio test of alpha > 0 (the null sits on the boundary: half a
  chi-square with 1 df).

The operator's reading: if either p-value is small, fleet-wide r_f understates the risk on a
few nodes and removing them (lemon detection) lowers the rate for everyone else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.stats import chi2, nbinom, poisson

from gpurel.absent import Absent
from gpurel.errors import ConfigError

_LOG_ALPHA_BOUNDS = (-20.0, 10.0)  # alpha from ~2e-9 (Poisson) to ~2e4


@dataclass(frozen=True)
class DispersionTest:
    """Whether nodes share one failure rate: the dispersion test and the negative-binomial fit."""

    nodes: int  # nodes with exposure
    failures: int
    node_days: float
    rate_per_node_day: float  # pooled Σk / Σe
    chi2: float
    df: int
    dispersion_index: float  # X² / df, 1 when the rate is shared
    p_value: float  # dispersion test
    nb_rate_per_node_day: float
    nb_alpha: float  # NB dispersion: variance = μ + alpha μ²
    nb_shape: float  # 1 / alpha: shape of the gamma distribution of node rates
    lr_stat: float
    lr_p_value: float  # NB against Poisson

    @property
    def shared(self) -> bool:
        """Neither test rejects one shared rate at the 5% level."""
        return not (self.p_value < 0.05 or self.lr_p_value < 0.05)


def _inputs(
    failures: npt.ArrayLike, node_days: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    k = np.asarray(failures, dtype=np.float64)
    e = np.asarray(node_days, dtype=np.float64)
    if k.shape != e.shape or k.ndim != 1:
        raise ConfigError("failures and node-days must be 1-D arrays of the same length")
    if np.any(k < 0) or np.any(e < 0) or np.any(k != np.floor(k)):
        raise ConfigError("failures must be whole numbers >= 0 and node-days >= 0")
    if np.any((e == 0) & (k > 0)):
        raise ConfigError("a node has failures but no exposure")
    keep = e > 0
    return k[keep], e[keep]


def _nb_loglik(
    params: npt.NDArray[np.float64], k: npt.NDArray[np.float64], e: npt.NDArray[np.float64]
) -> float:
    rate, alpha = np.exp(params)
    shape = 1 / alpha
    p = shape / (shape + rate * e)  # scipy's NB: n successes with probability p
    return float(nbinom.logpmf(k, shape, p).sum())


def _fit_nb(
    k: npt.NDArray[np.float64], e: npt.NDArray[np.float64], rate0: float
) -> tuple[float, float, float]:
    """(rate, alpha, log-likelihood) of the negative-binomial model by maximum likelihood."""
    start = np.array([math.log(rate0), 0.0])
    bounds = [(math.log(rate0) - 10, math.log(rate0) + 10), _LOG_ALPHA_BOUNDS]
    fit = minimize(lambda x: -_nb_loglik(x, k, e), start, method="L-BFGS-B", bounds=bounds)
    rate, alpha = np.exp(fit.x)
    return float(rate), float(alpha), -float(fit.fun)


def dispersion_test(failures: npt.ArrayLike, node_days: npt.ArrayLike) -> DispersionTest | Absent:
    """Test whether nodes with ``failures`` in ``node_days`` (one entry per node) share a rate.

    Nodes without exposure are left out. With fewer than two such nodes, or no failure at all,
    there is nothing to test: the result is ``Absent`` with the reason.
    """
    k, e = _inputs(failures, node_days)
    n, total_k, total_e = k.size, float(k.sum()), float(e.sum())
    if n < 2:
        return Absent(f"not testable: {n} node{'' if n == 1 else 's'} with exposure, 2 needed")
    if total_k == 0:
        return Absent(f"not testable: no failure on any of {n:,} nodes")
    rate = total_k / total_e
    expected = rate * e
    x2 = float(((k - expected) ** 2 / expected).sum())
    nb_rate, alpha, nb_ll = _fit_nb(k, e, rate)
    lr = max(2 * (nb_ll - float(poisson.logpmf(k, expected).sum())), 0.0)
    return DispersionTest(
        nodes=n,
        failures=int(total_k),
        node_days=total_e,
        rate_per_node_day=rate,
        chi2=x2,
        df=n - 1,
        dispersion_index=x2 / (n - 1),
        p_value=float(chi2.sf(x2, n - 1)),
        nb_rate_per_node_day=nb_rate,
        nb_alpha=alpha,
        nb_shape=1 / alpha,
        lr_stat=lr,
        lr_p_value=float(0.5 * chi2.sf(lr, 1)) if lr > 0 else 1.0,
    )
