"""Parity: the same warehouse analyzed on DuckDB and on Spark gives the same document.

Every table of ``summary.to_json(analyze(...))`` is compared: counts, strings, booleans and
times exactly, floats (rates, shares, hours, ETTR) to 1e-9 relative. Data sets (conftest): the
built-in demo, the InfiniteHBD fault trace and a small simulated month.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from gpurel.analysis.summary import analyze, to_json
from gpurel.warehouse import Warehouse

pytestmark = pytest.mark.filterwarnings(
    "ignore:The copy keyword is deprecated"
)  # PySpark, pandas 3
REL_TOL = 1e-9
ABS_TOL = 1e-12  # floats that should be 0 may differ by rounding noise


def differences(left: Any, right: Any, path: str = "") -> list[str]:
    """Where two JSON-ready documents differ, as ``path: left != right`` lines."""
    if isinstance(left, float) and isinstance(right, float):
        same = math.isclose(left, right, rel_tol=REL_TOL, abs_tol=ABS_TOL)
        return [] if same else [f"{path}: {left!r} != {right!r}"]
    if type(left) is not type(right):
        return [f"{path}: {left!r} ({type(left).__name__}) != {right!r} ({type(right).__name__})"]
    if isinstance(left, dict):
        if left.keys() != right.keys():
            return [f"{path}: keys {sorted(left)} != {sorted(right)}"]
        return [d for k in left for d in differences(left[k], right[k], f"{path}.{k}")]
    if isinstance(left, list):
        if len(left) != len(right):
            return [f"{path}: {len(left)} rows != {len(right)} rows"]
        return [
            d
            for i, (a, b) in enumerate(zip(left, right, strict=True))
            for d in differences(a, b, f"{path}[{i}]")
        ]
    return [] if left == right else [f"{path}: {left!r} != {right!r}"]


def test_differences_tolerate_only_float_rounding() -> None:
    assert differences({"a": [1, 0.1 + 0.2]}, {"a": [1, 0.3]}) == []
    assert differences({"a": 1}, {"a": 1.0}) == [".a: 1 (int) != 1.0 (float)"]
    assert differences({"a": [1.0]}, {"a": [1.001]}) == [".a[0]: 1.0 != 1.001"]


def test_spark_matches_duckdb(parquet_warehouse: Path, spark: Any) -> None:
    on_duckdb = Warehouse.open(parquet_warehouse, engine="duckdb")
    expected = to_json(analyze(on_duckdb))
    on_duckdb.close()
    on_spark = Warehouse.open(parquet_warehouse, engine="spark")  # joins the test session
    actual = to_json(analyze(on_spark))
    assert expected["overview"]["job_attempts"] or expected["overview"]["node_events"]
    assert differences(expected, actual) == []
