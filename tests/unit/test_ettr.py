"""Expected ETTR: the paper's numbers (PAPER.md §5), the closed forms and the solver.

Paper numbers are given to one or two significant digits; each test states its tolerance as
the rounding band of the number quoted (0.7 → ±0.03, 0.93 → ±0.005, 0.9 → ±0.01) unless said
otherwise. Parameters not stated by the paper are documented where they are assumed.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from gpurel.cli.app import app
from gpurel.errors import ConfigError
from gpurel.models.ettr import (
    UNKNOWNS,
    Scenario,
    ettr_finite,
    ettr_first_order,
    ettr_hpca,
    ettr_of,
    ettr_renewal,
    expected,
    failure_rate,
    linear_breaks,
    rf_per_node_day,
    solve,
    young_daly,
)
from gpurel.models.ettr_montecarlo import simulate

MIN = 60.0
DAY = 86_400.0
RSC1 = 6.5e-3  # failures per node-day (paper)
RSC2 = 2.34e-3


# --- the paper's numbers ----------------------------------------------------------------------


@pytest.mark.parametrize("gpus", [16_000, 16_384])
def test_16k_gpus_hourly_checkpoints_give_0_7(gpus: int) -> None:
    s = Scenario(gpus, RSC1, ckpt=60 * MIN, restart=5 * MIN)
    forms = expected(s)
    for form in ("hpca", "first_order", "finite", "renewal"):
        assert forms[form] == pytest.approx(0.7, abs=0.03), form  # 0.676 – 0.720


@pytest.mark.parametrize("gpus", [16_000, 16_384])
def test_16k_gpus_5_minute_checkpoints_give_0_93(gpus: int) -> None:
    # non-blocking writes (w_cp = 0), u0 = 5 min, no queue: linear 0.931/0.932, exact 0.934
    s = Scenario(gpus, RSC1, ckpt=5 * MIN, restart=5 * MIN)
    assert ettr_hpca(s.rate(), s.interval(), s.restart) == pytest.approx(0.93, abs=0.005)
    assert expected(s)["renewal"] == pytest.approx(0.93, abs=0.006)


def test_8k_gpus_1_minute_queue_30_minute_checkpoints_give_0_9() -> None:
    # u0 = 5 min (the paper's default restart); first order 0.905, finite 0.906, exact 0.909
    s = Scenario(8_000, RSC1, ckpt=30 * MIN, restart=5 * MIN, queue=1 * MIN)
    forms = expected(s)
    for form in ("first_order", "finite", "renewal"):
        assert forms[form] == pytest.approx(0.9, abs=0.01), form


def test_2048_to_4096_gpus_at_hourly_checkpoints_stay_above_0_9() -> None:
    s = Scenario(np.array([2048, 3072, 4096]), RSC1, ckpt=60 * MIN, restart=5 * MIN)
    for form in ("hpca", "first_order", "finite", "renewal"):
        assert np.all(expected(s)[form] > 0.9), form  # 0.960, 0.939, 0.919 (linear)


def test_100k_gpus_at_rsc2_rate_need_minute_scale_checkpoints_and_restarts() -> None:
    """0.9 at 100,000 GPUs and r_f 2.34 needs "~2-min checkpoint interval and ~2-min restart".

    Without queue time the 0.9 frontier is u0 + Δt_cp/2 = 4.9 min: (2 min, 2 min) reaches 0.94,
    and the solver allows a 5.8-min interval at u0 = 2 min or a 3.9-min restart at Δt_cp = 2
    min. The paper's "~2 min for both" follows when a 2-min queue per interruption is also held
    fixed (assumed: the paper models q after every interruption; 2 min is our reading): the
    solver then gives 2.2 min and 2.1 min. Tolerance ±0.3 min (15%).
    """
    no_queue = Scenario(100_000, RSC2, ckpt=2 * MIN, restart=2 * MIN)
    assert 0.9 < ettr_of(no_queue) < 0.95
    assert solve(0.9, no_queue, "ckpt") / MIN == pytest.approx(5.85, abs=0.05)
    assert solve(0.9, no_queue, "restart") / MIN == pytest.approx(3.92, abs=0.05)
    queued = replace(no_queue, queue=2 * MIN)
    assert solve(0.9, queued, "ckpt") / MIN == pytest.approx(2.0, abs=0.3)
    assert solve(0.9, queued, "restart") / MIN == pytest.approx(2.0, abs=0.3)


def test_12k_gpus_need_rf_near_1_per_1000_node_days_or_10_second_writes() -> None:
    """0.9 at ~12,000 GPUs needs r_f ~1/1000 node-days, or checkpoint writes of ~10 s.

    What the paper must have held fixed: the checkpoint interval cannot be fixed — at any
    hourly interval even free writes stay below 0.77 at RSC-1's rate — so it follows Young/Daly
    for the current λ and w_cp; writes must be blocking and slow today (else r_f would not
    matter that much): we assume w_cp = 5 min, u0 = 5 min, no queue. Then the solver gives
    r_f = 0.96/1000 (tolerance ±20%) and w_cp = 21 s at RSC-1's rate: the paper's "~10 s" to
    within a factor of 2.2 (10 s exactly needs u0 ≈ 8 min, checked below).
    """
    today = Scenario(12_000, RSC1, ckpt=None, restart=5 * MIN, write=5 * MIN)
    assert ettr_of(today) < 0.75
    assert solve(0.9, today, "rf") * 1000 == pytest.approx(1.0, rel=0.2)
    assert 5 < solve(0.9, today, "write") < 30
    assert solve(0.9, replace(today, restart=8 * MIN), "write") == pytest.approx(10, abs=1.5)
    hourly = replace(today, ckpt=60 * MIN, write=0.0)
    assert ettr_of(hourly) < 0.77


def test_closed_forms_within_5_percent_of_monte_carlo_at_8k_gpus() -> None:
    s = Scenario(8_000, RSC1, ckpt=30 * MIN, restart=5 * MIN, queue=1 * MIN, length=7 * DAY)
    mc = simulate(s, runs=4_000, rng=20241029)
    forms = expected(s)
    for form in ("hpca", "first_order", "finite", "renewal"):
        assert abs(forms[form] - mc.mean) / mc.mean < 0.05, form
    assert abs(forms["finite"] - mc.mean) / mc.mean < 0.01  # in fact within 0.4%
    assert mc.lo - 0.002 <= forms["renewal"] <= mc.hi + 0.002


# --- conversions and closed forms -------------------------------------------------------------


def test_failure_rate_is_per_second_for_whole_nodes_and_matches_paper_mttf() -> None:
    lam = failure_rate([16_384, 131_072, 9], RSC1)
    assert lam[2] == pytest.approx(2 * RSC1 / DAY)  # 9 GPUs occupy 2 nodes
    assert 1 / lam[:2] / 3600 == pytest.approx([1.8, 0.23], abs=0.01)  # paper's projections
    assert rf_per_node_day(lam, [16_384, 131_072, 9]) == pytest.approx(RSC1)


def test_young_daly_interval_and_its_optimality() -> None:
    assert young_daly(1 / 3600, 50.0) == pytest.approx(600.0)
    assert young_daly(0.0, 50.0) == np.inf
    lam, write = failure_rate(16_384, RSC1), 60.0
    best = young_daly(lam, write)
    at = ettr_finite(lam, np.array([0.8, 1.0, 1.25]) * best, 300.0, write)
    assert at[1] > at[0] and at[1] > at[2]


def test_forms_broadcast_over_parameter_grids() -> None:
    lam = failure_rate(np.array([[1024], [8192], [65536]]), RSC1)
    dt = np.array([5, 15, 30, 60]) * MIN
    for form in (ettr_hpca, ettr_first_order, ettr_finite, ettr_renewal):
        out = form(lam, dt, 300.0)
        assert out.shape == (3, 4)
        assert np.all(np.diff(out, axis=0) < 0)  # bigger jobs, lower ETTR


def test_linear_forms_clamp_at_zero_and_flag_the_regime() -> None:
    lam = 1 / 3600
    assert linear_breaks(lam, 3600.0, 1800.0)
    assert not linear_breaks(failure_rate(1024, RSC1), 3600.0, 300.0)
    for value in (
        ettr_hpca(lam, 3600.0, 3600.0),
        ettr_first_order(lam, 3600.0, 3600.0),
        ettr_finite(lam, 3600.0, 3600.0, length=DAY),
    ):
        assert value == 0.0
    assert 0 < ettr_renewal(lam, 3600.0, 3600.0) < 0.3  # the exact form stays meaningful


def test_exact_form_approaches_the_linear_forms_when_failures_are_rare() -> None:
    lam = failure_rate(64, RSC1)
    args = (lam, 1800.0, 300.0, 30.0, 60.0)
    assert ettr_renewal(*args) == pytest.approx(ettr_finite(*args), rel=2e-4)


def test_without_failures_only_queue_and_writes_cost() -> None:
    # 10 h of work in 1-h segments with 60-s writes, one 1-h queue at submission
    length = 10 * 3600.0
    want = length / (3600 + length + 10 * 60)
    assert ettr_renewal(0.0, 3600.0, 300.0, 60.0, 3600.0, length) == pytest.approx(want)
    assert ettr_finite(0.0, 3600.0, 300.0, 60.0, 3600.0, length) == pytest.approx(want)
    assert ettr_renewal(0.0, 3600.0, 300.0, 60.0) == pytest.approx(60 / 61)


def test_finite_length_tends_to_the_long_run_value() -> None:
    args = (failure_rate(4096, RSC1), 1800.0, 300.0, 20.0, 600.0)
    short, long_ = ettr_finite(*args, length=DAY), ettr_finite(*args, length=1e6 * DAY)
    assert short < long_ == pytest.approx(ettr_finite(*args), rel=1e-6)
    assert ettr_renewal(*args, length=1e6 * DAY) == pytest.approx(ettr_renewal(*args), rel=1e-5)


# --- the solver -------------------------------------------------------------------------------


@pytest.mark.parametrize("unknown", UNKNOWNS)
def test_solver_inverts_the_finite_form(unknown: str) -> None:
    s = Scenario(
        np.array([1024, 4096, 8192]),
        RSC1,
        ckpt=30 * MIN,
        restart=5 * MIN,
        write=30.0,
        queue=60.0,
        length=7 * DAY,
    )
    value = solve(0.85, s, unknown)  # type: ignore[arg-type]
    assert np.all(np.isfinite(value))
    assert ettr_of(replace(s, **{unknown: value})) == pytest.approx(0.85, abs=1e-9)
    beyond = ettr_of(replace(s, **{unknown: value * 1.01}))
    assert np.all(beyond < 0.85)  # the largest value that reaches the target


@pytest.mark.parametrize("unknown", ["write", "rf"])
def test_solver_with_young_daly_interval_uses_brentq(unknown: str) -> None:
    s = Scenario(np.array([4096, 12_000]), RSC1, ckpt=None, restart=5 * MIN, write=60.0)
    value = solve(np.array([0.9, 0.85]), s, unknown)  # type: ignore[arg-type]
    assert ettr_of(replace(s, **{unknown: value})) == pytest.approx([0.9, 0.85], abs=1e-8)


def test_solver_reports_out_of_reach_and_unbounded() -> None:
    # 2-min writes every 10 min cap ETTR at 0.83 even without failures: r_f cannot fix it
    capped = Scenario(1024, RSC1, ckpt=10 * MIN, restart=5 * MIN, write=2 * MIN)
    assert np.isnan(solve(0.9, capped, "rf"))
    assert np.isnan(solve(0.9, replace(capped, rf=1.0), "restart"))
    no_failures = Scenario(1024, 0.0, ckpt=10 * MIN, restart=5 * MIN)
    assert solve(0.9, no_failures, "ckpt") == np.inf
    assert solve(0.9, no_failures, "restart") == np.inf


def test_solver_rejects_bad_requests() -> None:
    s = Scenario(1024, RSC1)
    with pytest.raises(ConfigError):
        solve(0.9, s, "queue")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        solve(1.0, s, "ckpt")
    with pytest.raises(ConfigError):
        solve(0.9, replace(s, ckpt=None), "ckpt")


# --- the command ------------------------------------------------------------------------------


def gpurel(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_command_prints_every_form_and_monte_carlo() -> None:
    result = gpurel(
        "ettr", "--gpus", "16000,16384", "--rf", "6.5", "--ckpt", "60m", "--restart", "5m"
    )
    assert result.exit_code == 0, result.output
    assert "0.684" in result.output and "0.720" in result.output  # linear and exact, 16k
    assert "trust the exact form" in result.output  # the linear term is 0.32
    mc = gpurel(
        "ettr",
        "--gpus",
        "8000",
        "--rf",
        "6.5",
        "--ckpt",
        "30m",
        "--queue",
        "1m",
        "--mc",
        "--runs",
        "500",
    )
    assert mc.exit_code == 0, mc.output
    assert "runs of 7 d" in mc.output and "Monte Carlo (500 runs)" in mc.output


def test_command_solves_for_a_target() -> None:
    result = gpurel(
        "ettr",
        "--target",
        "0.9",
        "--gpus",
        "100000",
        "--rf",
        "2.34",
        "--restart",
        "2m",
        "--solve",
        "ckpt",
    )
    assert result.exit_code == 0, result.output
    assert "5.85 min" in result.output
    rf = gpurel(
        "ettr",
        "--target",
        "0.9",
        "--gpus",
        "12000",
        "--rf",
        "6.5",
        "--ckpt",
        "optimal",
        "--write",
        "5m",
        "--solve",
        "rf",
    )
    assert "0.96" in rf.output
    unreachable = gpurel("ettr", "--target", "0.9", "--gpus", "100000", "--rf", "2.34")
    assert "out of reach" in unreachable.output  # with the default 5-min restart


@pytest.mark.parametrize(
    "args",
    [
        ("--ckpt", "optimal", "--target", "0.9"),  # Young/Daly interval cannot be solved for
        ("--ckpt", "an hour"),
        ("--solve", "queue", "--target", "0.9"),
        ("--target", "1.5"),
        ("--mc", "--length", "0"),
    ],
)
def test_command_fails_cleanly(args: tuple[str, ...]) -> None:
    result = gpurel("ettr", "--gpus", "1024", "--rf", "6.5", *args)
    assert result.exit_code == 2  # a value the command cannot use
    assert "error:" in result.output or "error:" in (result.stderr or "")
