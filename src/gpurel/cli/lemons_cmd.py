"""``gpurel lemons``: rank nodes by lemon signals, flag lemons with evidence, print what to do.

The exclude hostlist and drain commands are printed for an operator to review, quoted for a
POSIX shell. Flagged names that no Slurm node can have are left out of both and listed in a
comment. ``--drain`` prints the drains of the flagged nodes; with ``--apply`` gpurel runs them
on the local Slurm cluster under a cap, and ``--undrain-after`` resumes the nodes it drained
once they are clean (``gpurel.slurm_drain``), recording both in the warehouse.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path
from typing import Annotated, Any

import pyarrow.compute as pc
import typer
from rich.table import Table
from rich.text import Text

from gpurel import hostlist, slurm_drain
from gpurel.analysis import lemons
from gpurel.cli.common import (
    ClusterOption,
    EngineOption,
    JsonOption,
    TaxonomyOption,
    WarehouseOption,
    bad_option,
    console,
    err_console,
    fail,
    failure,
    open_warehouse,
    print_json,
    seconds,
)
from gpurel.cli.render import column_style
from gpurel.cli.settings import ATTRIBUTION, Values, analysis_settings, group, uses
from gpurel.errors import GpurelError
from gpurel.formatting import cell
from gpurel.sources import tickets as ticket_source
from gpurel.warehouse import Warehouse

EVIDENCE_PER_NODE = 12  # evidence rows shown per node in the terminal (all in --json)


def _tickets(path: Path | None) -> ticket_source.TicketRead | None:
    return None if path is None else ticket_source.read(path)


def _titled(title: str, headers: list[str], text_columns: int = 2) -> Table:
    out = Table(title=title, title_justify="left", title_style="bold")
    for i, header in enumerate(headers):
        out.add_column(header, **column_style(i >= text_columns))
    return out


def _header(found: lemons.Lemons) -> None:
    p, available = found.period, found.available
    days = (p.end - p.start).total_seconds() / 86_400
    console.print(
        f"[bold]Lemon nodes[/]: window {p.start:%Y-%m-%d %H:%M} – {p.end:%Y-%m-%d %H:%M} UTC "
        f"({days:g} days), {found.nodes.num_rows:,} nodes rated, "
        f"[bold]{found.flagged.num_rows:,} flagged[/]"
    )
    absent = [f"{n} ({why})" for n, why in available.items() if why is not None]
    if absent:
        console.print(Text(f"absent signals: {'; '.join(absent)}"))
    for warning in found.warnings:
        console.print(Text(f"warning: {warning}", style="yellow"))


def _thresholds(found: lemons.Lemons) -> Table:
    rule = found.settings.rule
    how = f"z {rule.z:g}" if rule.method == "robust_z" else f"percentile {rule.percentile:g}"
    out = _titled(
        f"Signal thresholds per cluster ({rule.method}, {how}; never below the floor)",
        ["cluster", "signal", "counts", "available", "threshold", "floor", "nodes at or above"],
        text_columns=4,
    )
    for r in found.thresholds.to_pylist():
        out.add_row(
            Text(cell(r["cluster"], "text")),
            r["signal"],
            r["meaning"],
            "yes" if r["available"] else "no",
            cell(r["threshold"]),
            cell(r["floor"]),
            cell(r["firing"], "int"),
        )
    return out


def _available(found: lemons.Lemons) -> list[str]:
    return [n for n, why in found.available.items() if why is None]


def _ranking(found: lemons.Lemons, top: int) -> Table:
    """The ``top`` ranked nodes and every flagged one (unranked nodes left out)."""
    names = _available(found)
    rule = found.settings.rule
    out = _titled(
        f"Nodes by lemon score (flagged: at least {rule.min_signals} signal(s) at their "
        "cluster's threshold)",
        ["#", "cluster", "node", "score", *names, "flagged"],
        text_columns=3,
    )
    for r in found.nodes.to_pylist():
        if r["rank"] is None or (r["rank"] > top and not r["flagged"]):
            continue
        out.add_row(
            cell(r["rank"]),
            Text(cell(r["cluster"], "text")),
            Text(cell(r["node"], "text")),
            cell(r["score"]),
            *(cell(r[n]) for n in names),
            "yes" if r["flagged"] else "",
        )
    return out


def _evidence(found: lemons.Lemons) -> Table:
    out = _titled(
        "Evidence of the flagged nodes (earliest first)",
        ["node", "signal", "when", "what"],
        text_columns=4,
    )
    by_node = groupby(lemons.evidence_rows(found), key=lambda r: (r["cluster"], r["node"]))
    for (_, node), of_node in by_node:
        rows = list(of_node)
        for r in rows[:EVIDENCE_PER_NODE]:
            what = Text(cell(r["what"], "text"))
            out.add_row(Text(cell(node, "text")), r["signal"], cell(r["time"], "time"), what)
        if len(rows) > EVIDENCE_PER_NODE:
            more = f"… {len(rows) - EVIDENCE_PER_NODE} more (--json lists all)"
            out.add_row(Text(cell(node, "text")), "", "", more)
    return out


def _one_line(text: str) -> str:
    """``text`` as is if printable, else its escaped repr: a comment stays one line."""
    return text if text.isprintable() else repr(text)


def _actions(found: lemons.Lemons) -> None:
    """The exclude hostlists and drain commands, one cluster at a time (never run)."""
    for cluster, lists in lemons.slurm_lists(found).items():
        if lists.exclude_option is not None:
            print(f"# cluster {_one_line(cluster)}: exclude from jobs with")
            print(lists.exclude_option)
            print("# or drain them (review first; gpurel never runs these):")
            for command in lists.drain:
                print(command)
        for name, why in lists.not_slurm_names.items():
            print(
                f"# cluster {_one_line(cluster)}: left out, no Slurm node can be called "
                f"{name!r} ({why})"
            )


def _backtest(b: lemons.Backtest) -> None:
    console.print(
        f"[bold]Backtest[/]: after {b.after.start:%Y-%m-%d %H:%M} until "
        f"{b.after.end:%Y-%m-%d %H:%M} UTC"
    )
    out = _titled(
        "Flagged and other nodes after as-of (rates per 1000 node-days)",
        ["group", "nodes", "node-days", "outages", "rate", "node failures", "rate"],
    )
    for r in b.rates.to_pylist():
        out.add_row(
            r["group"],
            cell(r["nodes"]),
            cell(r["node_days"]),
            cell(r["outages"]),
            cell(r["outages_per_1000_node_days"]),
            cell(r["node_failures"]),
            cell(r["node_failures_per_1000_node_days"]),
        )
    console.print(out)
    big = b.large_jobs
    console.print(
        f"jobs of {big['min_gpus']:,}+ GPUs: {big['failures']:,} infrastructure failures in "
        f"{big['attempts']:,} attempts ({cell(big['failure_share'], '%')}); "
        f"{big['failures_on_flagged']:,} on flagged nodes, without them "
        f"{cell(big['failure_share_without_flagged'], '%')}; attempts that touched no flagged "
        f"node failed {cell(big['untouched_failure_share'], '%')} of the time"
    )
    for label, pr in (("known lemons", b.truth), ("confirmed repairs after as-of", b.tickets)):
        if pr is not None:
            console.print(
                f"against {label}: precision {cell(pr['precision'], '%')}, recall "
                f"{cell(pr['recall'], '%')} ({pr['true_positives']} of {pr['flagged']} flagged, "
                f"{pr['actual']} actual)"
            )


@uses(*ATTRIBUTION, *group("lemons"))
def lemons_command(
    tickets: Annotated[
        Path | None,
        typer.Option(help="Repair-ticket CSV (node, opened, closed, outcome).", exists=True),
    ] = None,
    top: Annotated[int, typer.Option(help="Nodes listed besides the flagged ones.")] = 20,
    backtest: Annotated[
        bool, typer.Option(help="Measure what happened after --as-of on flagged vs other nodes.")
    ] = False,
    horizon: Annotated[
        str | None, typer.Option(help="Backtest this long after --as-of (default: to data end).")
    ] = None,
    large_gpus: Annotated[
        int, typer.Option(help="Backtest: large jobs have this many GPUs.")
    ] = 512,
    exclude_list: Annotated[
        bool,
        typer.Option("--exclude-list", help="Print only the exclude hostlist and drain commands."),
    ] = False,
    drain: Annotated[
        bool,
        typer.Option(
            "--drain", help="Drain the flagged nodes in Slurm: print the commands (see --apply)."
        ),
    ] = False,
    apply: Annotated[
        bool,
        typer.Option(
            "--apply",
            help="Run the drains of --drain and the resumes of --undrain-after on the local "
            "Slurm cluster, and record them in the warehouse.",
        ),
    ] = False,
    max_drain: Annotated[
        int | None,
        typer.Option(
            "--max-drain",
            min=1,
            help="At most this many nodes drained by gpurel at one time (default: 2% of the "
            "cluster's nodes, at least 1).",
        ),
    ] = None,
    undrain_after: Annotated[
        str | None,
        typer.Option(
            "--undrain-after",
            help="Resume the nodes gpurel drained once clean (not flagged, no failing record) "
            "for this long.",
        ),
    ] = None,
    cluster: ClusterOption = None,
    as_json: JsonOption = False,
    taxonomy: TaxonomyOption = None,
    warehouse: WarehouseOption = None,
    engine: EngineOption = None,
    *,
    settings: Values,
) -> None:
    """Find lemon nodes: signals over a window, thresholds, ranking and evidence (PAPER.md §6)."""
    from gpurel.analysis.summary import known_lemons, lemon_inputs, lemons_json

    chosen = analysis_settings(settings, cluster, taxonomy)
    horizon_s = None if horizon is None else int(seconds(horizon, "--horizon"))
    clean_s = None if undrain_after is None else seconds(undrain_after, "--undrain-after")
    if apply and not drain and clean_s is None:
        raise bad_option("--apply: give --drain or --undrain-after, or both")
    target = None if not apply and clean_s is None else _slurm_cluster(cluster)
    try:
        read = _tickets(tickets)
    except GpurelError as exc:
        raise failure(exc) from exc
    with open_warehouse(warehouse, engine, write=apply) as store:
        inputs = lemon_inputs(store, chosen, None if read is None else read.tickets)
        found = lemons.find_lemons(inputs, chosen.lemon)
        tested = None
        if backtest:
            tested = lemons.backtest(inputs, found, horizon_s, large_gpus, known_lemons(store))
        acted = None
        if target is not None:
            acted = _through_slurm(store, found, target, drain, apply, max_drain, clean_s)
    if read is not None and read.rejects.num_rows:
        err_console.print(f"{read.rejects.num_rows:,} ticket rows could not be read")
    say = err_console.print if as_json else console.print
    failed = 0 if acted is None else _say_plan(say, *acted)
    if as_json:
        print_json(lemons_json(found, tested))
    if failed:
        raise fail(f"{failed} Slurm command(s) failed")
    if as_json or acted is not None:
        return
    if drain:
        _print_drains(found)
    elif exclude_list:
        for warning in found.warnings:
            err_console.print(Text(f"warning: {warning}"))
        _actions(found)
    else:
        _render(found, tested, top)


def _print_drains(found: lemons.Lemons) -> None:
    """The drain command of each flagged node, quoted for a POSIX shell (not run)."""
    for cluster, rows in groupby(found.flagged.to_pylist(), key=lambda r: r["cluster"]):
        print(f"# cluster {_one_line(cluster)}: drain with (review first, or use --apply)")
        for row in rows:
            problem = hostlist.slurm_name_problem(row["node"])
            if problem is None:
                argv = slurm_drain.drain_argv(row["node"], slurm_drain.reason_for(row))
                print(shlex.join(argv))
            else:
                print(f"# left out, no Slurm node can be called {row['node']!r} ({problem})")


def _slurm_cluster(cluster: str | None) -> str:
    """The local Slurm cluster's name, which drains act on; a clean exit if ``--cluster``
    names another one."""
    from gpurel.collect.slurm import local_cluster

    try:
        target = local_cluster()
    except GpurelError as exc:
        raise failure(exc) from exc
    if cluster is not None and cluster != target:
        raise bad_option(f"--cluster {cluster}: drains act on the local Slurm cluster, {target}")
    return target


def _through_slurm(
    store: Warehouse,
    found: lemons.Lemons,
    target: str,
    drain: bool,
    apply: bool,
    max_drain: int | None,
    clean_s: float | None,
) -> tuple[slurm_drain.Plan, slurm_drain.Outcome | None, list[dict[str, Any]]]:
    """Plan the drains and resumes on Slurm cluster ``target`` (the local one) and run them if
    ``apply``: the plan, what was done (None when not applied) and the flagged nodes of other
    clusters."""
    now = datetime.now(UTC)
    try:
        live = slurm_drain.node_states()
    except GpurelError as exc:
        raise failure(exc) from exc
    cap = max_drain or slurm_drain.default_cap(len(live))
    opened = slurm_drain.open_drains(store, target)
    clean = None if clean_s is None else slurm_drain.clean_nodes(store, opened, clean_s, now)
    flagged = found.flagged.to_pylist()
    todo = slurm_drain.plan(target, flagged, live, opened, cap=cap, drain=drain, clean=clean)
    done = slurm_drain.apply(store, todo, slurm_drain.new_run_id(now), now) if apply else None
    elsewhere = [r for r in flagged if r["cluster"] != target] if drain else []
    return todo, done, elsewhere


DONE = {"drain": "drained", "resume": "resumed"}


def _did(action: str, node: str, done: slurm_drain.Outcome | None) -> str:
    """``would drain N``, ``drained N`` or ``failed to drain N: why``."""
    if done is None:
        return f"would {action} {node}"
    if node in done.failed:
        return f"failed to {action} {node}: {done.failed[node]}"
    return f"{DONE[action]} {node}"


def _say_plan(
    say: Callable[..., None],
    todo: slurm_drain.Plan,
    done: slurm_drain.Outcome | None,
    elsewhere: list[dict[str, Any]],
) -> int:
    """One line per node: drained, resumed, failed, held back by the cap, or left alone; the
    number of commands that failed."""
    where = f"Slurm cluster {todo.cluster}"
    for row in todo.resume:
        by = f"drained by gpurel run {row['run_id']}"
        say(Text(f"{where}: {_did('resume', row['node'], done)} ({by})"))
    for node, reason in todo.drain:
        say(Text(f"{where}: {_did('drain', node, done)} ({reason})"))
    if todo.held:
        say(Text(f"{where}: held back by --max-drain {todo.cap}: {', '.join(todo.held)}"))
    for row, how in todo.close:
        say(Text(f"{where}: {row['node']}, drained by gpurel run {row['run_id']}, {how}"))
    for node, why in todo.left.items():
        say(Text(f"{where}: left {node} alone: {why}"))
    for row in elsewhere:
        say(Text(f"cluster {row['cluster']}: left {row['node']} alone: not the local cluster"))
    return 0 if done is None else len(done.failed)


def _render(
    found: lemons.Lemons,
    tested: lemons.Backtest | None,
    top: int,
) -> None:
    _header(found)
    console.print(_thresholds(found))
    unranked = found.nodes.num_rows - pc.count(found.nodes["rank"]).as_py()
    if unranked < found.nodes.num_rows:
        console.print(_ranking(found, top))
    if unranked:
        console.print(f"{unranked:,} nodes not ranked: no signal in their cluster")
    if found.flagged.num_rows:
        console.print(_evidence(found))
        _actions(found)
    if tested is not None:
        _backtest(tested)
