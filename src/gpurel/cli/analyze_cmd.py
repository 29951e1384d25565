"""``gpurel analyze``: attribute failures and print the cluster's reliability metrics."""

from __future__ import annotations

from gpurel.cli.common import (
    ClusterOption,
    EngineOption,
    JsonOption,
    QuietOption,
    TaxonomyOption,
    WarehouseOption,
    err_console,
    open_warehouse,
    print_json,
)
from gpurel.cli.settings import ANALYSIS, Values, analysis_settings, uses
from gpurel.progress import Progress


@uses(*ANALYSIS)
def analyze_command(
    as_json: JsonOption = False,
    cluster: ClusterOption = None,
    taxonomy: TaxonomyOption = None,
    warehouse: WarehouseOption = None,
    engine: EngineOption = None,
    quiet: QuietOption = False,
    *,
    settings: Values,
) -> None:
    """Attribute job failures to causes and measure the cluster (tables, or --json)."""
    from gpurel.analysis.summary import analyze, to_json
    from gpurel.cli.render import render

    chosen = analysis_settings(settings, cluster, taxonomy)
    with (
        open_warehouse(warehouse, engine, write=False) as store,
        Progress(quiet=quiet, console=err_console) as progress,
    ):
        result = analyze(store, chosen, progress.step)
    if as_json:
        print_json(to_json(result))
    else:
        render(result)
