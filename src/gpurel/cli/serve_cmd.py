"""``gpurel serve``: the current figures on an HTTP /metrics endpoint for Prometheus."""

from __future__ import annotations

from typing import Annotated

import typer

from gpurel.cli.common import (
    EngineOption,
    TaxonomyOption,
    WarehouseOption,
    bad_option,
    err_console,
    open_warehouse,
    seconds,
)
from gpurel.cli.settings import ANALYSIS, Values, analysis_settings, uses


@uses(*ANALYSIS)
def serve_command(
    port: Annotated[int, typer.Option(help="TCP port to listen on (0: any free port).")] = 9862,
    address: Annotated[
        str, typer.Option(help="Address to listen on (0.0.0.0 or :: for every interface).")
    ] = "127.0.0.1",
    interval: Annotated[
        str, typer.Option(help="Recompute the figures at most this often (e.g. 60s, 5m).")
    ] = "5m",
    taxonomy: TaxonomyOption = None,
    warehouse: WarehouseOption = None,
    engine: EngineOption = None,
    *,
    settings: Values,
) -> None:
    """Serve the current figures on /metrics for Prometheus, recomputed at most every
    --interval.

    The same metrics as gpurel metrics. The warehouse is opened read-only for each
    recomputation and closed after it, so collection and ingest go on while gpurel serves.
    """
    from prometheus_client.exposition import start_http_server

    from gpurel.exporter.families import FiguresCollector, registry_of
    from gpurel.exporter.figures import Snapshot, measure

    if not 0 <= port <= 65535:
        raise bad_option(f"--port: {port} is not a TCP port (0-65535)")
    every = seconds(interval, "--interval")
    chosen = analysis_settings(settings, None, taxonomy)

    def recompute() -> Snapshot:
        with open_warehouse(warehouse, engine, write=False) as store:
            return measure(store, chosen)

    first = recompute()  # a warehouse that cannot be read stops gpurel serve before it listens
    collector = FiguresCollector(recompute, every, failed=(typer.Exit,), initial=first)
    try:
        server, thread = start_http_server(port, address, registry_of(collector))
    except OSError as exc:
        raise bad_option(f"cannot listen on {address} port {port}: {exc.strerror or exc}") from exc
    bound = server.server_address
    err_console.print(f"serving http://{address}:{bound[1]}/metrics", highlight=False)
    try:
        thread.join()
    except KeyboardInterrupt:
        server.shutdown()
