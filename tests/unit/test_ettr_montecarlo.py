"""Monte Carlo ETTR against the exact renewal form, in and beyond the linear regime.

Seeds are fixed, so every number below is reproducible; tolerances are stated per test. The
MC estimates E[R/W] while the closed forms give R/E[W]: over runs of weeks the two differ by
well under 0.1% (Jensen), which the tolerances allow for.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gpurel.errors import ConfigError
from gpurel.models.ettr import Scenario, ettr_renewal, expected
from gpurel.models.ettr_montecarlo import simulate

MIN = 60.0
DAY = 86_400.0
HOURLY_RF = 24.0  # r_f per node-day of one node failing once an hour on average


def exact(s: Scenario) -> float:
    return float(ettr_renewal(s.rate(), s.interval(), s.restart, s.write, s.queue, s.length))


@pytest.mark.parametrize(
    ("gpus", "rf", "ckpt", "restart", "write", "queue"),
    [
        (8_000, 6.5e-3, 30 * MIN, 5 * MIN, 0.0, 1 * MIN),  # the paper's 8k case
        (2_048, 6.5e-3, 60 * MIN, 5 * MIN, 30.0, 0.0),  # with blocking writes
        (1_024, 20e-3, 45 * MIN, 10 * MIN, 60.0, 30 * MIN),  # long queues
    ],
)
def test_agrees_with_every_closed_form_where_the_linear_forms_hold(
    gpus: int, rf: float, ckpt: float, restart: float, write: float, queue: float
) -> None:
    s = Scenario(gpus, rf, ckpt, restart, write, queue, length=30 * DAY)
    mc = simulate(s, runs=2_000, rng=7)
    assert not expected(s)["linear_breaks"]
    assert float(mc.mean) == pytest.approx(exact(s), abs=0.002)
    assert float(mc.mean) == pytest.approx(float(expected(s)["finite"]), rel=0.02)


def test_linear_forms_are_flagged_where_they_drift_from_monte_carlo() -> None:
    # the paper's 16k GPUs at hourly checkpoints: linear term 0.32, linear forms 5% low
    s = Scenario(16_384, 6.5e-3, 60 * MIN, 5 * MIN, length=30 * DAY)
    mc = simulate(s, runs=2_000, rng=7)
    forms = expected(s)
    assert forms["linear_breaks"]
    assert float(mc.mean) == pytest.approx(exact(s), abs=0.002)
    assert 0.04 < float((mc.mean - forms["finite"]) / mc.mean) < 0.07


@pytest.mark.parametrize("scale", [1.0, 1.5])
def test_stays_meaningful_where_the_linear_forms_break(scale: float) -> None:
    # λ = 1/h (x1.5), u0 = 30 min, Δt_cp = 60 min: λ(u0 + Δt_cp/2) = 1 (1.5), linear ETTR 0
    s = Scenario(8, HOURLY_RF * scale, 60 * MIN, 30 * MIN, length=20 * DAY)
    forms = expected(s)
    assert forms["linear_breaks"] and forms["finite"] == 0.0 and forms["hpca"] == 0.0
    mc = simulate(s, runs=2_000, rng=11)
    assert 0.15 < float(mc.mean) < 0.4
    assert float(mc.mean) == pytest.approx(exact(s), abs=0.002)
    assert mc.truncated == 0


def test_exponential_queue_times_keep_the_mean() -> None:
    s = Scenario(8, HOURLY_RF, 60 * MIN, 30 * MIN, write=5 * MIN, queue=10 * MIN, length=20 * DAY)
    mc = simulate(s, runs=2_000, rng=3, queue="exponential")
    assert float(mc.mean) == pytest.approx(exact(s), abs=0.002)


def test_weibull_shape_1_is_poisson_and_other_shapes_matter() -> None:
    s = Scenario(16_000, 6.5e-3, 60 * MIN, 5 * MIN, length=30 * DAY)
    poisson = simulate(s, runs=2_000, rng=5)
    weibull_1 = simulate(s, runs=2_000, rng=5, weibull_shape=1.0)
    assert float(weibull_1.mean) == pytest.approx(float(poisson.mean), abs=0.002)
    clustered = simulate(s, runs=2_000, rng=5, weibull_shape=0.6)
    half_width = float(poisson.hi - poisson.lo) / 2
    assert abs(float(clustered.mean - poisson.mean)) > 20 * half_width


def test_without_failures_every_run_is_deterministic() -> None:
    s = Scenario(1024, 0.0, 3600.0, 300.0, write=60.0, queue=3600.0, length=10 * 3600.0)
    mc = simulate(s, runs=50, rng=1)
    want = 36_000 / (3600 + 36_000 + 10 * 60)
    assert float(mc.mean) == pytest.approx(want)
    assert float(mc.std) == pytest.approx(0.0, abs=1e-12)
    assert float(mc.failures) == 0.0


def test_partial_last_segment_matches_the_exact_form() -> None:
    s = Scenario(4096, 6.5e-3, 50 * MIN, 5 * MIN, write=45.0, length=10 * DAY + 7 * MIN)
    mc = simulate(s, runs=4_000, rng=9)
    assert float(mc.mean) == pytest.approx(exact(s), abs=0.002)


def test_broadcasts_over_a_grid_and_reports_ci_and_counts() -> None:
    s = Scenario(
        1024, np.array([[2e-3], [20e-3]]), np.array([10, 30, 60]) * MIN, 300.0, length=2 * DAY
    )
    mc = simulate(s, runs=200, rng=2)
    assert mc.mean.shape == mc.lo.shape == mc.hi.shape == mc.failures.shape == (2, 3)
    assert mc.samples == 200 and mc.conf == 0.95
    assert np.all(mc.lo <= mc.mean) and np.all(mc.mean <= mc.hi)
    assert np.all(mc.mean[0] > mc.mean[1])  # the higher failure rate costs more
    assert np.all(mc.failures[1] > mc.failures[0])


def test_fixed_seed_reproduces_and_chunking_keeps_the_answer() -> None:
    s = Scenario(8_000, 6.5e-3, 30 * MIN, 5 * MIN, length=7 * DAY)
    a, b = simulate(s, runs=500, rng=42), simulate(s, runs=500, rng=42)
    assert float(a.mean) == float(b.mean) and float(a.std) == float(b.std)
    chunked = simulate(s, runs=500, rng=42, chunk=37)
    assert float(chunked.mean) == pytest.approx(float(a.mean), abs=0.003)


def test_runs_past_max_failures_are_truncated_and_counted() -> None:
    s = Scenario(8, HOURLY_RF * 3, 60 * MIN, 30 * MIN, length=20 * DAY)
    mc = simulate(s, runs=100, rng=4, max_failures=50)
    assert mc.truncated == 100
    assert 0.0 <= float(mc.mean) < 0.1


def test_rejects_what_it_cannot_simulate() -> None:
    s = Scenario(1024, 6.5e-3, 3600.0, 300.0)
    with pytest.raises(ConfigError):
        simulate(s)  # infinite length
    with pytest.raises(ConfigError):
        simulate(replace(s, length=DAY, ckpt=0.0))
    with pytest.raises(ConfigError):
        simulate(replace(s, length=DAY), runs=0)
    with pytest.raises(ConfigError):
        simulate(replace(s, length=DAY), weibull_shape=-1.0)
