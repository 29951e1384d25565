"""The warm-up's stationarity test (MSER on daily means) and the window it gives."""

from __future__ import annotations

import dataclasses

import numpy as np

from gpurel.sim.config import DAY, preset
from gpurel.sim.run import simulate
from gpurel.sim.steady import MIN_TAIL, Stationarity, mser_truncation


def _noise(n: int, level: float, seed: int = 0) -> list[float]:
    return (level + 0.05 * np.random.default_rng(seed).standard_normal(n)).tolist()


def test_a_ramp_then_a_plateau_is_truncated_where_the_ramp_ends() -> None:
    ramp = np.linspace(0.2, 0.8, 10).tolist()
    d = mser_truncation(ramp + _noise(30, 0.8))
    assert 8 <= d <= 12


def test_a_series_still_ramping_is_not_past_its_transient() -> None:
    values = np.linspace(0.1, 0.9, 30).tolist()
    assert mser_truncation(values) == len(values)


def test_too_short_a_series_is_not_judged() -> None:
    values = _noise(2 * MIN_TAIL - 1, 0.5)
    assert mser_truncation(values) == len(values)


def test_a_quiet_stretch_at_the_end_does_not_look_like_a_transient() -> None:
    queue = [0.0, 0.3, 0.0, 0.0, 0.25, 0.0, 0.0, 0.2, 0.0, 0.0] * 3 + [0.0] * 8
    assert mser_truncation(queue) < len(queue) // 2


def test_stationary_only_after_confirm_checks_in_a_row_of_every_series() -> None:
    steady = Stationarity(batch=2, confirm=3)
    flat, ramp = _noise(60, 0.5, 1), np.linspace(0.0, 1.0, 60).tolist()
    verdicts = []
    for i in range(60):
        steady.add(utilization=flat[i], runs=ramp[i] if i < 30 else 1.0)
        if i % 2 == 1:
            verdicts.append(steady.check())
    first = verdicts.index(True)
    assert first >= 15 + 2  # the ramp ends at batch 15; confirmed over 3 checks at the least
    assert not any(verdicts[:first])


def test_the_window_begins_at_a_midnight_after_the_least_warm_up() -> None:
    config = dataclasses.replace(preset("rsc1"), scale=0.05, days=2.0, warmup_days=12.0)
    result = simulate(config, seed=3)
    warmup = result.stats["warmup_s"]
    assert warmup % DAY == 0
    assert config.warmup_days * DAY <= warmup <= config.warmup_max_days * DAY
    assert result.stats["warmup_stationary"] in (0.0, 1.0)


def test_a_given_warm_up_is_kept_and_the_window_lasts_the_days() -> None:
    config = dataclasses.replace(preset("rsc1"), scale=0.05, days=2.0)
    result = simulate(config, seed=3, warmup_s=5 * DAY)
    assert result.stats["warmup_s"] == 5 * DAY
    jobs = result.tables["jobs"]
    ends = [e for e in jobs["end_time"].to_pylist() if e is not None]
    assert (max(ends) - min(ends)).total_seconds() <= 2 * DAY
