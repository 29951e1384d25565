"""Ingest: detect each file's format, read it, and upsert its tables and rejects.

A file that cannot be read at all (missing, binary, truncated, unknown format) is reported and
skipped; the other files of the batch go on. Large files of a reader that streams are stored
in parts of about BATCH_ROWS rows while the next part is read: memory stays bounded, and a
file that breaks part way keeps the parts stored before (rerunning it is safe: upserts).
"""

from __future__ import annotations

import importlib
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import duckdb
import pyarrow as pa

from gpurel import schema
from gpurel.errors import GpurelError, InputError
from gpurel.sources import inventory
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
    return data.decode("utf-8", errors="replace").removeprefix("\ufeff")


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
    """What ingesting one file did, every line accounted for.

    ``lines + expanded == stored + merged + rejected + skipped``: each line read became a row
    stored (the last of its key in the file), a row merged into a later one of the same key,
    a reject, or a line skipped as no record; ``expanded`` counts the extra rows of lines
    naming several nodes. ``rows`` holds the rows stored per table, derived ones included.
    """

    path: Path
    format: str | None = None
    rows: dict[str, int] = field(default_factory=dict)
    lines: int = 0
    skipped: int = 0
    expanded: int = 0
    merged: int = 0
    rejected: int = 0
    derived: frozenset[str] = frozenset()
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the file was read (possibly with rejects)."""
        return self.error is None

    @property
    def stored(self) -> int:
        """Rows stored from the file's lines (derived tables such as an inventory aside)."""
        return sum(n for name, n in self.rows.items() if name not in self.derived)

    @property
    def unaccounted(self) -> int:
        """Lines neither stored, merged, rejected nor skipped: 0 unless a reader is wrong."""
        found = self.stored + self.merged + self.rejected + self.skipped
        return self.lines + self.expanded - found


def ingest_file(
    warehouse: Warehouse, path: Path, options: ReadOptions, fmt: str = "auto"
) -> FileOutcome:
    """Read one file and upsert what it holds; errors are captured in the outcome."""
    path = path.resolve()
    outcome = FileOutcome(path)
    try:
        _regular(path)
        reader = detect(path) if fmt == "auto" else _named(fmt)
        outcome.format = reader.name
        seen = StoredKeys()
        nodes = _inventory_of(reader, options)
        for part in _parts(reader.batches(path, options)):
            if nodes is not None and "node_events" in part.tables:
                nodes.add(part.tables["node_events"])
            for name, table in part.tables.items():
                written = warehouse.write(name, table)
                again = seen.add(name, table)  # stored by an earlier part: now replaced
                outcome.rows[name] = outcome.rows.get(name, 0) + written - again
                outcome.merged += table.num_rows - written + again
            warehouse.write("rejects", part.rejects)
            outcome.rejected += part.rejects.num_rows
            outcome.lines += part.lines
            outcome.skipped += part.skipped
            outcome.expanded += part.expanded
            outcome.derived |= part.derived
            outcome.notes += [n for n in part.notes if n not in outcome.notes]
        if nodes is not None and nodes.nodes:
            outcome.rows["nodes"] = warehouse.write("nodes", nodes.table(options))
            outcome.derived |= {"nodes"}
    except GpurelError as exc:
        outcome.error = str(exc) + _stored_before(outcome)
    except Exception as exc:  # a reader's bug must not stop the batch: the next file goes on
        reason = f"{type(exc).__name__}: {exc}"
        outcome.error = f"{path}: internal error while reading ({reason})" + _stored_before(outcome)
    return outcome


def _stored_before(outcome: FileOutcome) -> str:
    stored = sum(outcome.rows.values()) + outcome.rejected
    return f" (the {stored:,} rows before it are stored)" if stored else ""


class StoredKeys:
    """The keys one file has stored so far, as 64-bit hashes in an in-memory DuckDB, per table.

    A later part of a file may hold a row whose key an earlier part stored: the upsert
    replaces it, so the earlier row counts as merged, not stored. A file of one part (most
    files) is never hashed: the first part's keys wait until a second part comes.
    """

    def __init__(self) -> None:
        self._first: dict[str, pa.Table | None] = {}  # the first part's keys until hashed
        self._con = duckdb.connect()

    def add(self, name: str, table: pa.Table) -> int:
        """Note ``table``'s keys; how many distinct ones were stored by an earlier part."""
        keys = table.select(list(schema.KEYS[name]))
        if name not in self._first:
            self._first[name] = keys
            return 0
        seen = f"seen_{name}"
        if self._first[name] is not None:
            self._con.execute(f"CREATE TABLE {seen} (h UBIGINT)")
            self._store(seen, self._first[name], name)
            self._first[name] = None
        self._con.register("part", keys)
        hashed = f"SELECT DISTINCT hash({_columns(name)}) AS h FROM part"
        found = self._con.execute(f"SELECT count(*) FROM ({hashed}) SEMI JOIN {seen} USING (h)")
        (again,) = found.fetchone() or (0,)
        self._store(seen, keys, name)
        return int(again)

    def _store(self, seen: str, keys: pa.Table, name: str) -> None:
        self._con.register("part", keys)
        hashed = f"SELECT DISTINCT hash({_columns(name)}) AS h FROM part"
        self._con.execute(f"INSERT INTO {seen} SELECT h FROM ({hashed}) ANTI JOIN {seen} USING (h)")
        self._con.unregister("part")


def _columns(name: str) -> str:
    return ", ".join(f'"{column}"' for column in schema.KEYS[name])


def _inventory_of(reader: Reader, options: ReadOptions) -> inventory.Seen | None:
    """What to note for the inventory --nodes/--days ask of this input, if the reader does
    not build it itself; ConfigError where they cannot apply."""
    if not inventory.wanted(options) or reader.name in inventory.READS_OPTIONS:
        return None
    inventory.check_format(reader.name)
    return inventory.Seen()


def _regular(path: Path) -> None:
    """InputError unless ``path`` is a regular file: a FIFO or a device could block forever."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(mode):
        raise InputError(str(path), "a directory, not a file")
    if not stat.S_ISREG(mode):
        raise InputError(str(path), "not a regular file (a FIFO, socket or device): copy it first")


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
