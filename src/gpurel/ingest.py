"""Ingest: detect each file's format, read it, and upsert its tables and rejects.

A file that cannot be read at all (missing, binary, truncated, unknown format) is reported and
skipped; the other files of the batch go on. Large files of a reader that streams are stored
in parts of about BATCH_ROWS rows while the next part is read: memory stays bounded, and a
file that breaks part way keeps the parts stored before (rerunning it is safe: upserts).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from gpurel.errors import GpurelError, InputError
from gpurel.sources.base import Reader, ReadOptions, ReadResult, combined
from gpurel.warehouse import Warehouse

SNIFF_BYTES = 65536
BATCH_ROWS = 500_000  # rows stored at once when a reader streams

# Reader modules in detection order: the specific formats before the permissive ones.
READER_MODULES = (
    "sacct_json",
    "infinitehbd",
    "job_traces",
    "titan_gpus",
    "dcgm",
    "gcm",
    "plain_events",
    "slurm_events",
    "sinfo_reasons",
    "nhc",
    "kernel_xid",
    "sacct_text",
)


def _readers_of(module: ModuleType) -> list[Reader]:
    if hasattr(module, "READERS"):
        return list(module.READERS)
    if hasattr(module, "FORMAT"):
        return [
            Reader(module.FORMAT, module.sniff, module.read, getattr(module, "read_batches", None))
        ]
    return []


def readers() -> dict[str, Reader]:
    """Every known format, in detection order."""
    found: dict[str, Reader] = {}
    for name in READER_MODULES:
        try:
            module = importlib.import_module(f"gpurel.sources.{name}")
        except ModuleNotFoundError:
            continue
        for reader in _readers_of(module):
            found[reader.name] = reader
    return found


def _head(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(SNIFF_BYTES)
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    if b"\x00" in data:
        raise InputError(str(path), "binary file (NUL bytes), not a text export")
    return data.decode("utf-8", errors="replace")


def detect(path: Path) -> Reader:
    """The reader whose sniffer recognises ``path``, or InputError."""
    head = _head(path)
    if not head.strip():
        raise InputError(str(path), "empty file")
    for reader in readers().values():
        if reader.sniff(head):
            return reader
    known = ", ".join(readers())
    raise InputError(str(path), f"cannot detect the format; pass --format (one of: {known})")


@dataclass
class FileOutcome:
    """What ingesting one file did."""

    path: Path
    format: str | None = None
    rows: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the file was read (possibly with rejects)."""
        return self.error is None


def ingest_file(
    warehouse: Warehouse, path: Path, options: ReadOptions, fmt: str = "auto"
) -> FileOutcome:
    """Read one file and upsert what it holds; errors are captured in the outcome."""
    path = path.resolve()
    outcome = FileOutcome(path)
    try:
        reader = detect(path) if fmt == "auto" else _named(fmt)
        outcome.format = reader.name
        for part in _parts(reader.batches(path, options)):
            for name, table in part.tables.items():
                outcome.rows[name] = outcome.rows.get(name, 0) + warehouse.write(name, table)
            outcome.rejected += warehouse.write("rejects", part.rejects)
    except GpurelError as exc:
        stored = sum(outcome.rows.values()) + outcome.rejected
        outcome.error = str(exc) + (
            f" (the {stored:,} rows before it are stored)" if stored else ""
        )
    return outcome


def _parts(results: Iterator[ReadResult]) -> Iterator[ReadResult]:
    """``results`` merged into parts of at least BATCH_ROWS rows (the last may be smaller)."""
    pending: list[ReadResult] = []
    rows = 0
    for result in results:
        pending.append(result)
        rows += result.size
        if rows >= BATCH_ROWS:
            yield combined(result.format, pending)
            pending, rows = [], 0
    if pending:
        yield combined(pending[0].format, pending)


def _named(fmt: str) -> Reader:
    known = readers()
    if fmt not in known:
        raise GpurelError(f"unknown format {fmt!r}; known: auto, {', '.join(known)}")
    return known[fmt]


def ingest(
    warehouse: Warehouse, paths: Iterable[Path], options: ReadOptions, fmt: str = "auto"
) -> list[FileOutcome]:
    """Ingest every file; one bad file does not stop the batch."""
    return [ingest_file(warehouse, Path(p), options, fmt) for p in paths]
