"""Canonical rows and tables for the analysis tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

from gpurel import schema, taxonomy


def failing_event(node: str, time: datetime, category: str, **extra: Any) -> dict[str, Any]:
    """A failing nhc record of ``category`` (also its check) on ``node`` of cluster c1, with the
    shipped taxonomy's domain and severity; ``extra`` sets or overrides fields."""
    cat = taxonomy.default().categories[category]
    return {
        "cluster": "c1",
        "node": node,
        "time": time,
        "source": "nhc",
        "check": category,
        "category": category,
        "domain": cat.domain,
        "severity": cat.severity,
        "result": "fail",
    } | extra


def canonical_table(name: str, rows: Sequence[dict[str, Any]]) -> pa.Table:
    """Canonical table ``name`` from row dicts that may each leave out optional keys."""
    present = set().union(*rows) if rows else set()
    loose = pa.schema([f.with_nullable(True) for f in schema.TABLES[name] if f.name in present])
    return schema.conform(name, pa.Table.from_pylist(list(rows), schema=loose))
