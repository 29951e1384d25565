"""``gpurel ettr``: expected ETTR of a training run, or what a target ETTR requires."""

from __future__ import annotations

from typing import Annotated, cast

import numpy as np
import typer
from rich.table import Table

from gpurel.cli.common import bad_option, console, failure, parse_int_list, seconds
from gpurel.cli.settings import Values, uses
from gpurel.errors import GpurelError
from gpurel.formatting import cell
from gpurel.models.ettr import UNKNOWNS, Scenario, Unknown, expected, solve
from gpurel.models.ettr_montecarlo import MonteCarloResult, QueueDist, simulate
from gpurel.models.failure_model import nodes_for
from gpurel.units import format_hours

OPTIMAL = "optimal"
MC_LENGTH = "7d"  # run length of the Monte Carlo when --length is not given


def _duration(seconds: float) -> str:
    """Seconds for people: ``21 s``, ``5.8 min``, then hours and days."""
    if not np.isfinite(seconds):
        return "∞" if seconds > 0 else "–"
    if seconds < 120:
        return f"{seconds:.3g} s"
    if seconds < 7200:
        return f"{seconds / 60:.3g} min"
    return format_hours(seconds / 3600)


def _scenario(
    gpus: str, rf: float, ckpt: str, queue: str, length: float, settings: Values
) -> Scenario:
    if rf < 0:
        raise bad_option("--rf must not be negative (failures per 1000 node-days)")
    return Scenario(
        gpus=np.asarray(parse_int_list(gpus, "--gpus")),
        rf=rf / 1000,
        ckpt=None if ckpt == OPTIMAL else seconds(ckpt, "--ckpt"),
        restart=settings["checkpointing.restart"],
        write=settings["checkpointing.write"],
        queue=seconds(queue, "--queue"),
        length=length,
        gpus_per_node=settings["rates.gpus_per_node"],
    )


def _per_size(values: np.ndarray, gpus: np.ndarray) -> list[float]:
    return [float(v) for v in np.broadcast_to(values, gpus.shape)]


def _print_expected(s: Scenario, mc: MonteCarloResult | None) -> None:
    """One column per job size, one row per quantity (narrow enough for a terminal)."""
    gpus = np.atleast_1d(np.asarray(s.gpus))
    forms = {k: _per_size(v, gpus) for k, v in expected(s).items()}
    length = float(np.asarray(s.length))
    title = "Expected ETTR" + ("" if np.isinf(length) else f", runs of {_duration(length)}")
    out = Table(title=title, title_justify="left", title_style="bold")
    out.add_column("GPUs", justify="left")
    for size in gpus:
        out.add_column(f"{size:,}", justify="right")
    out.add_row("nodes", *(f"{nodes_for(g, s.gpus_per_node):,.0f}" for g in gpus))
    out.add_row("MTTF", *(format_hours(1 / r / 3600) for r in _per_size(s.rate(), gpus)))
    out.add_row("Δt_cp", *(_duration(v) for v in _per_size(s.interval(), gpus)))
    for key, label in _FORMS.items():
        out.add_row(label, *(f"{v:.3f}" for v in forms[key]))
    if mc is not None:
        out.add_row(
            f"Monte Carlo ({mc.samples:,} runs)", *(f"{v:.3f}" for v in _per_size(mc.mean, gpus))
        )
        lo, hi = _per_size(mc.lo, gpus), _per_size(mc.hi, gpus)
        out.add_row(
            f"  {mc.conf:.0%} interval", *(f"{a:.3f}–{b:.3f}" for a, b in zip(lo, hi, strict=True))
        )
    console.print(out)
    if any(forms["linear_breaks"]):
        console.print("λ(q + u0 + Δt_cp/2) is large here: trust the exact form and Monte Carlo")
    if mc is not None and mc.truncated:
        console.print(f"{mc.truncated:,} simulated runs were stopped unfinished (max failures)")


_FORMS = {
    "hpca": "HPCA form",
    "first_order": "first order (q)",
    "finite": "finite length (q, R)",
    "renewal": "exact (Poisson)",
}
_LABELS = {
    "ckpt": "checkpoint interval",
    "restart": "restart overhead",
    "write": "checkpoint write",
    "rf": "r_f per 1000 node-days",
}


def _print_solved(target: float, s: Scenario, unknown: Unknown) -> None:
    gpus = np.atleast_1d(np.asarray(s.gpus))
    values = _per_size(solve(target, s, unknown), gpus)
    out = Table(title=f"ETTR {target:g} needs", title_justify="left", title_style="bold")
    out.add_column("GPUs", justify="right")
    out.add_column(f"largest {_LABELS[unknown]}", justify="right")
    for size, value in zip(gpus, values, strict=True):
        shown = cell(value * 1000) if unknown == "rf" else _duration(value)
        out.add_row(f"{size:,}", "out of reach" if np.isnan(value) else shown)
    console.print(out)


@uses("checkpointing.restart", "checkpointing.write", "rates.gpus_per_node")
def ettr(
    gpus: Annotated[str, typer.Option(help="Job sizes in GPUs, comma-separated.")],
    rf: Annotated[float, typer.Option(help="r_f, failures per 1000 node-days.")],
    ckpt: Annotated[
        str, typer.Option(help="Checkpoint interval Δt_cp, or 'optimal' for Young/Daly.")
    ] = "60m",
    queue: Annotated[str, typer.Option(help="Queue time q per (re)submission.")] = "0",
    length: Annotated[
        str | None,
        typer.Option(
            help=f"Productive work R of the run (default: long run; {MC_LENGTH} with --mc)."
        ),
    ] = None,
    mc: Annotated[bool, typer.Option("--mc", help="Also estimate by Monte Carlo.")] = False,
    runs: Annotated[int, typer.Option(help="Monte Carlo runs per job size.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Monte Carlo seed.")] = 0,
    weibull: Annotated[
        float | None, typer.Option(help="Weibull shape of inter-failure times (MC only).")
    ] = None,
    queue_dist: Annotated[
        str, typer.Option(help="Queue time per submission: fixed or exponential (MC only).")
    ] = "fixed",
    target: Annotated[
        float | None, typer.Option(help="Target ETTR: solve for --solve instead.")
    ] = None,
    solve_for: Annotated[
        str, typer.Option("--solve", help="With --target: ckpt, restart, write or rf.")
    ] = "ckpt",
    *,
    settings: Values,
) -> None:
    """Expected ETTR at N GPUs (closed forms, Monte Carlo), or what reaching --target needs."""
    if queue_dist not in ("fixed", "exponential"):
        raise bad_option(f"--queue-dist: fixed or exponential, not {queue_dist!r}")
    if solve_for not in UNKNOWNS:
        raise bad_option(f"--solve: one of {', '.join(UNKNOWNS)}, not {solve_for!r}")
    run_length = seconds(length or MC_LENGTH, "--length") if (length or mc) else np.inf
    s = _scenario(gpus, rf, ckpt, queue, run_length, settings)
    try:
        if target is not None:
            _print_solved(target, s, cast(Unknown, solve_for))
            return
        dist = cast(QueueDist, queue_dist)
        _print_expected(s, simulate(s, runs, seed, weibull, dist) if mc else None)
    except GpurelError as exc:
        raise failure(exc) from exc
