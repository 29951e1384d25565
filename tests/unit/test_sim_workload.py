"""Workload drawing: arrivals, sizes, fates, runs."""

from __future__ import annotations

import dataclasses

import numpy as np

from gpurel.sim import codes, workload
from gpurel.sim.config import DAY, preset

CONFIG = dataclasses.replace(preset("rsc1"), scale=0.1)
HORIZON = 20 * DAY


def draw(seed: int = 1) -> workload.Workload:
    return workload.draw(np.random.SeedSequence(seed), CONFIG, HORIZON)


def test_arrivals_are_sorted_and_merged() -> None:
    w = draw()
    assert np.all(np.diff(w.arrival_time) >= 0)
    assert len(w.arrival_time) == len(w.singles.submit) + len(w.runs.submit)
    assert w.arrival_time.min() >= 0 and w.arrival_time.max() < HORIZON


def test_rates_sizes_and_fates() -> None:
    s = draw().singles
    per_day = len(s.submit) / 20
    assert abs(per_day - CONFIG.jobs_per_day * CONFIG.scale) < 0.05 * per_day
    assert 0.40 < np.mean(s.gpus == 1) < 0.52
    assert s.gpus.max() <= CONFIG.max_job_gpus
    assert abs(np.mean(s.natural == codes.FAILED) - CONFIG.p_user_fail) < 0.02
    assert np.all(s.limit <= CONFIG.max_lifetime)
    assert np.all((s.cancel_at < 0) | (s.cancel_at > s.submit))


def test_submissions_follow_the_day() -> None:
    hours = (draw().singles.submit % DAY) // 3600
    counts = np.bincount(hours, minlength=24)
    assert counts[15] > 2 * counts[3]


def test_runs_get_qos_by_size() -> None:
    full = preset("rsc1")  # the largest runs need the full cluster
    r = workload.runs(np.random.default_rng(1), full, 60 * DAY)
    top = r.gpus >= CONFIG.run_top_min_gpus
    large = (r.gpus >= CONFIG.run_high_min_gpus) & ~top
    assert top.any() and large.any()
    assert np.all(r.qos[top] == workload.TOP)
    assert np.all(r.qos[large] == workload.HIGH)
    assert np.all(r.qos[~large & ~top] < workload.HIGH)
    assert np.all(r.work >= 600)


def test_same_seed_same_workload() -> None:
    a, b = draw(3), draw(3)
    assert np.array_equal(a.arrival_time, b.arrival_time)
    assert np.array_equal(a.singles.work, b.singles.work)
