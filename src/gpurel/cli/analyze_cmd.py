"""``gpurel analyze``: attribute failures and print the cluster's reliability metrics."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from gpurel.analysis.attribution import AttributionWindow
from gpurel.analysis.summary import Settings, analyze, to_json
from gpurel.cli.common import (
    AfterOption,
    BeforeOption,
    ClusterOption,
    EngineOption,
    GpusPerNodeOption,
    JsonOption,
    RfMinGpusOption,
    TaxonomyOption,
    WarehouseOption,
    open_warehouse,
    parse_int_list,
)
from gpurel.cli.render import render
from gpurel.units import parse_duration

DEFAULT_PROJECT = ",".join(map(str, Settings().projection_gpus))


def analyze_command(
    as_json: JsonOption = False,
    cluster: ClusterOption = None,
    before: BeforeOption = "10m",
    after: AfterOption = "5m",
    rf_min_gpus: RfMinGpusOption = 128,
    merge_gap: Annotated[
        str, typer.Option(help="Failing checks of one node closer than this are one episode.")
    ] = "1h",
    project: Annotated[
        str, typer.Option(help="Job sizes (GPUs) to project MTTF to, comma-separated.")
    ] = DEFAULT_PROJECT,
    top: Annotated[int, typer.Option(help="How many nodes to list by failure episodes.")] = 10,
    gpus_per_node: GpusPerNodeOption = 8,
    taxonomy: TaxonomyOption = None,
    warehouse: WarehouseOption = None,
    engine: EngineOption = None,
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
    with open_warehouse(warehouse, engine) as store:
        result = analyze(store, settings)
    if as_json:
        print(json.dumps(to_json(result), indent=2))
    else:
        render(result)
