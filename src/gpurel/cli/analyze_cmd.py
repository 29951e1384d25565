"""``gpurel analyze``: attribute failures and print the cluster's reliability metrics."""

from __future__ import annotations

import json
from typing import Annotated, Any

import pyarrow as pa
import typer
from rich.table import Table

from gpurel.analysis.attribution import AttributionWindow
from gpurel.analysis.summary import Analysis, Settings, analyze, to_json
from gpurel.cli.common import (
    TaxonomyOption,
    WarehouseOption,
    console,
    open_warehouse,
    parse_int_list,
)
from gpurel.units import format_hours, parse_duration

DEFAULT_PROJECT = ",".join(map(str, Settings().projection_gpus))


def _cell(value: Any, kind: str = "") -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if kind == "%":
        return f"{100 * value:.1f}%"
    if kind == "h":
        return format_hours(value)
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(title: str, data: pa.Table | None, columns: list[tuple[str, str, str]]) -> Table:
    """A rich table of ``data``: columns are (key, header, kind)."""
    table = Table(title=title, title_justify="left", title_style="bold")
    for _, header, kind in columns:
        table.add_column(header, justify="left" if kind == "text" else "right")
    for row in data.to_pylist() if data is not None else []:
        table.add_row(*(_cell(row.get(key), kind) for key, _, kind in columns))
    return table


def _rate_columns() -> list[tuple[str, str, str]]:
    return [
        ("per_1000_node_days", "per 1000 node-days", ""),
        ("lo_per_1000_node_days", "95% lo", ""),
        ("hi_per_1000_node_days", "95% hi", ""),
    ]


def _render_jobs(result: Analysis) -> None:
    """The sections that need job accounting."""
    console.print(
        _table(
            "Job states (by count and by GPU time)",
            result.job_states,
            [
                ("state", "state", "text"),
                ("jobs", "jobs", ""),
                ("job_share", "share", "%"),
                ("gpu_hours", "GPU-hours", ""),
                ("gpu_hours_share", "GPU-time share", "%"),
            ],
        )
    )
    console.print(
        _table(
            "Job sizes (power-of-two GPU buckets)",
            result.job_sizes,
            [
                ("label", "GPUs ≤", "text"),
                ("jobs", "jobs", ""),
                ("job_share", "share", "%"),
                ("gpu_hours", "GPU-hours", ""),
                ("gpu_hours_share", "GPU-time share", "%"),
            ],
        )
    )
    console.print(
        _table(
            "Interrupted job attempts by attributed cause",
            result.failures_by_category,
            [
                ("category", "category", "text"),
                ("domain", "domain", "text"),
                ("failures", "attempts", ""),
                ("failures_share", "share", "%"),
                ("failed_gpu_hours", "GPU-hours lost", ""),
                *_rate_columns(),
            ],
        )
    )
    console.print(
        _table(
            "Attribution coverage by window (before, after job end; seconds)",
            result.attribution_windows,
            [
                ("before_s", "before", ""),
                ("after_s", "after", ""),
                ("interrupted", "interrupted", ""),
                ("attributed_share", "attributed", "%"),
                ("node_fail", "NODE_FAIL", ""),
                ("node_fail_attributed_share", "attributed", "%"),
            ],
        )
    )
    rf = result.node_failure_rate
    console.print(
        f"[bold]r_f[/] (jobs > {rf.min_gpus} GPUs): {rf.failures:,} failures in "
        f"{rf.node_days:,.1f} node-days = {_cell(rf.per_1000_node_days)} per 1000 node-days "
        f"(95%: {_cell(rf.lo_per_1000_node_days)} – {_cell(rf.hi_per_1000_node_days)})"
    )
    console.print(
        _table(
            "Measured MTTF by job size",
            result.mttf_by_size,
            [
                ("label", "GPUs ≤", "text"),
                ("jobs", "attempts", ""),
                ("runtime_hours", "runtime h", ""),
                ("failures", "failures", ""),
                ("mttf_hours", "MTTF", "h"),
                ("mttf_lo_hours", "95% lo", "h"),
                ("mttf_hi_hours", "95% hi", "h"),
            ],
        )
    )
    console.print(
        _table(
            "Projected MTTF at the measured r_f (nodes in series)",
            result.mttf_projection,
            [
                ("gpus", "GPUs", ""),
                ("nodes", "nodes", ""),
                ("mttf_hours", "MTTF", "h"),
                ("mttf_lo_hours", "95% lo", "h"),
                ("mttf_hi_hours", "95% hi", "h"),
            ],
        )
    )


def _per_node(top: pa.Table | None) -> pa.Table | None:
    """One row per node, its categories folded into one cell."""
    if top is None:
        return None
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in top.to_pylist():
        row = rows.setdefault(
            (r["cluster"], r["node"]),
            {"rank": r["rank"], "node": r["node"], "total": r["total"], "parts": []},
        )
        row["parts"].append(f"{r['category']} {r['episodes']}")
    return pa.Table.from_pylist(
        [{**r, "categories": ", ".join(r.pop("parts"))} for r in rows.values()]
    )


def render(result: Analysis) -> None:
    """Print every section of an analysis as terminal tables."""
    o = result.overview
    console.print(
        f"[bold]{o['job_attempts']:,}[/] job attempts ({o['job_ids']:,} job ids), "
        f"[bold]{o['gpu_hours']:,.0f}[/] GPU-hours, [bold]{o['node_events']:,}[/] node events "
        f"({o['failing_node_events']:,} failing), [bold]{o['rejected_rows']:,}[/] rejected rows"
    )
    if result.node_days is not None:
        nd = result.node_days
        console.print(
            f"period {nd.period.start:%Y-%m-%d %H:%M} – {nd.period.end:%Y-%m-%d %H:%M} UTC, "
            f"{nd.node_days:,.0f} node-days ({nd.method})"
        )
    if o["job_attempts"]:
        _render_jobs(result)
    else:
        console.print("no job accounting ingested: job metrics skipped")
    if result.episode_summary is not None:
        console.print(
            _table(
                "Node failure episodes (health checks, merged per node and check)",
                result.episode_summary,
                [("scope", "scope", "text"), ("episodes", "episodes", ""), *_rate_columns()],
            )
        )
        console.print(
            _table(
                "Episodes per category",
                result.episodes_by_category,
                [
                    ("category", "category", "text"),
                    ("domain", "domain", "text"),
                    ("episodes", "episodes", ""),
                    *_rate_columns(),
                ],
            )
        )
        console.print(
            _table(
                f"Top {result.settings.top_nodes} nodes by episodes",
                _per_node(result.top_nodes),
                [
                    ("rank", "#", ""),
                    ("node", "node", "text"),
                    ("total", "episodes", ""),
                    ("categories", "by category", "text"),
                ],
            )
        )
    if result.rejects.num_rows:
        console.print(
            _table(
                "Rejected input rows",
                result.rejects,
                [
                    ("source", "file", "text"),
                    ("field", "field", "text"),
                    ("reason", "reason", "text"),
                    ("rows", "rows", ""),
                ],
            )
        )


def analyze_command(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")] = False,
    cluster: Annotated[str | None, typer.Option(help="Only this cluster.")] = None,
    before: Annotated[str, typer.Option(help="Attribution window before the job end.")] = "10m",
    after: Annotated[str, typer.Option(help="Attribution window after the job end.")] = "5m",
    rf_min_gpus: Annotated[
        int, typer.Option(help="r_f counts jobs with more GPUs than this (paper: 128).")
    ] = 128,
    merge_gap: Annotated[
        str, typer.Option(help="Failing checks of one node closer than this are one episode.")
    ] = "1h",
    project: Annotated[
        str, typer.Option(help="Job sizes (GPUs) to project MTTF to, comma-separated.")
    ] = DEFAULT_PROJECT,
    top: Annotated[int, typer.Option(help="How many nodes to list by failure episodes.")] = 10,
    gpus_per_node: Annotated[int, typer.Option(help="GPUs per node.")] = 8,
    taxonomy: TaxonomyOption = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Attribute job failures to causes and measure the cluster (tables, or --json)."""
    settings = Settings(
        window=AttributionWindow(int(parse_duration(before)), int(parse_duration(after))),
        rf_min_gpus=rf_min_gpus,
        merge_gap_s=int(parse_duration(merge_gap)),
        top_nodes=top,
        cluster=cluster,
        gpus_per_node=gpus_per_node,
        projection_gpus=tuple(parse_int_list(project, "--project")),
        taxonomy_file=str(taxonomy) if taxonomy else None,
    )
    with open_warehouse(warehouse) as store:
        result = analyze(store, settings)
    if as_json:
        print(json.dumps(to_json(result), indent=2))
    else:
        render(result)
