"""Simulator speed and memory: 330 days of rsc1 (about 2.4M jobs on 2,000 nodes).

Runs, each in a child process so that peak memory is its own: a baseline of ``--baseline``
days (default 60) and the full ``--days`` (default 330) of the ``rsc1`` preset, both including
the warm-up and the building of the Arrow tables. Prints wall time, simulated job events per
second (submissions, attempt starts and attempt ends), all engine events per second, peak RSS,
and the ratio of time per simulated day to the baseline's (1.0 = linear growth). Usage:
    uv run python bench/sim.py [--days 330] [--baseline 30] [--preset rsc1] [--seed 0]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import time


def child(preset_name: str, days: float, seed: int) -> dict[str, float]:
    """Simulate in this process and report what it cost."""
    from gpurel.sim.config import preset
    from gpurel.sim.run import simulate

    config = dataclasses.replace(preset(preset_name), days=days)
    began = time.perf_counter()
    result = simulate(config, seed)
    wall = time.perf_counter() - began
    stats = result.stats
    job_events = stats["job_ids"] + 2 * stats["attempts"]
    return {
        "days": days,
        "simulated_days": days + stats["warmup_s"] / 86400,  # the measured warm-up too
        "wall_s": wall,
        "simulate_s": stats["simulate_s"],
        "output_s": stats["output_s"],
        "job_ids": stats["job_ids"],
        "attempts": stats["attempts"],
        "job_events_per_s": job_events / stats["simulate_s"],
        "events_per_s": stats["events"] / stats["simulate_s"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure(preset_name: str, days: float, seed: int) -> dict[str, float]:
    """Run ``child`` in a fresh interpreter."""
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            "--preset",
            preset_name,
            "--days",
            str(days),
            "--seed",
            str(seed),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=330.0)
    parser.add_argument("--baseline", type=float, default=60.0)
    parser.add_argument("--preset", default="rsc1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.preset, args.days, args.seed)))
        return
    base = measure(args.preset, args.baseline, args.seed)
    full = measure(args.preset, args.days, args.seed)
    per_day = full["wall_s"] / full["simulated_days"]
    base_per_day = base["wall_s"] / base["simulated_days"]
    print(
        f"{'run':>10} {'days':>6} {'job ids':>10} {'attempts':>10} {'wall s':>8} "
        f"{'sim s':>7} {'out s':>6} {'job ev/s':>10} {'ev/s':>10} {'RSS MB':>8} {'s/day ratio':>11}"
    )
    for name, r in (("baseline", base), ("full", full)):
        ratio = (r["wall_s"] / r["simulated_days"]) / base_per_day
        print(
            f"{name:>10} {r['days']:>6.0f} {r['job_ids']:>10,.0f} {r['attempts']:>10,.0f} "
            f"{r['wall_s']:>8.1f} {r['simulate_s']:>7.1f} {r['output_s']:>6.1f} "
            f"{r['job_events_per_s']:>10,.0f} {r['events_per_s']:>10,.0f} "
            f"{r['peak_rss_mb']:>8,.0f} {ratio:>11.2f}"
        )
    verdict = "met" if full["wall_s"] < 120 and full["peak_rss_mb"] < 4096 else "MISSED"
    print(
        f"target (< 120 s, < 4096 MB for {args.days:g} days): {verdict}; "
        f"{per_day:.3f} s per simulated day"
    )


if __name__ == "__main__":
    main()
