"""``gpurel simulate``: simulate a cluster calibrated to the paper, and compare what-ifs."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gpurel.absent import Absent
from gpurel.analysis.summary import analyze
from gpurel.cli.common import (
    EngineOption,
    JsonOption,
    QuietOption,
    WarehouseOption,
    bad_option,
    checked_engine,
    checked_tz,
    console,
    err_console,
    failure,
    open_warehouse,
    print_json,
)
from gpurel.errors import GpurelError
from gpurel.progress import Progress
from gpurel.sim.calibration import PAPER, headline
from gpurel.sim.config import SimConfig, parse_assignments, preset, with_overrides
from gpurel.sim.run import SimResult, horizon_days, simulate
from gpurel.sim.validation import Recovery, Row, validate
from gpurel.sim.whatif import Outcome, outcome, twin


def _config(name: str, days: float, scale: float, sets: list[str]) -> SimConfig:
    base = dataclasses.replace(preset(name), days=days, scale=scale)
    return with_overrides(base, parse_assignments(sets))


def _number(value: float | None) -> str:
    if value is None or value != value:
        return "–"
    return f"{value:,.4g}"


def _calibration(values: dict[str, float], cluster: str) -> Table:
    table = Table("figure", "paper", "simulated", title="Paper figures, measured by gpurel")
    for key, target in PAPER.items():
        paper = getattr(target, cluster, None)
        simulated = _number(values[key]) if key in values else "with --validate"
        table.add_row(target.label, _number(paper), simulated)
    return table


def _warmup(stats: dict[str, float]) -> str:
    days = stats["warmup_s"] / 86_400
    if stats["warmup_stationary"]:
        return f"{days:g} days of warm-up, until utilization and queues were stationary,"
    return f"{days:g} days of warm-up, stopped at warmup_max_days before they were stationary,"


def _verdict(row: Row) -> str:
    if row.passed is None:
        return row.note
    return "pass" if row.passed else "FAIL"


def _validation(rows: list[Row], cluster: str) -> Table:
    table = Table(
        "table",
        "figure",
        "tuned to it",
        "paper",
        "simulated",
        "tolerance",
        "pass",
        title=f"Paper figures ({cluster}): calibration (tuned) and validation (not tuned)",
    )
    for row in rows:
        value = None if isinstance(row.simulated, Absent) else row.simulated
        table.add_row(
            row.table,
            row.label,
            row.tuned or "–",
            _number(row.paper),
            _number(value),
            row.tolerance,
            _verdict(row),
        )
    return table


def _recovery(found: list[Recovery]) -> Table:
    table = Table(
        "window",
        "interrupted",
        "attributed",
        "truly check-caused",
        "precision",
        "recall",
        title="Attribution against the simulator's truth, per window",
    )
    for r in found:
        table.add_row(
            f"[end - {r.window.before_s} s, end + {r.window.after_s} s]",
            f"{r.interrupted:,}",
            f"{r.attributed:,}",
            f"{r.caused:,}",
            _number(r.precision),
            _number(r.recall),
        )
    return table


def _comparison(base: Outcome, variant: Outcome, change: str) -> Table:
    table = Table("figure", "base", change, "difference", title="What-if on the same seed")
    other = variant.rows()
    for name, value in base.rows().items():
        new = other[name]
        delta = None if value is None or new is None else new - value
        table.add_row(name, _number(value), _number(new), _number(delta))
    return table


def _write_files(result: SimResult, sacct: Path | None, gcm: Path | None, tz: str) -> None:
    if sacct is not None:
        result.write_sacct(sacct, tz)
        console.print(f"wrote {sacct} (sacct --parsable2, times in {tz})")
    if gcm is not None:
        result.write_gcm(gcm)
        console.print(f"wrote {gcm} (GCM health-check JSON lines)")


def simulate_command(
    preset_name: Annotated[str, typer.Option("--preset", help="rsc1 or rsc2.")] = "rsc1",
    days: Annotated[float, typer.Option(help="Simulated days (after a warm-up).")] = 90.0,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same tables.")] = 0,
    scale: Annotated[
        float, typer.Option(help="Cluster size and load relative to the preset.")
    ] = 1.0,
    sets: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="Override a parameter: KEY=VALUE (e.g. u0=2m, rate.ib_link=0.5)."
        ),
    ] = None,
    compare: Annotated[
        list[str] | None,
        typer.Option(help="Also simulate with these KEY=VALUE changes and compare (same seed)."),
    ] = None,
    sacct: Annotated[
        Path | None, typer.Option(help="Also write sacct --parsable2 text here.")
    ] = None,
    gcm: Annotated[Path | None, typer.Option(help="Also write GCM JSON lines here.")] = None,
    tz: Annotated[str, typer.Option(help="Time zone of the sacct text's local times.")] = "UTC",
    check: Annotated[
        bool,
        typer.Option(
            "--validate",
            help="Judge every paper figure (calibration and validation tables); also simulates "
            "the lemon-free twin on the same seed.",
        ),
    ] = False,
    as_json: JsonOption = False,
    warehouse: WarehouseOption = None,
    engine: EngineOption = None,
    quiet: QuietOption = False,
) -> None:
    """Simulate a GPU cluster calibrated to the paper into the warehouse (tables + truth_*)."""
    checked_tz(tz)
    checked_engine(engine)
    try:
        config = _config(preset_name, days, scale, sets or [])
    except GpurelError as exc:
        raise failure(exc) from exc
    try:
        variant = with_overrides(config, parse_assignments(compare)) if compare else None
    except GpurelError as exc:
        raise bad_option(f"--compare: {exc}") from exc
    rows: list[Row] = []
    found: list[Recovery] = []
    try:
        with (
            open_warehouse(warehouse, engine, write=True) as store,
            Progress(quiet=quiet, console=err_console) as progress,
        ):
            days_done = progress.task("simulating", horizon_days(config), unit="days")
            if check:
                checked = validate(config, seed, store, days_done)
                result, rows, found = checked.result, checked.rows, checked.recovery
                figures = headline(checked.analysis, store)
            else:
                result = simulate(config, seed, days_done=days_done)
                progress.step("storing the tables")
                result.store(store)
                figures = headline(analyze(store, step=progress.step), store)
            progress.step("writing the files")
            _write_files(result, sacct, gcm, tz)
            if variant is not None:
                progress.step("simulating the variant on the same seed")
                base, changed = outcome(result), outcome(twin(result, variant))
    except GpurelError as exc:
        raise failure(exc) from exc
    doc: dict[str, object] = {"config": dataclasses.asdict(config), "seed": seed}
    doc |= {"stats": result.stats, "headline": figures}
    if check:
        doc["validation"] = [row.to_json() for row in rows]
        doc["attribution_recovery"] = [r.to_json() for r in found]
    if variant is not None:
        doc["compare"] = {"base": base.rows(), "variant": changed.rows(), "set": compare}
    if as_json:
        print_json(doc, default=str)
        return
    stats = result.stats
    console.print(
        f"simulated {config.days:g} days of {config.cluster} ({config.effective_nodes:,} nodes): "
        f"{stats['attempts']:,.0f} job attempts simulated ({_warmup(stats)} "
        f"included), {stats['events']:,.0f} events in {stats['simulate_s']:.1f} s; "
        f"stored: the {stats['attempts_stored']:,.0f} attempts of the {config.days:g} days "
        "after the warm-up, with truth_* tables"
    )
    if check:
        console.print(_validation(rows, config.cluster))
        console.print(_recovery(found))
        judged = [r for r in rows if r.passed is not None]
        console.print(
            f"{sum(r.passed is True for r in judged)} of {len(judged)} judged figures pass; "
            f"{len(rows) - len(judged)} not judged"
        )
    else:
        console.print(_calibration(figures, config.cluster))
    if variant is not None:
        console.print(_comparison(base, changed, " ".join(compare or [])))
