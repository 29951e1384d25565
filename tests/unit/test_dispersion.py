"""Do nodes share one failure rate? Dispersion test and negative-binomial fit."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from gpurel.absent import Absent
from gpurel.errors import ConfigError
from gpurel.models.dispersion import DispersionTest
from gpurel.models.dispersion import dispersion_test as dispersion_or_absent

RF = 6.5e-3


def dispersion_test(failures: npt.ArrayLike, node_days: npt.ArrayLike) -> DispersionTest:
    """The test of nodes that have something to test."""
    t = dispersion_or_absent(failures, node_days)
    assert isinstance(t, DispersionTest), t
    return t


def fleet(seed: int, nodes: int = 2_000) -> tuple[np.random.Generator, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng, rng.uniform(100, 300, nodes)  # node-days per node


def test_statistic_by_hand() -> None:
    # r = 6 / 4 = 1.5; expected 1.5, 1.5, 3; X² = 1.5 + 1/6 + 1/3 = 2 on 2 df: p = e^-1
    t = dispersion_test([0, 2, 4], [1.0, 1.0, 2.0])
    assert (t.nodes, t.failures, t.node_days, t.df) == (3, 6, 4.0, 2)
    assert t.rate_per_node_day == pytest.approx(1.5)
    assert t.chi2 == pytest.approx(2.0)
    assert t.dispersion_index == pytest.approx(1.0)
    assert t.p_value == pytest.approx(math.exp(-1))


def test_one_shared_rate_is_accepted() -> None:
    rng, days = fleet(1)
    t = dispersion_test(rng.poisson(RF * days), days)
    assert t.shared
    assert t.p_value > 0.05 and t.lr_p_value > 0.05
    assert t.dispersion_index == pytest.approx(1.0, abs=0.1)
    assert t.nb_alpha < 0.1  # near the Poisson boundary
    assert t.nb_rate_per_node_day == pytest.approx(RF, rel=0.05)


def test_gamma_distributed_node_rates_are_detected_and_fitted() -> None:
    rng, days = fleet(2)
    shape = 0.5  # heavy tail: most nodes rarely fail, a few fail a lot
    rates = rng.gamma(shape, RF / shape, days.size)
    t = dispersion_test(rng.poisson(rates * days), days)
    assert not t.shared
    assert t.p_value < 1e-9 and t.lr_p_value < 1e-9
    assert t.dispersion_index > 2
    assert t.nb_shape == pytest.approx(shape, rel=0.3)
    assert t.nb_alpha == pytest.approx(1 / t.nb_shape)
    assert t.nb_rate_per_node_day == pytest.approx(RF, rel=0.1)


def test_a_handful_of_lemon_nodes_is_enough() -> None:
    rng, days = fleet(3)
    counts = rng.poisson(RF * days)
    counts[:20] += 8  # 1% of nodes with 8 extra failures each
    t = dispersion_test(counts, days)
    assert not t.shared and t.p_value < 1e-6


def test_nodes_without_exposure_are_ignored_and_bad_input_rejected() -> None:
    t = dispersion_test([0, 2, 4, 0], [1.0, 1.0, 2.0, 0.0])
    assert t.nodes == 3 and t.chi2 == pytest.approx(2.0)
    with pytest.raises(ConfigError):
        dispersion_test([1], [0.0])  # failures without exposure
    with pytest.raises(ConfigError):
        dispersion_test([-1, 2], [1.0, 1.0])
    with pytest.raises(ConfigError):
        dispersion_test([1.5, 2], [1.0, 1.0])
    with pytest.raises(ConfigError):
        dispersion_test([1, 2], [1.0])


def test_without_failures_or_nodes_nothing_is_tested() -> None:
    assert dispersion_or_absent([0, 0, 0], [1.0, 2.0, 3.0]) == Absent(
        "not testable: no failure on any of 3 nodes"
    )
    assert dispersion_or_absent([], []) == Absent("not testable: 0 nodes with exposure, 2 needed")
    assert dispersion_or_absent([3, 0], [1.0, 0.0]) == Absent(
        "not testable: 1 node with exposure, 2 needed"
    )
