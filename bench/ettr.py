"""ETTR models: Monte Carlo speed and a 200 x 200 design-space grid, against baselines.

Measured in one process, on the same machine and run:

1. Monte Carlo samples (simulated runs) per second for the paper's 8,000-GPU case (r_f 6.5,
   30-min checkpoints, 5-min restart, 1-min queue, 7-day runs), vectorized, against a plain
   Python loop simulating the same process run by run (baseline);
2. the time for a grid of r_f x Δt_cp (default 200 x 200, 16,384 GPUs, 7-day runs) with a
   confidence interval at every point, against the closed forms on the same grid (baseline),
   with the largest gap between Monte Carlo and the exact form and how often the exact form
   falls inside the 95% interval.

Usage:
    uv run python bench/ettr.py [--grid 200] [--runs-per-point 100] [--samples 200000]
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from gpurel.models.ettr import Scenario, expected
from gpurel.models.ettr_montecarlo import simulate

MIN = 60.0
DAY = 86_400.0
PAPER_8K = Scenario(8_000, 6.5e-3, 30 * MIN, 5 * MIN, queue=1 * MIN, length=7 * DAY)


def timed(f: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = f()
    return out, time.perf_counter() - start


def python_run(rng: random.Random, lam: float, dt: float, u0: float, q: float, r: float) -> float:
    """ETTR of one run simulated event by event (no writes): the baseline."""
    done, wall, restarting = 0.0, q, False
    while True:
        need = (u0 if restarting else 0.0) + (r - done)
        x = rng.expovariate(lam)
        if x >= need:
            return r / (wall + need)
        worked = x - (u0 if restarting else 0.0)
        done += math.floor(max(worked, 0.0) / dt) * dt
        wall += x + q
        restarting = True


def bench_samples(samples: int, baseline_samples: int, seed: int) -> None:
    s = PAPER_8K
    lam, dt = float(s.rate()), float(s.interval())
    rng = random.Random(seed)
    args = (lam, dt, float(s.restart), float(s.queue), float(s.length))
    loop, t_loop = timed(lambda: [python_run(rng, *args) for _ in range(baseline_samples)])
    mc, t_mc = timed(lambda: simulate(s, runs=samples, rng=seed))
    loop_rate, mc_rate = baseline_samples / t_loop, samples / t_mc
    print("Monte Carlo, 8,000 GPUs, r_f 6.5, Δt_cp 30 min, u0 5 min, q 1 min, 7-day runs")
    print(
        f"  python loop  {baseline_samples:>9,} runs  {t_loop:7.2f} s  {loop_rate:>11,.0f} runs/s"
    )
    print(f"  vectorized   {samples:>9,} runs  {t_mc:7.2f} s  {mc_rate:>11,.0f} runs/s")
    print(f"  speed-up     {mc_rate / loop_rate:.0f}x")
    failures = float(mc.failures) * samples / t_mc
    print(f"  ({float(mc.failures):.1f} failures per run: {failures:,.0f} simulated failures/s)")
    print(
        f"  ETTR: vectorized {float(mc.mean):.4f} ({float(mc.lo):.4f}–{float(mc.hi):.4f}), "
        f"loop {np.mean(loop):.4f}, exact {float(expected(s)['renewal']):.4f}"
    )


def bench_grid(n: int, runs: int, seed: int) -> None:
    rf = np.linspace(0.5e-3, 10e-3, n)[:, None]
    ckpt = np.linspace(1, 120, n)[None, :] * MIN
    s = Scenario(16_384, rf, ckpt, 5 * MIN, length=7 * DAY)
    forms, t_closed = timed(lambda: expected(s))
    mc, t_mc = timed(lambda: simulate(s, runs=runs, rng=seed))
    exact = forms["renewal"]
    inside = float(np.mean((mc.lo <= exact) & (exact <= mc.hi)))
    half = float(np.max(mc.hi - mc.lo)) / 2
    print(
        f"\nDesign grid {n} x {n}: r_f 0.5–10 per 1000 node-days x Δt_cp 1–120 min, "
        "16,384 GPUs, 7-day runs"
    )
    print(f"  closed forms (4 forms, baseline)   {t_closed * 1000:9.1f} ms")
    print(f"  Monte Carlo, {runs} runs per point   {t_mc:9.2f} s  ({n * n * runs:,} runs)")
    print(f"  ratio Monte Carlo / closed forms   {t_mc / t_closed:9.0f}x")
    print(f"  mean failures per run              {float(np.mean(mc.failures)):9.1f}")
    print(f"  largest 95% half-width             {half:9.4f}")
    print(f"  largest |MC − exact|               {float(np.max(np.abs(mc.mean - exact))):9.4f}")
    print(f"  exact form inside the 95% CI       {inside:9.1%} of points")
    print(f"  linear forms flagged unreliable    {float(np.mean(forms['linear_breaks'])):9.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, default=200)
    parser.add_argument("--runs-per-point", type=int, default=100)
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--baseline-samples", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    bench_samples(args.samples, args.baseline_samples, args.seed)
    bench_grid(args.grid, args.runs_per_point, args.seed)


if __name__ == "__main__":
    main()
