"""Side tables (collector state, drain records, simulation truth) on both warehouse kinds."""

from __future__ import annotations

from pathlib import Path

import ibis
import pyarrow as pa
import pytest

from gpurel.errors import GpurelError
from gpurel.warehouse import Warehouse

SCHEMA = pa.schema([pa.field("node", pa.string()), pa.field("count", pa.int64())])


def _rows(*pairs: tuple[str, int]) -> pa.Table:
    return pa.Table.from_pylist([{"node": n, "count": c} for n, c in pairs], schema=SCHEMA)


@pytest.fixture(params=["file.duckdb", "parquet"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return tmp_path / str(request.param)


def _stored(warehouse: Warehouse) -> dict[str, int]:
    rows = warehouse.fetch(warehouse.side("marks", SCHEMA)).to_pylist()
    return {row["node"]: row["count"] for row in rows}


def test_upserted_side_rows_outlive_the_writer(target: Path) -> None:
    writer = Warehouse.open(target)
    assert not writer.has_side("marks")
    assert _stored(writer) == {}
    writer.upsert_side("marks", SCHEMA, _rows(("a", 1), ("b", 2)), on="node")
    writer.upsert_side("marks", SCHEMA, _rows(("b", 5), ("c", 3)), on="node")
    writer.close()
    reader = Warehouse.open(target, read_only=True)
    assert reader.has_side("marks")
    assert _stored(reader) == {"a": 1, "b": 5, "c": 3}
    reader.close()


def test_replacing_a_side_table_keeps_only_the_new_rows(target: Path) -> None:
    writer = Warehouse.open(target)
    writer.replace_side("marks", _rows(("a", 1), ("b", 2)))
    writer.replace_side("marks", _rows(("z", 9)))
    writer.close()
    reader = Warehouse.open(target, read_only=True)
    assert _stored(reader) == {"z": 9}
    reader.close()


def test_a_reader_sees_an_empty_side_table_and_writes_nothing(target: Path) -> None:
    writer = Warehouse.open(target)
    writer.replace_side("other", _rows(("a", 1)))
    writer.close()
    reader = Warehouse.open(target, read_only=True)
    assert _stored(reader) == {}
    with pytest.raises(GpurelError, match="read-only"):
        reader.upsert_side("marks", SCHEMA, _rows(("a", 1)), on="node")
    reader.close()


def test_canonical_names_are_not_side_tables(target: Path) -> None:
    warehouse = Warehouse.open(target)
    with pytest.raises(GpurelError, match="canonical"):
        warehouse.replace_side("jobs", _rows(("a", 1)))
    warehouse.close()


def test_a_derived_table_exists_only_once_made(target: Path) -> None:
    warehouse = Warehouse.open(target)
    with pytest.raises(GpurelError, match="no derived table 'doubled'"):
        warehouse.derived("doubled")
    source = ibis.memtable(_rows(("a", 1)))
    warehouse.materialize("doubled", source.mutate(count=source["count"] * 2))
    assert warehouse.fetch(warehouse.derived("doubled")).to_pylist() == [{"node": "a", "count": 2}]
    warehouse.close()
