"""Failure model: Poisson intervals and projected MTTF."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gpurel.models.failure_model import (
    mttf_interval,
    nodes_for,
    poisson_interval,
    projected_mttf_band,
    projected_mttf_hours,
)

RSC1_RF = 6.5 / 1000  # failures per node-day (paper)


@pytest.mark.parametrize(
    ("k", "lo", "hi"),
    [
        (0, 0.0, 3.6889),  # the "rule of three" upper bound
        (1, 0.025318, 5.5716),
        (10, 4.7954, 18.3904),
    ],
)
def test_poisson_interval_matches_garwood_table(k: int, lo: float, hi: float) -> None:
    rate, got_lo, got_hi = poisson_interval(k, 1.0)
    assert rate == k
    assert got_lo == pytest.approx(lo, rel=1e-4, abs=1e-9)
    assert got_hi == pytest.approx(hi, rel=1e-4)


def test_poisson_interval_scales_with_exposure_and_narrows_with_conf() -> None:
    rate, lo, hi = poisson_interval(10, 1000.0)
    assert (rate, lo, hi) == pytest.approx((0.01, 0.0047954, 0.0183904), rel=1e-4)
    _, lo90, hi90 = poisson_interval(10, 1000.0, conf=0.90)
    assert lo < lo90 < rate < hi90 < hi


def test_poisson_interval_without_exposure_is_nan_and_rejects_negatives() -> None:
    assert all(math.isnan(v) for v in poisson_interval(3, 0.0))
    with pytest.raises(ValueError):
        poisson_interval(-1, 1.0)
    with pytest.raises(ValueError):
        poisson_interval(1, -1.0)


def test_mttf_interval_inverts_the_rate_interval() -> None:
    mttf, lo, hi = mttf_interval(2, 100.0)
    _, rate_lo, rate_hi = poisson_interval(2, 100.0)
    assert mttf == 50.0
    assert (lo, hi) == pytest.approx((1 / rate_hi, 1 / rate_lo))


def test_mttf_interval_without_failures_is_unbounded_above() -> None:
    mttf, lo, hi = mttf_interval(0, 10.0)
    assert math.isinf(mttf) and math.isinf(hi)
    assert lo == pytest.approx(10.0 / 3.6889, rel=1e-4)


def test_projected_mttf_reproduces_the_paper() -> None:
    hours = projected_mttf_hours([16_384, 131_072], RSC1_RF)
    assert round(float(hours[0]), 1) == 1.8
    assert round(float(hours[1]), 2) == 0.23


def test_projected_mttf_counts_whole_nodes() -> None:
    assert nodes_for([1, 8, 9, 16]).tolist() == [1, 1, 2, 2]
    one, two = projected_mttf_hours([8, 9], 0.5)
    assert (one, two) == (48.0, 24.0)
    assert projected_mttf_hours([8], 1.0, gpus_per_node=4).tolist() == [12.0]


def test_projected_mttf_band_orders_bounds_and_allows_zero_rate() -> None:
    lower, upper = projected_mttf_band([64, 1024], rf_lo=0.004, rf_hi=0.009)
    assert np.all(lower < upper)
    np.testing.assert_allclose(lower, projected_mttf_hours([64, 1024], 0.009))
    _, unbounded = projected_mttf_band([64], rf_lo=0.0, rf_hi=0.009)
    assert np.isinf(unbounded).all()
