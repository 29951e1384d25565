"""The built-in demo cluster: one week of a 40-node DGX cluster with known failures.

``sacct.txt`` (``sacct -a -D --parsable2`` with a header) and ``health.jsonl`` (Meta GCM
health-check records) describe the week of 2024-06-03 on cluster ``demo``, times in UTC;
README.md in this directory tells which job fails why and what the analysis must find.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from gpurel.ingest import FileOutcome, ingest
from gpurel.sources.base import ReadOptions
from gpurel.warehouse import Warehouse

CLUSTER = "demo"
DATA_FILES = ("sacct.txt", "health.jsonl")


def files() -> list[Path]:
    """The demo's input files, as shipped in the package."""
    package = resources.files(__name__)
    return [Path(str(package / name)) for name in DATA_FILES]


def run(warehouse_path: Path) -> list[FileOutcome]:
    """Ingest the demo into a fresh warehouse at ``warehouse_path`` (an old one is replaced)."""
    for stale in (warehouse_path, warehouse_path.with_name(warehouse_path.name + ".wal")):
        stale.unlink(missing_ok=True)
    warehouse = Warehouse.open(warehouse_path)
    try:
        return ingest(warehouse, files(), ReadOptions(cluster=CLUSTER, tz="UTC"))
    finally:
        warehouse.close()
