"""Expected ETTR of a training run (PAPER.md §5): closed forms, Young/Daly and a solver.

Units: every duration is in seconds and the failure rate ``lam`` (λ) is in failures per second
of running time. People give r_f per node-day; ``failure_rate`` converts: λ = nodes × r_f / 86400
(nodes = ceil(GPUs / GPUs per node), nodes in series as in ``failure_model``). Every function
takes numbers or numpy arrays and broadcasts them against each other.

The process all forms describe: a run needs ``length`` (R) of productive work. It waits ``queue``
(q) once at submission and again after every interruption. While running, it writes a blocking
checkpoint of ``write`` (w_cp) after every ``ckpt`` (Δt_cp) of work. A failure (Poisson, rate λ,
during work, writes and restarts alike) rolls the run back to its last completed checkpoint; the
run then queues again and pays the restart overhead ``restart`` (u0) before working.

- ``ettr_hpca``: (1 − λ(u0 + Δt_cp/2)) / (1 + w_cp/Δt_cp), the paper's HPCA form;
- ``ettr_first_order``: 1 − λ(q + u0 + Δt_cp/2), the first-order form with queue time;
- ``ettr_finite``: the fuller form with q and a finite R: T_run = R(1 + w_cp/Δt_cp) /
  (1 − λ(u0 + Δt_cp/2)), W = q + T_run(1 + λq), E[ETTR] = R / W;
- ``ettr_renewal``: the exact R / E[W] of the process above (renewal argument: a segment of
  work s and write w takes e^{λu0}(1/λ + q)(e^{λ(s+w)} − 1) on average), valid at any λ.

The three linear forms are first-order in λ(u0 + Δt_cp/2). They underestimate: by 0.4% of
the exact value when this *linear term* is 0.1, 2% at 0.2 (``LINEAR_LIMIT``, from where
``linear_breaks`` flags them), 5% at 0.3 and 15% at 0.5; where it reaches 1 they are
meaningless and clamped at 0. Use ``ettr_renewal`` or the Monte Carlo estimator
(``ettr_montecarlo``, which also handles Weibull failures) there.

``solve`` inverts ``ettr_finite`` for one parameter, the others fixed: the largest Δt_cp, u0,
w_cp or r_f that still reaches a target ETTR.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from gpurel.errors import ConfigError
from gpurel.models.failure_model import nodes_for

Array = npt.NDArray[np.float64]
Unknown = Literal["ckpt", "restart", "write", "rf"]

SECONDS_PER_DAY = 86_400.0
LINEAR_LIMIT = 0.2  # linear term from which the linear forms are off by more than 2%
UNKNOWNS: tuple[Unknown, ...] = ("ckpt", "restart", "write", "rf")
_EPS = 1e-9  # relative float residue below which a remainder of work is no segment
_GROWTH = 4.0  # bracket expansion factor of the numeric solver
_MAX_EXPANSIONS = 60


def _f(x: npt.ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


def failure_rate(
    gpus: npt.ArrayLike, rf_per_node_day: npt.ArrayLike, gpus_per_node: int = 8
) -> Array:
    """λ in failures per second of a job on ``gpus`` GPUs (whole nodes in series)."""
    return nodes_for(gpus, gpus_per_node) * _f(rf_per_node_day) / SECONDS_PER_DAY


def rf_per_node_day(lam: npt.ArrayLike, gpus: npt.ArrayLike, gpus_per_node: int = 8) -> Array:
    """Inverse of ``failure_rate``: r_f per node-day that gives λ (per second) on ``gpus``."""
    return _f(lam) * SECONDS_PER_DAY / nodes_for(gpus, gpus_per_node)


def young_daly(lam: npt.ArrayLike, write: npt.ArrayLike) -> Array:
    """Young/Daly optimal checkpoint interval sqrt(2 w_cp / λ) in seconds (inf where λ = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(_f(lam) > 0, np.sqrt(2 * _f(write) / _f(lam)), np.inf)


def linear_term(
    lam: npt.ArrayLike, ckpt: npt.ArrayLike, restart: npt.ArrayLike, queue: npt.ArrayLike = 0.0
) -> Array:
    """λ(q + u0 + Δt_cp/2): expected time lost per failure times the failure rate (0 if λ = 0)."""
    lam = _f(lam)
    with np.errstate(invalid="ignore"):
        return np.where(lam > 0, lam * (_f(queue) + _f(restart) + _f(ckpt) / 2), 0.0)


def linear_breaks(
    lam: npt.ArrayLike,
    ckpt: npt.ArrayLike,
    restart: npt.ArrayLike,
    queue: npt.ArrayLike = 0.0,
    limit: float = LINEAR_LIMIT,
) -> npt.NDArray[np.bool_]:
    """True where the linear forms are unreliable: λ(q + u0 + Δt_cp/2) >= ``limit``."""
    return linear_term(lam, ckpt, restart, queue) >= limit


def _write_share(ckpt: npt.ArrayLike, write: npt.ArrayLike) -> Array:
    """w_cp / Δt_cp, 0 where no time is spent writing (also with a zero interval)."""
    w, dt = np.broadcast_arrays(_f(write), _f(ckpt))
    out = np.zeros(w.shape)
    np.divide(w, dt, out=out, where=w > 0)
    return out


def ettr_hpca(
    lam: npt.ArrayLike, ckpt: npt.ArrayLike, restart: npt.ArrayLike, write: npt.ArrayLike = 0.0
) -> Array:
    """(1 − λ(u0 + Δt_cp/2)) / (1 + w_cp/Δt_cp), clamped at 0."""
    return np.maximum(1 - linear_term(lam, ckpt, restart), 0.0) / (1 + _write_share(ckpt, write))


def ettr_first_order(
    lam: npt.ArrayLike, ckpt: npt.ArrayLike, restart: npt.ArrayLike, queue: npt.ArrayLike = 0.0
) -> Array:
    """1 − λ(q + u0 + Δt_cp/2), clamped at 0 (no checkpoint write cost)."""
    return np.maximum(1 - linear_term(lam, ckpt, restart, queue), 0.0)


def ettr_finite(
    lam: npt.ArrayLike,
    ckpt: npt.ArrayLike,
    restart: npt.ArrayLike,
    write: npt.ArrayLike = 0.0,
    queue: npt.ArrayLike = 0.0,
    length: npt.ArrayLike = np.inf,
) -> Array:
    """R / (q + T_run(1 + λq)) with T_run = R(1 + w/Δt)/(1 − λ(u0 + Δt/2)); 0 past the limit.

    ``length`` = inf gives the long-run value (1 − λ(u0 + Δt/2)) / ((1 + w/Δt)(1 + λq)).
    """
    lam, q, r = _f(lam), _f(queue), _f(length)
    alive = np.maximum(1 - linear_term(lam, ckpt, restart), 0.0)
    per_work = (1 + _write_share(ckpt, write)) * (1 + lam * q)  # wallclock per unit of work
    with np.errstate(divide="ignore", invalid="ignore"):
        value = alive / (alive * q / r + per_work)
    return np.where(alive > 0, value, 0.0)


def _expm1_over(lam: Array, x: Array) -> Array:
    """(e^{λx} − 1) / λ: the mean time to get through x of exposed time, x where λ = 0."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(lam > 0, np.expm1(lam * x) / lam, x)


def split_length(length: npt.ArrayLike, ckpt: npt.ArrayLike) -> tuple[Array, Array]:
    """R as whole segments of Δt_cp and a shorter remainder (float residue counts as none)."""
    r, dt = np.broadcast_arrays(_f(length), _f(ckpt))
    with np.errstate(divide="ignore", invalid="ignore"):
        full = np.where(np.isfinite(r) & np.isfinite(dt), np.floor(r / dt), 0.0)
        rest = r - np.where(full > 0, full * dt, 0.0)
        residue = np.where(np.isfinite(dt), _EPS * dt, 0.0)
    return full, np.where(rest > residue, rest, 0.0)


def ettr_renewal(
    lam: npt.ArrayLike,
    ckpt: npt.ArrayLike,
    restart: npt.ArrayLike,
    write: npt.ArrayLike = 0.0,
    queue: npt.ArrayLike = 0.0,
    length: npt.ArrayLike = np.inf,
) -> Array:
    """Exact R / E[W] for Poisson failures (no linearization), at any λ.

    A run of finite ``length`` is floor(R/Δt) full segments and one shorter last one, each
    followed by a checkpoint write; the first start pays the queue but no restart.
    """
    lam, dt, w, q, r = np.broadcast_arrays(_f(lam), _f(ckpt), _f(write), _f(queue), _f(length))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        per_failure = np.exp(lam * _f(restart)) * (1 + lam * q)  # restart and requeue factor
        per_work = np.where(
            lam > 0, _expm1_over(lam, dt + w) / dt, 1 + _write_share(dt, w)
        )  # exposed time per unit of work, over many segments
        full, rest = split_length(r, dt)
        segments = np.where(full > 0, full * _expm1_over(lam, dt + w), 0.0) + np.where(
            rest > 0, _expm1_over(lam, rest + w), 0.0
        )
        finite = r / (q + per_failure * segments)
        return np.where(np.isinf(r), 1 / (per_failure * per_work), finite)


# --- scenarios and the solver -----------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """One training run (or an array of them): job size, failure rate and run parameters.

    ``rf`` is in failures per node-day; durations in seconds. ``ckpt=None`` checkpoints at the
    Young/Daly interval for the scenario's λ and w_cp.
    """

    gpus: npt.ArrayLike
    rf: npt.ArrayLike
    ckpt: npt.ArrayLike | None = 3600.0
    restart: npt.ArrayLike = 300.0
    write: npt.ArrayLike = 0.0
    queue: npt.ArrayLike = 0.0
    length: npt.ArrayLike = np.inf
    gpus_per_node: int = 8

    def rate(self) -> Array:
        """λ, failures per second."""
        return failure_rate(self.gpus, self.rf, self.gpus_per_node)

    def interval(self) -> Array:
        """Δt_cp in seconds: as given, or Young/Daly's."""
        return young_daly(self.rate(), self.write) if self.ckpt is None else _f(self.ckpt)


def expected(s: Scenario) -> dict[str, Array]:
    """Every closed form for ``s``, plus the linear term and its ``linear_breaks`` flag."""
    lam, dt = s.rate(), s.interval()
    return {
        "hpca": ettr_hpca(lam, dt, s.restart, s.write),
        "first_order": ettr_first_order(lam, dt, s.restart, s.queue),
        "finite": ettr_finite(lam, dt, s.restart, s.write, s.queue, s.length),
        "renewal": ettr_renewal(lam, dt, s.restart, s.write, s.queue, s.length),
        "linear_term": linear_term(lam, dt, s.restart, s.queue),
        "linear_breaks": linear_breaks(lam, dt, s.restart, s.queue).astype(np.float64),
    }


def ettr_of(s: Scenario) -> Array:
    """``ettr_finite`` of a scenario: the form ``solve`` inverts."""
    return ettr_finite(s.rate(), s.interval(), s.restart, s.write, s.queue, s.length)


def _spare(target: Array, s: Scenario) -> Array:
    """v = 1/E − q/R: the wallclock per unit of work a target leaves to running (NaN if <= 0)."""
    q, r = _f(s.queue), _f(s.length)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = 1 / target - np.where(np.isinf(r), 0.0, q / r)
    return np.where(v > 0, v, np.nan)


def _solve_closed(target: Array, s: Scenario, unknown: Unknown) -> Array:
    lam, u0, w = s.rate(), _f(s.restart), _f(s.write)
    v = _spare(target, s)
    k = (1 + lam * _f(s.queue)) / v  # (1 − λ(u0 + Δt/2)) / (1 + w/Δt) needed
    with np.errstate(divide="ignore", invalid="ignore"):
        if unknown == "ckpt":
            b = 1 - lam * u0 - k
            disc = b * b - 2 * lam * k * w
            root = (b + np.sqrt(np.maximum(disc, 0.0))) / lam
            value = np.where(lam > 0, root, np.inf)
            value = np.where((b > 0) & (disc >= 0), value, np.nan)
        elif unknown == "restart":
            dt = s.interval()
            room = 1 - k * (1 + _write_share(dt, w))
            value = np.where(lam > 0, room / lam - dt / 2, np.where(room >= 0, np.inf, np.nan))
        elif unknown == "write":
            dt = s.interval()
            value = dt * ((1 - linear_term(lam, dt, u0)) / k - 1)
        else:
            dt, q = s.interval(), _f(s.queue)
            c = 1 + _write_share(dt, w)
            lam_needed = (v - c) / (v * (u0 + dt / 2) + c * q)
            value = rf_per_node_day(lam_needed, s.gpus, s.gpus_per_node)
    return np.where(value >= 0, value, np.nan)


def _bracket_root(f: Callable[[float], float]) -> float:
    """The root of a decreasing ``f`` on [0, ∞), NaN when f(0) < 0 (target unreachable)."""
    from scipy.optimize import brentq  # only the solver needs scipy

    if f(0.0) < 0:
        return float("nan")
    hi = 1.0
    for _ in range(_MAX_EXPANSIONS):
        if f(hi) < 0:
            return float(brentq(f, 0.0, hi, xtol=1e-12, rtol=1e-10))
        hi *= _GROWTH
    return float("inf")


def _solve_numeric(target: Array, s: Scenario, unknown: Unknown) -> Array:
    """Element by element with brentq: the Young/Daly interval moves with w_cp and r_f."""
    gpus, rf, u0, w, q, r = np.broadcast_arrays(
        _f(s.gpus), _f(s.rf), _f(s.restart), _f(s.write), _f(s.queue), _f(s.length)
    )
    tgt = np.broadcast_to(target, gpus.shape)
    out = np.empty(gpus.shape)
    for i in np.ndindex(gpus.shape):
        one = Scenario(gpus[i], rf[i], None, u0[i], w[i], q[i], r[i], s.gpus_per_node)

        def gap(x: float, one: Scenario = one, t: float = float(tgt[i])) -> float:
            moved = replace(one, write=x) if unknown == "write" else replace(one, rf=x)
            return float(ettr_of(moved)) - t

        out[i] = _bracket_root(gap)
    return out


def solve(target: npt.ArrayLike, s: Scenario, unknown: Unknown) -> Array:
    """The largest value of ``unknown`` at which ``ettr_finite`` still reaches ``target``.

    ``unknown`` is "ckpt", "restart", "write" (seconds) or "rf" (failures per node-day); the
    scenario's own value of it is ignored. NaN where the target is out of reach even at 0;
    inf where any value reaches it. Closed-form inversions, except where the interval follows
    Young/Daly and so moves with the unknown (w_cp, r_f): brentq, element by element.
    """
    if unknown not in UNKNOWNS:
        raise ConfigError(f"cannot solve for {unknown!r}; choose one of {', '.join(UNKNOWNS)}")
    tgt = _f(target)
    if np.any((tgt <= 0) | (tgt >= 1)):
        raise ConfigError(f"target ETTR must be strictly between 0 and 1, got {tgt}")
    if s.ckpt is None and unknown == "ckpt":
        raise ConfigError("the interval follows Young/Daly here: give one to solve for it")
    if s.ckpt is None and unknown in ("write", "rf"):
        return _solve_numeric(tgt, s, unknown)
    return _solve_closed(tgt, s, unknown)
