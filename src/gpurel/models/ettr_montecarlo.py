"""Monte Carlo ETTR of training runs: the process of ``ettr`` simulated run by run.

A run needs ``length`` (R) of productive work. It queues q at submission and after every
failure (fixed, or exponential with mean q). It works in segments of Δt_cp, each followed by a
blocking checkpoint write of w_cp (the last segment is shorter when R is not a multiple of
Δt_cp, and still ends with a write). Failures strike during work, writes and restarts alike: the
run loses everything since its last completed checkpoint, queues again, then pays u0 before
working. The first start pays no u0. ETTR of a run = R / W, W = queue + running time.

Inter-failure times are exponential with mean 1/λ (Poisson failures) or, with ``weibull_shape``
k, Weibull with the same mean (k < 1: failures cluster after a restart); a new inter-failure
time starts at every (re)start, and the clock runs through checkpoints and restarts.

Vectorized: runs of every parameter point are simulated side by side, ``chunk`` runs at a time
(arrays that stay in the CPU cache); each step advances every run to its next failure or its
end, and finished runs drop out, so a step costs what the runs still running cost. A run still going
after ``max_failures`` failures is stopped and counted in ``truncated``; its ETTR is the
checkpointed work over the wallclock so far.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np
import numpy.typing as npt

from gpurel.errors import ConfigError
from gpurel.models.ettr import Array, Scenario, split_length

QueueDist = Literal["fixed", "exponential"]
_COMPACT = 0.75  # drop ended runs once fewer than this share of the entries are live
DEFAULT_CHUNK = 1 << 15  # runs simulated at once: arrays that stay in the CPU cache


@dataclass(frozen=True)
class MonteCarloResult:
    """Mean ETTR per parameter point with its confidence interval (normal approximation)."""

    mean: Array
    lo: Array
    hi: Array
    std: Array  # standard deviation of per-run ETTR
    samples: int  # runs per parameter point
    failures: Array  # mean failures per run
    truncated: int  # runs stopped at max_failures (all points)
    conf: float


@dataclass
class _Runs:
    """Parameters and state of the runs in flight (flat arrays, one entry per run).

    Entries of runs that ended stay until the next compaction (``live`` False): they are
    computed along with the rest and ignored, which is cheaper than compacting every step.
    """

    idx: npt.NDArray[np.intp]  # position in the flat output
    lam: Array
    dt: Array
    u0: Array
    cycle: Array  # Δt_cp + w_cp: one segment and its write
    q: Array
    length: Array
    shape: Array
    to_end: Array  # exposed time from the last checkpoint to the end, without restart
    done: Array  # checkpointed work
    wall: Array
    restart: Array  # u0 when the next start is a restart, else 0
    fails: npt.NDArray[np.int64]
    live: npt.NDArray[np.bool_]

    def compact(self) -> None:
        keep = self.live
        for name, value in vars(self).items():
            setattr(self, name, value[keep])


def _new_runs(idx: npt.NDArray[np.intp], params: list[Array]) -> _Runs:
    lam, dt, u0, w, q, length, shape = params
    full, rest = split_length(length, dt)
    to_end = full * (dt + w) + np.where(rest > 0, rest + w, 0.0)
    return _Runs(
        idx=idx,
        lam=lam,
        dt=dt,
        u0=u0,
        cycle=dt + w,
        q=q,
        length=length,
        shape=shape,
        to_end=to_end,
        done=np.zeros(idx.size),
        wall=np.zeros(idx.size),
        restart=np.zeros(idx.size),
        fails=np.zeros(idx.size, np.int64),
        live=np.ones(idx.size, bool),
    )


def _draw_failure(rng: np.random.Generator, runs: _Runs, weibull: bool) -> Array:
    """Exposed time to the next failure of each run (inf where λ = 0)."""
    with np.errstate(divide="ignore"):
        if not weibull:
            return rng.standard_exponential(runs.lam.size) / runs.lam
        from scipy.special import gamma  # Weibull runs only

        scale = 1 / (runs.lam * gamma(1 + 1 / runs.shape))  # Weibull with mean 1/λ
        return rng.weibull(runs.shape) * scale


def _draw_queue(rng: np.random.Generator, q: Array, dist: QueueDist) -> Array:
    return q if dist == "fixed" else rng.standard_exponential(q.size) * q


def _step(
    rng: np.random.Generator, runs: _Runs, weibull: bool, queue: QueueDist, out: _Output
) -> None:
    """Advance every run to its next failure or its end; record the runs that end."""
    need = runs.to_end + runs.restart
    x = _draw_failure(rng, runs, weibull)
    ended = np.flatnonzero((x >= need) & runs.live)
    out.record(runs, ended, runs.length[ended] / (runs.wall[ended] + need[ended]))
    runs.live[ended] = False
    saved = np.floor(np.maximum(x - runs.restart, 0.0) / runs.cycle)  # whole segments kept
    runs.to_end -= saved * runs.cycle
    runs.done += saved * runs.dt
    runs.wall += x + _draw_queue(rng, runs.q, queue)
    runs.restart = runs.u0
    runs.fails += 1


@dataclass
class _Output:
    """Per-run results, flat over every run of every parameter point."""

    ettr: Array
    failures: npt.NDArray[np.int64]

    def record(self, runs: _Runs, at: npt.NDArray[np.intp], ettr: Array) -> None:
        self.ettr[runs.idx[at]] = ettr
        self.failures[runs.idx[at]] = runs.fails[at]


def _simulate_chunk(
    rng: np.random.Generator,
    runs: _Runs,
    weibull: bool,
    queue: QueueDist,
    max_failures: int,
    out: _Output,
) -> int:
    """Simulate ``runs`` to the end, recording each; returns how many were truncated."""
    runs.wall += _draw_queue(rng, runs.q, queue)
    for _ in range(max_failures + 1):
        _step(rng, runs, weibull, queue, out)
        alive = int(np.count_nonzero(runs.live))
        if alive == 0:
            return 0
        if alive < _COMPACT * runs.live.size:
            runs.compact()
    runs.compact()
    out.record(runs, np.arange(runs.idx.size), runs.done / runs.wall)
    return int(runs.idx.size)


def _flat_params(s: Scenario, shape: npt.ArrayLike) -> tuple[tuple[int, ...], list[Array]]:
    arrays = np.broadcast_arrays(
        s.rate(),
        s.interval(),
        np.asarray(s.restart, np.float64),
        np.asarray(s.write, np.float64),
        np.asarray(s.queue, np.float64),
        np.asarray(s.length, np.float64),
        np.asarray(shape, np.float64),
    )
    return arrays[0].shape, [a.ravel() for a in arrays]


def _check(params: list[Array]) -> None:
    lam, dt, u0, w, q, length, shape = params
    if np.any(~np.isfinite(length)) or np.any(length <= 0):
        raise ConfigError("Monte Carlo needs a finite, positive run length")
    if np.any(dt <= 0) or np.any(~np.isfinite(dt)):
        raise ConfigError("Monte Carlo needs a finite, positive checkpoint interval")
    if np.any(lam < 0) or np.any(u0 < 0) or np.any(w < 0) or np.any(q < 0) or np.any(shape <= 0):
        raise ConfigError("rates, durations and the Weibull shape must not be negative")


def simulate(
    s: Scenario,
    runs: int = 10_000,
    rng: np.random.Generator | int | None = None,
    weibull_shape: npt.ArrayLike | None = None,
    queue: QueueDist = "fixed",
    conf: float = 0.95,
    max_failures: int = 100_000,
    chunk: int = DEFAULT_CHUNK,
) -> MonteCarloResult:
    """Mean ETTR of ``runs`` simulated runs per parameter point of ``s`` (arrays broadcast).

    ``s.length`` must be finite. ``rng``: a Generator or a seed (fixed seeds reproduce).
    """
    if runs < 1:
        raise ConfigError(f"need at least one run per point, got {runs}")
    gen = np.random.default_rng(rng)
    weibull = weibull_shape is not None
    shape, params = _flat_params(s, 1.0 if weibull_shape is None else weibull_shape)
    _check(params)
    n_points = params[0].size
    total = n_points * runs
    out = _Output(np.empty(total), np.zeros(total, np.int64))
    truncated = 0
    for start in range(0, total, max(chunk, 1)):
        idx = np.arange(start, min(start + chunk, total))
        flight = _new_runs(idx, [p[idx // runs] for p in params])
        truncated += _simulate_chunk(gen, flight, weibull, queue, max_failures, out)
    per_point = (n_points, runs)
    return _summarize(
        out.ettr.reshape(per_point), out.failures.reshape(per_point), shape, conf, truncated
    )


def _summarize(
    ettr: Array,
    failures: npt.NDArray[np.int64],
    shape: tuple[int, ...],
    conf: float,
    truncated: int,
) -> MonteCarloResult:
    n = ettr.shape[1]
    mean = ettr.mean(axis=1)
    std = ettr.std(axis=1, ddof=1) if n > 1 else np.full(mean.shape, math.nan)
    half = NormalDist().inv_cdf(0.5 + conf / 2) * std / math.sqrt(n)
    return MonteCarloResult(
        mean=mean.reshape(shape),
        lo=(mean - half).reshape(shape),
        hi=(mean + half).reshape(shape),
        std=std.reshape(shape),
        samples=n,
        failures=failures.mean(axis=1).reshape(shape),
        truncated=truncated,
        conf=conf,
    )
