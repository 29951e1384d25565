"""The workload, drawn up front and vectorized: single jobs, training runs, their arrivals.

Times are whole seconds on the simulator's clock (0 = start of the warm-up). Single jobs
arrive as a Poisson process and carry their whole fate: size, QoS, the runtime to their
natural end (completion, user failure or OOM), time limit and an optional cancel time.
Training runs arrive as Poisson processes per size class and carry the productive work they
need; what happens to them (checkpoints, requeues, resubmissions) is decided while simulating.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gpurel.sim import codes
from gpurel.sim.config import DAY, HOUR, QOS, SimConfig

SINGLE_NAMES = ("eval", "debug", "sweep", "notebook", "train", "bench", "preprocess", "infer")
TOP = QOS.index("top")
HIGH = QOS.index("high")
NORMAL = QOS.index("normal")
LOW = QOS.index("low")


@dataclass(frozen=True)
class Singles:
    """Single jobs, one row per submission."""

    submit: np.ndarray  # int64 seconds
    gpus: np.ndarray  # int64
    qos: np.ndarray  # int64 index into QOS
    work: np.ndarray  # int64 seconds to the natural end
    natural: np.ndarray  # int64 codes.COMPLETED / FAILED / OOM
    limit: np.ndarray  # int64 seconds
    cancel_at: np.ndarray  # int64 absolute seconds, -1 = never
    give_up_at: np.ndarray  # int64 absolute seconds: cancelled if still waiting then
    user: np.ndarray  # int64
    name: np.ndarray  # int64 index into SINGLE_NAMES


@dataclass(frozen=True)
class Runs:
    """Training runs, one row per run."""

    submit: np.ndarray
    gpus: np.ndarray
    qos: np.ndarray
    work: np.ndarray  # productive seconds needed
    user: np.ndarray


@dataclass(frozen=True)
class Workload:
    """Singles, runs and the merged arrival stream (time order)."""

    singles: Singles
    runs: Runs
    arrival_time: np.ndarray  # int64
    arrival_is_run: np.ndarray  # bool
    arrival_index: np.ndarray  # int64 row in singles or runs


def _times(
    rng: np.random.Generator, per_day: float, horizon: int, amplitude: float = 0.0
) -> np.ndarray:
    """Sorted arrival times of a Poisson process over [0, horizon) whose rate follows the day:
    ``per_day * (1 + amplitude * sin(2π (t - 9h) / 1 day))``, peaking at 15:00 (thinning)."""
    count = rng.poisson(per_day * (1 + amplitude) * horizon / DAY)
    times = rng.integers(0, horizon, size=count, dtype=np.int64)
    if amplitude > 0:
        rate = 1 + amplitude * np.sin(2 * np.pi * (times - 9 * HOUR) / DAY)
        times = times[rng.uniform(size=count) * (1 + amplitude) < rate]
    return np.sort(times)


def _lognormal(rng: np.random.Generator, median: np.ndarray | float, sigma: float, n: int):
    return np.asarray(median, dtype=np.float64) * np.exp(sigma * rng.standard_normal(n))


def _capped(gpus: np.ndarray, config: SimConfig) -> np.ndarray:
    return np.minimum(gpus, config.max_job_gpus)


def _users(rng: np.random.Generator, config: SimConfig, n: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, config.users + 1) ** 1.1
    return rng.choice(config.users, size=n, p=weights / weights.sum())


def _hours_up(seconds: np.ndarray, config: SimConfig) -> np.ndarray:
    """Round up to whole hours (users ask for round limits), within the max lifetime."""
    limit = np.ceil(np.maximum(seconds, 1) / HOUR).astype(np.int64) * HOUR
    return np.minimum(limit, config.max_lifetime)


def singles(rng: np.random.Generator, config: SimConfig, horizon: int) -> Singles:
    """Draw every single job submitted before ``horizon``."""
    submit = _times(rng, config.jobs_per_day * config.scale, horizon, config.diurnal_amplitude)
    n = len(submit)
    sizes = np.array([s for s, _ in config.single_sizes], dtype=np.int64)
    weights = np.array([w for _, w in config.single_sizes], dtype=np.float64)
    gpus = _capped(rng.choice(sizes, size=n, p=weights / weights.sum()), config)
    weights = np.asarray(config.single_qos) / sum(config.single_qos)
    qos = rng.choice(len(weights), size=n, p=weights)
    median = (
        config.single_duration_median * gpus.astype(np.float64) ** config.single_duration_size_exp
    )
    runtime = np.clip(_lognormal(rng, median, config.single_duration_sigma, n), 60, None)
    runtime = np.minimum(runtime, config.max_lifetime).astype(np.int64)
    limit = _hours_up(runtime * rng.uniform(1.3, 3.0, n), config)
    fate = rng.uniform(size=n)
    bounds = np.cumsum([config.p_user_fail, config.p_oom, config.p_timeout, config.p_cancel])
    failing = fate < bounds[1]
    natural = np.where(fate < bounds[0], codes.FAILED, codes.COMPLETED)
    natural = np.where(failing & (fate >= bounds[0]), codes.OOM, natural)
    crash = np.clip(_lognormal(rng, config.fail_median, config.fail_sigma, n), 10, None)
    work = np.where(failing, np.minimum(crash.astype(np.int64), runtime), runtime)
    timeout = (fate >= bounds[1]) & (fate < bounds[2])
    limit = np.where(timeout, _hours_up(runtime, config), limit)
    work = np.where(timeout, limit + HOUR, work)
    cancelled = (fate >= bounds[2]) & (fate < bounds[3])
    wait = _lognormal(rng, config.cancel_median, 1.5, n).astype(np.int64) + 1
    cancel_at = np.where(cancelled, submit + wait, -1)
    give_up = submit + _lognormal(rng, config.patience_median, 1.0, n).astype(np.int64) + 1
    return Singles(
        submit=submit,
        gpus=gpus,
        qos=qos.astype(np.int64),
        work=work.astype(np.int64),
        natural=natural.astype(np.int64),
        limit=limit.astype(np.int64),
        cancel_at=cancel_at.astype(np.int64),
        give_up_at=give_up,
        user=_users(rng, config, n).astype(np.int64),
        name=rng.integers(0, len(SINGLE_NAMES), size=n, dtype=np.int64),
    )


def runs(rng: np.random.Generator, config: SimConfig, horizon: int) -> Runs:
    """Draw every training run started before ``horizon``."""
    parts = []
    for klass in config.runs:
        submit = _times(rng, klass.per_day * config.scale, horizon)
        n = len(submit)
        work = _lognormal(rng, klass.work_median_h * HOUR, config.run_work_sigma, n)
        parts.append((submit, np.full(n, klass.gpus, dtype=np.int64), work))
    submit = np.concatenate([p[0] for p in parts])
    order = np.argsort(submit, kind="stable")
    gpus = _capped(np.concatenate([p[1] for p in parts])[order], config)
    n = len(gpus)
    low = rng.uniform(size=n) < config.run_low_share
    qos = np.where(gpus >= config.run_high_min_gpus, HIGH, np.where(low, LOW, NORMAL))
    qos = np.where(gpus >= config.run_top_min_gpus, TOP, qos)
    work = np.maximum(np.concatenate([p[2] for p in parts])[order], 600).astype(np.int64)
    return Runs(
        submit=submit[order],
        gpus=gpus,
        qos=qos.astype(np.int64),
        work=work,
        user=_users(rng, config, n).astype(np.int64),
    )


def draw(seed: np.random.SeedSequence, config: SimConfig, horizon: int) -> Workload:
    """The workload of one simulation, from its own random stream."""
    single_seed, run_seed = seed.spawn(2)
    one = singles(np.random.default_rng(single_seed), config, horizon)
    many = runs(np.random.default_rng(run_seed), config, horizon)
    time = np.concatenate([one.submit, many.submit])
    is_run = np.concatenate([np.zeros(len(one.submit), bool), np.ones(len(many.submit), bool)])
    index = np.concatenate([np.arange(len(one.submit)), np.arange(len(many.submit))])
    order = np.argsort(time, kind="stable")
    return Workload(one, many, time[order], is_run[order], index[order].astype(np.int64))
