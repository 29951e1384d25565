"""Report generation time: the report against the analysis it renders, on a larger warehouse.

Builds a warehouse by tiling the built-in demo week (40 nodes, 71 job attempts, 581 health
records) over ``--weeks`` weeks and ``--copies`` copies of the cluster (renamed nodes and job
ids, times shifted by whole weeks), or takes an existing ``--warehouse``. Then times, in this
process: the analysis (baseline), the HTML report with its figures, and the Markdown summary.
Prints seconds and the ratio of each report to the analysis. Usage:
    uv run python bench/report.py [--weeks 52] [--copies 10] [--warehouse FILE] [--keep DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from gpurel import demo
from gpurel.analysis.summary import analyze
from gpurel.report import build_report
from gpurel.warehouse import Warehouse

TIME_COLUMNS = {
    "jobs": ("submit_time", "eligible_time", "start_time", "end_time"),
    "node_events": ("time", "end_time"),
}


def _prefixed(values: pa.Array | pa.ChunkedArray, prefix: str) -> pa.Array:
    return pc.binary_join_element_wise(prefix, values, "")


def _tile(table: pa.Table, name: str, week: int, copy: int) -> pa.Table:
    """One tile: times shifted by ``week`` weeks, nodes and job ids prefixed by the copy."""
    shift = pa.scalar(timedelta(weeks=week), pa.duration("us"))
    for column in TIME_COLUMNS[name]:
        i = table.schema.get_field_index(column)
        table = table.set_column(i, column, pc.add(table[column], shift))
    node_prefix = f"c{copy}-"
    if name == "jobs":
        nodes = table["nodes"].combine_chunks()
        renamed = pa.ListArray.from_arrays(nodes.offsets, _prefixed(nodes.flatten(), node_prefix))
        table = table.set_column(table.schema.get_field_index("nodes"), "nodes", renamed)
        i = table.schema.get_field_index("job_id")
        table = table.set_column(i, "job_id", _prefixed(table["job_id"], f"w{week}{node_prefix}"))
    else:
        i = table.schema.get_field_index("node")
        table = table.set_column(i, "node", _prefixed(table["node"], node_prefix))
    return table


def tiled_warehouse(path: Path, weeks: int, copies: int) -> dict[str, int]:
    """A warehouse of the demo week tiled ``weeks`` x ``copies`` times; rows per table."""
    demo.run(path)
    store = Warehouse.open(path)
    try:
        for name in TIME_COLUMNS:
            base = store.table(name).to_pyarrow()
            tiles = [_tile(base, name, w, c) for w in range(weeks) for c in range(copies)]
            store.write(name, pa.concat_tables(tiles))
        return store.counts()
    finally:
        store.close()


def timed(label: str, work: Callable[[], Any], baseline: float | None = None) -> float:
    """Run ``work`` once; print its seconds (and ratio to ``baseline``)."""
    start = time.perf_counter()
    work()
    seconds = time.perf_counter() - start
    ratio = f"  ({seconds / baseline:.2f} x analysis)" if baseline else ""
    print(f"{label:<22} {seconds:8.2f} s{ratio}", flush=True)
    return seconds


def main() -> None:
    """Build or open the warehouse, then time the analysis and both report formats."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--warehouse", type=Path, help="time this warehouse instead")
    parser.add_argument("--keep", type=Path, help="write the warehouse and report here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        path = args.warehouse
        if path is None:
            path = out / "tiled.duckdb"
            timed("build warehouse", lambda: print(tiled_warehouse(path, args.weeks, args.copies)))
        store = Warehouse.open(path)
        try:
            result: dict[str, Any] = {}
            base = timed("analysis", lambda: result.setdefault("a", analyze(store)))
        finally:
            store.close()
        a = result["a"]
        timed(
            "report html+figures", lambda: build_report(a, out / "report.html", out / "figs"), base
        )
        timed("report md", lambda: build_report(a, out / "report.md", fmt="md"), base)


if __name__ == "__main__":
    main()
