"""Several small result tables computed by one engine query.

A distributed engine pays seconds of fixed cost per query however small its answer, so the
analysis asks for its small tables together: each table's columns are renamed apart, padded
with typed nulls to one shared set of columns, tagged with its position and stacked with
UNION ALL; the one answer is split back into the tables, each with its own columns and types.
Row order is the caller's to set afterwards (``sorted_by``): a union keeps none.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

PART = "_part"
T = TypeVar("T")


@dataclass(frozen=True)
class Query(Generic[T]):
    """A result: the engine query for its rows, and what makes the result of those rows."""

    expr: ir.Table
    finish: Callable[[pa.Table], T]

    def run(self) -> T:
        """The result, by a query of its own."""
        return self.finish(self.expr.to_pyarrow())


def run_together(*queries: Query[Any]) -> list[Any]:
    """The results of ``queries``, in order, from one engine query."""
    tables = fetch_together(*(q.expr for q in queries))
    return [q.finish(t) for q, t in zip(queries, tables, strict=True)]


def _column(index: int, name: str) -> str:
    return f"_{index}_{name}"


def fetch_together(*tables: ir.Table) -> list[pa.Table]:
    """``[t.to_pyarrow() for t in tables]`` (rows in no particular order), in one query."""
    if len(tables) <= 1:
        return [t.to_pyarrow() for t in tables]
    types = {
        _column(i, name): dtype.copy(nullable=True)
        for i, table in enumerate(tables)
        for name, dtype in table.schema().items()
    }
    padded = []
    for i, table in enumerate(tables):
        own = {_column(i, name): table[name] for name in table.columns}
        values = {c: own[c].cast(t) if c in own else ibis.null(t) for c, t in types.items()}
        padded.append(table.select(**values, **{PART: ibis.literal(i, "int32")}))
    stacked = ibis.union(*padded).to_pyarrow()
    parts = []
    for i, table in enumerate(tables):
        rows = stacked.filter(pc.equal(stacked[PART], i))
        own = rows.select([_column(i, name) for name in table.columns])
        parts.append(own.rename_columns(table.columns).cast(table.schema().to_pyarrow()))
    return parts


def sorted_by(table: pa.Table, keys: Sequence[str | tuple[str, str]]) -> pa.Table:
    """``table`` ordered by ``keys`` (a name: ascending; ``(name, "descending")``), nulls last."""
    order = [(k, "ascending") if isinstance(k, str) else k for k in keys]
    return table.sort_by(order) if table.num_rows else table
