"""``gpurel collect``: keep the warehouse current from a live cluster (safe to rerun)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from gpurel import taxonomy as taxonomy_data
from gpurel.cli.common import (
    EngineOption,
    TaxonomyOption,
    WarehouseOption,
    bad_option,
    checked_engine,
    checked_tz,
    console,
    err_console,
    fail,
    failure,
    open_warehouse,
    seconds,
)
from gpurel.collect.access import privacy_warning
from gpurel.collect.collector import ChunkDone, LogDone, Window, collect_logs, collect_slurm
from gpurel.collect.retry import Backoff, CommandFailed, GaveUp
from gpurel.collect.slurm import SlurmClient, local_cluster
from gpurel.errors import GpurelError
from gpurel.sources import kernel_xid
from gpurel.sources.base import ReadOptions
from gpurel.sources.event_rows import localize, zone
from gpurel.units import parse_duration
from gpurel.warehouse import Warehouse

UNREACHABLE_EXIT = 3  # Slurm gave no complete answer within the retry budget
LOGS_EXIT = 2  # Slurm collected, but some log could not be read

app = typer.Typer(help="Keep the warehouse current from a live cluster (safe to rerun).")

_AGO = re.compile(r"^\s*\d+(\.\d+)?\s*[smhdw]\s*$", re.IGNORECASE)


def _whole_seconds(text: str, option: str) -> int:
    whole = int(seconds(text, option))
    if whole < 1:
        raise bad_option(f"{option}: must be at least 1 s, got {text!r}")
    return whole


def _moment(text: str, tz: str | None, option: str) -> datetime:
    """``now``, a duration ago (``7d``), or an ISO date/time (naive = in ``tz``)."""
    now = datetime.now(UTC)
    if text.strip().lower() == "now":
        return now
    if _AGO.match(text):
        return now - timedelta(seconds=parse_duration(text))
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise bad_option(
            f"{option}: not 'now', a duration ago (7d) or an ISO date: {text!r}"
        ) from exc
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    try:
        return localize(value, zone(tz))
    except GpurelError as exc:
        raise bad_option(f"{option}: {exc}") from exc


def _print_chunk(done: ChunkDone) -> None:
    rows = ", ".join(f"{name} {count}" for name, count in done.rows.items() if count)
    what = f"stored {done.chunk.label}"
    if done.refill is not None:
        what = f"refilled {done.chunk.label} (it held {done.refill})"
    err_console.print(f"{what}: {rows or 'nothing'}", highlight=False, soft_wrap=True)


def _print_log(outcome: LogDone) -> None:
    if outcome.error:
        err_console.print(
            f"[bold red]error:[/] {escape(outcome.error)}", highlight=False, soft_wrap=True
        )
        return
    rows = ", ".join(f"{name} {count}" for name, count in outcome.rows.items() if count)
    err_console.print(
        f"read {escape(str(outcome.path))}: {rows or 'nothing new'}",
        highlight=False,
        soft_wrap=True,
    )


def _print_retry(error: CommandFailed, delay: float) -> None:
    err_console.print(
        f"[yellow]no complete answer[/] ({escape(str(error))}); retrying in {delay:g} s",
        highlight=False,
        soft_wrap=True,
    )


def _collect_slurm(
    store: Warehouse, client: SlurmClient, window: Window, options: ReadOptions
) -> list[ChunkDone]:
    """Warn if accounting is partly hidden, then collect; a clean exit 3 if Slurm gives no
    complete answer within the retry budget."""
    try:
        warning = privacy_warning(client.ask)
        if warning:
            err_console.print(
                f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True
            )
        return collect_slurm(store, client, window, options, on_chunk=_print_chunk)
    except GaveUp as exc:
        raise fail(
            f"no complete answer from Slurm, giving up: {exc}. Windows stored so far are "
            "kept; run again to resume.",
            code=UNREACHABLE_EXIT,
        ) from exc


@app.command("slurm")
def slurm(
    since: Annotated[
        str | None,
        typer.Option(
            help="Start: ISO date/time, or a duration ago (7d). Default: the stored resume "
            "point less --overlap (required on the first run)."
        ),
    ] = None,
    until: Annotated[str, typer.Option(help="End: ISO date/time, 'now' or a duration ago.")] = (
        "now"
    ),
    chunk: Annotated[str, typer.Option(help="Window per sacct query (1h, 30m, 1d).")] = "1h",
    overlap: Annotated[
        str, typer.Option(help="Re-read this much before the resume point (late records).")
    ] = "1h",
    cluster: Annotated[
        str | None,
        typer.Option(help="Slurm cluster to collect (default: ClusterName of scontrol)."),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option(
            help="Zone of --since/--until and of local times in the logs (default: this "
            "machine's). Slurm is always asked in UTC."
        ),
    ] = None,
    health_log: Annotated[
        list[Path] | None,
        typer.Option(help="Health-check log to follow (GCM JSON lines, NHC log); repeatable."),
    ] = None,
    kernel_log: Annotated[
        list[Path] | None,
        typer.Option(help="Kernel log to follow for NVIDIA XIDs; repeatable."),
    ] = None,
    retries: Annotated[
        int, typer.Option(min=0, help="Retries while slurmdbd is unreachable, then give up.")
    ] = 5,
    backoff: Annotated[
        str, typer.Option(help="First wait before retrying; doubled each time.")
    ] = "5s",
    sacct_timeout: Annotated[
        str,
        typer.Option(
            help="Stop a sacct, sacctmgr or scontrol call after this long (90s, 2m) and retry."
        ),
    ] = "120s",
    taxonomy: TaxonomyOption = None,
    warehouse: WarehouseOption = None,
    engine: EngineOption = None,
) -> None:
    """Collect accounting (sacct) and node events (sacctmgr) window by window, and new lines
    of health and kernel logs. Interrupt or rerun at any time: nothing is stored twice."""
    checked_engine(engine)
    window = Window(
        until=_moment(until, checked_tz(tz), "--until"),
        since=None if since is None else _moment(since, tz, "--since"),
        chunk_s=_whole_seconds(chunk, "--chunk"),
        overlap_s=_whole_seconds(overlap, "--overlap"),
    )
    policy = Backoff(retries=retries, first_s=seconds(backoff, "--backoff"))
    timeout_s = _whole_seconds(sacct_timeout, "--sacct-timeout")
    logs = [(p, "auto") for p in health_log or []]
    logs += [(p, kernel_xid.FORMAT) for p in kernel_log or []]
    try:
        name = cluster or local_cluster(timeout_s)
        options = ReadOptions(cluster=name, tz=tz, taxonomy=taxonomy_data.load(taxonomy))
    except GpurelError as exc:
        raise failure(exc) from exc
    client = SlurmClient(name, policy, on_retry=_print_retry, timeout_s=timeout_s)
    with open_warehouse(warehouse, engine, write=True) as store:
        outcomes = collect_logs(store, logs, options)
        for outcome in outcomes:
            _print_log(outcome)
        done = _collect_slurm(store, client, window, options)
    until_text = f"{window.until:%Y-%m-%d %H:%M:%S} UTC"
    windows = f"{len(done)} window{'' if len(done) == 1 else 's'}"
    console.print(f"cluster {escape(name)}: {windows} collected up to {until_text}")
    failed = sum(1 for outcome in outcomes if outcome.error)
    if failed:
        raise fail(f"{failed} of {len(logs)} logs could not be read", code=LOGS_EXIT)
