"""The Prometheus text exposition of a ``Snapshot``: to a string, or atomically to a file
that node_exporter's textfile collector reads (written beside it, then renamed over it)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from prometheus_client.core import Metric
from prometheus_client.exposition import generate_latest, write_to_textfile
from prometheus_client.registry import Collector

from gpurel.errors import GpurelError
from gpurel.exporter.families import families, registry_of
from gpurel.exporter.figures import Snapshot


class _Fixed(Collector):
    """The families of one snapshot, as of one moment."""

    def __init__(self, snapshot: Snapshot, now: datetime) -> None:
        self._families = families(snapshot, now)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def exposition(snapshot: Snapshot, now: datetime) -> str:
    """The snapshot in the Prometheus text format (version 0.0.4)."""
    return generate_latest(registry_of(_Fixed(snapshot, now))).decode()


def write_textfile(path: Path, snapshot: Snapshot, now: datetime) -> None:
    """Write the exposition to ``path`` atomically: a reader sees the old file or the new one."""
    if not path.parent.is_dir():
        raise GpurelError(f"{path}: no directory {path.parent} to write the metrics file in")
    try:
        write_to_textfile(str(path), registry_of(_Fixed(snapshot, now)))
    except OSError as exc:
        raise GpurelError(f"{path}: cannot write the metrics file: {exc.strerror or exc}") from exc
