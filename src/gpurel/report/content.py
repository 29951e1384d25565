"""What a report section holds, independent of the output format (HTML, Markdown)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pyarrow as pa
from matplotlib.figure import Figure

from gpurel.formatting import cell

LONG_TABLE_ROWS = 15  # longer tables may start folded (``Table.long``)


class Column(NamedTuple):
    """A table column: key in the result rows, header, and format kind (see ``formatting.cell``);
    the terminal's tables unpack it as ``(key, header, kind)``."""

    key: str
    header: str
    kind: str = "num"

    @property
    def numeric(self) -> bool:
        """Right-aligned in tables."""
        return self.kind not in ("text", "time", "date")

    @property
    def css(self) -> str:
        """The cell's class in HTML: "num" (never wrapped), "time" (wrapped only between date
        and time of day) or "text"."""
        if self.kind in ("time", "date"):
            return "time"
        return "num" if self.numeric else "text"


@dataclass(frozen=True)
class Table:
    """The numbers behind a figure (or a section's own table)."""

    caption: str
    columns: Sequence[Column]
    rows: Sequence[dict[str, Any]]
    collapsed: bool = False  # starts folded in the HTML

    @classmethod
    def of(cls, caption: str, columns: Sequence[Column], table: pa.Table, **kw: Any) -> Table:
        """A table from an Arrow result table."""
        return cls(caption, columns, table.to_pylist(), **kw)

    @classmethod
    def long(
        cls, caption: str, columns: Sequence[Column], rows: pa.Table | Sequence[dict[str, Any]]
    ) -> Table:
        """A table that may run long: folded when it has more than ``LONG_TABLE_ROWS`` rows."""
        listed = rows.to_pylist() if isinstance(rows, pa.Table) else rows
        return cls(caption, columns, listed, collapsed=len(listed) > LONG_TABLE_ROWS)

    def cells(self) -> list[list[str]]:
        """Every row formatted for people."""
        return [[cell(row.get(c.key), c.kind) for c in self.columns] for row in self.rows]


@dataclass(frozen=True)
class Chart:
    """A figure with its file name (no suffix) and a caption stating weighting and units."""

    name: str
    caption: str
    draw: Callable[[], Figure]


@dataclass(frozen=True)
class Detail:
    """A folded block of preformatted text (e.g. definitions quoted from the code)."""

    summary: str
    text: str


@dataclass(frozen=True)
class Block:
    """One rendered section: title, prose, key facts, figures, tables and folded details."""

    id: str
    title: str
    paragraphs: Sequence[str] = ()
    facts: Sequence[tuple[str, str]] = ()
    charts: Sequence[Chart] = ()
    tables: Sequence[Table] = ()
    details: Sequence[Detail] = field(default_factory=tuple)


@dataclass(frozen=True)
class Finding:
    """A headline number for the key-findings box."""

    label: str
    value: str
    detail: str
