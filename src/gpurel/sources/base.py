"""What every reader shares: its options, its result and the sink for rejected rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from gpurel import schema, taxonomy


@dataclass(frozen=True)
class ReadOptions:
    """Options a reader may use; each reader documents which ones."""

    cluster: str = "default"
    tz: str | None = None  # IANA zone of local times without offset; None = this machine's zone
    fields: tuple[str, ...] | None = None  # sacct field names when the file has no header
    delimiter: str | None = None  # None = detect
    inventory_nodes: int | None = None  # traces whose fault-free nodes are absent from the file
    inventory_days: float | None = None
    trace_start: datetime | None = None  # wallclock of day 0 for traces with relative times
    year: int | None = None  # the year of syslog dates, which print none
    field_map: tuple[tuple[str, str], ...] = ()  # (canonical field, the input's column name)
    gpus_per_node: int = 8
    taxonomy: taxonomy.Taxonomy = field(default_factory=taxonomy.default)
    bytes_read: Callable[[int], None] | None = None  # told of each block a reader reads


class RejectSink:
    """Collects rows that could not be read, with file, line, field and reason."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._rows: list[dict[str, object]] = []

    def add(self, line: int | None, field: str | None, reason: str, raw: str | None) -> None:
        """Keep one rejected row aside."""
        if raw is not None and len(raw) > schema.RAW_LIMIT:
            raw = raw[: schema.RAW_LIMIT] + "…"
        self._rows.append(
            {"source": self.source, "line": line, "field": field, "reason": reason, "raw": raw}
        )

    def __len__(self) -> int:
        return len(self._rows)

    def table(self) -> pa.Table:
        """The rejects as a canonical ``rejects`` table."""
        return pa.Table.from_pylist(self._rows, schema=schema.REJECTS)


@dataclass
class ReadResult:
    """Canonical tables read from one input, plus its rejects, with every line accounted for.

    ``lines``: the input's lines read (CSV rows for CSV, records for JSON documents);
    ``skipped``: those that hold no record (blank lines, headers, comments, other programs'
    syslog lines). Each other line becomes one row of a record table or one reject, except
    that a line naming several nodes (a hostlist) becomes one row per node: ``expanded``
    counts the rows beyond the first, so ``lines + expanded == records + rejects + skipped``.
    ``derived`` names tables made from the options or from other rows (an inventory).
    """

    format: str
    tables: dict[str, pa.Table] = field(default_factory=dict)
    rejects: pa.Table = field(default_factory=lambda: schema.empty("rejects"))
    lines: int = 0
    skipped: int = 0
    expanded: int = 0
    derived: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()  # what a person should know of how the input was read

    def rows(self, name: str) -> int:
        """Rows read into canonical table ``name``."""
        table = self.tables.get(name)
        return 0 if table is None else table.num_rows

    @property
    def kept(self) -> int:
        """Rows read into any canonical table other than rejects."""
        return sum(t.num_rows for t in self.tables.values())

    @property
    def size(self) -> int:
        """Rows read, kept or rejected."""
        return self.kept + self.rejects.num_rows

    @property
    def records(self) -> int:
        """Rows read from lines into record tables (every table but the derived ones)."""
        return sum(t.num_rows for n, t in self.tables.items() if n not in self.derived)


def combined(format: str, results: Iterable[ReadResult]) -> ReadResult:
    """One result holding the tables and the rejects of ``results``, in their order."""
    tables: dict[str, list[pa.Table]] = {}
    rejects = [schema.empty("rejects")]
    lines = skipped = expanded = 0
    derived: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()
    for result in results:
        for name, table in result.tables.items():
            tables.setdefault(name, []).append(table)
        rejects.append(result.rejects)
        lines, skipped = lines + result.lines, skipped + result.skipped
        expanded += result.expanded
        derived |= result.derived
        notes += tuple(n for n in result.notes if n not in notes)
    merged = {name: pa.concat_tables(parts) for name, parts in tables.items()}
    rejected = pa.concat_tables(rejects)
    return ReadResult(format, merged, rejected, lines, skipped, expanded, derived, notes)


@dataclass(frozen=True)
class Reader:
    """One input format: its name, a sniffer over the file's first text, and the reader.

    Reader modules expose ``FORMAT``, ``sniff`` and ``read`` (and ``read_batches`` when they
    can stream a large file in parts), or a ``READERS`` list of these.
    """

    name: str
    sniff: Callable[[str], bool]
    read: Callable[[Path, ReadOptions], ReadResult]
    read_batches: Callable[[Path, ReadOptions], Iterator[ReadResult]] | None = None

    def batches(self, path: Path, options: ReadOptions) -> Iterator[ReadResult]:
        """The file's rows in parts, in file order: one part unless the reader streams."""
        if self.read_batches is None:
            yield self.read(path, options)
        else:
            yield from self.read_batches(path, options)


def read_bytes(path: Path) -> bytes:
    """Read a text input's bytes, with a clear InputError for unreadable or binary files."""
    from gpurel.errors import InputError

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    if b"\x00" in data[:65536]:
        raise InputError(str(path), "binary file (NUL bytes), not a text export")
    return data


def read_text(path: Path) -> str:
    """Read a text input as UTF-8, with a clear InputError for binary or undecodable files."""
    return _decoded(path, read_bytes(path))


def read_utf8(path: Path) -> bytes:
    """Read a text input's bytes, checked to be UTF-8 (the InputErrors of ``read_text``)."""
    data = read_bytes(path)
    if not data.isascii():
        _decoded(path, data)
    return data


def _decoded(path: Path, data: bytes) -> str:
    from gpurel.errors import InputError

    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            str(path), f"not UTF-8 text (byte {exc.start}: {data[exc.start : exc.start + 1]!r})"
        ) from exc
