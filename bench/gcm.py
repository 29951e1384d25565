"""GCM health-check reading: the per-line Python path against the block reader and DuckDB.

Builds a GCM JSON-lines file of ``--rows`` records (every check on 2,000 nodes, one record
every half second, every 500th failing) and measures on that same file in this run, each in
its own child process:

- duckdb read_json: DuckDB's ``read_json`` of the file into Arrow (no conversion): the baseline;
- gpurel per-line: the old reader, ``json.loads`` and one Event per record;
- gpurel read: ``gcm.read``, every block into one result;
- gpurel batches: ``gcm.read_batches``, each part dropped once counted, as ingest streams it.

Each child imports its libraries before the clock starts; it reports wall and CPU seconds
(all threads) and its peak RSS. With ``--repeat N`` every child runs N times and the fastest
run counts. Prints rows/s, peak memory and the ratios to DuckDB and to the per-line path,
then one JSON line. Usage:
    uv run python bench/gcm.py [--rows 1000000] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from collections.abc import Callable
from pathlib import Path

from peers import Work, fastest, timed

CHECKS = [
    "check pci",
    "nvidia smi row_remap",
    "xid errors",
    "check ib",
    "check dcgm",
    "check mounts",
]
START = 1_714_557_600.0


def make_file(rows: int, out: Path) -> None:
    """``rows`` GCM records, one a line."""
    with out.open("w") as handle:
        for i in range(rows):
            failing = i % 500 == 0
            record = {
                "node": f"gpu{i % 2000:05d}",
                "cluster": "rsc1",
                "derived_cluster": "rsc1",
                "health_check": CHECKS[i % len(CHECKS)],
                "type": "nagios",
                "result": 2 if failing else 0,
                "_msg": "PCIe Issues Detected" if failing else "",
                "job_id": 0,
                "start_time": START + i * 0.5,
                "end_time": START + i * 0.5 + 1,
            }
            handle.write(json.dumps(record) + "\n")


def duckdb_read_json(path: Path) -> Work:
    """DuckDB's read_json of every record into Arrow."""
    import duckdb

    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    query = "select * from read_json(?, format='newline_delimited')"
    return lambda: con.execute(query, [str(path)]).to_arrow_table().num_rows


def gpurel_per_line(path: Path) -> Work:
    """The per-line Python reader."""
    from gpurel.sources import gcm
    from gpurel.sources.base import ReadOptions

    return lambda: gcm._read_slow(path, ReadOptions(tz="UTC")).size


def gpurel_read(path: Path) -> Work:
    """gcm.read: all blocks into one result."""
    from gpurel.sources import gcm
    from gpurel.sources.base import ReadOptions

    return lambda: gcm.read(path, ReadOptions(tz="UTC")).size


def gpurel_batches(path: Path) -> Work:
    """gcm.read_batches: parts counted and dropped, as an ingest stores and drops them."""
    from gpurel.sources import gcm
    from gpurel.sources.base import ReadOptions

    return lambda: sum(part.size for part in gcm.read_batches(path, ReadOptions(tz="UTC")))


PEERS: dict[str, Callable[[Path], Work]] = {
    "duckdb read_json": duckdb_read_json,
    "gpurel per-line": gpurel_per_line,
    "gpurel read": gpurel_read,
    "gpurel batches": gpurel_batches,
}


def child(label: str, path: Path) -> dict[str, float]:
    """Set up one peer (imports), then time its work in this process."""
    return timed(PEERS[label](path))


def measure(label: str, repeat: int, path: Path) -> dict[str, float]:
    """The fastest of ``repeat`` runs of one peer, each in a fresh interpreter."""
    return fastest([__file__, "--child", label, "--file", str(path)], repeat)


def report(results: dict[str, dict[str, float]]) -> None:
    """The table of rates, memory and ratios."""
    rate = {label: r["rows"] / r["seconds"] for label, r in results.items()}
    duck, slow = rate["duckdb read_json"], rate["gpurel per-line"]
    print(
        f"{'measurement':<18}{'rows':>11}{'wall s':>8}{'cpu s':>8}{'rows/s':>12}"
        f"{'peak MiB':>10}{'x duckdb':>10}{'x per-line':>12}"
    )
    for label, r in results.items():
        print(
            f"{label:<18}{r['rows']:>11,.0f}{r['seconds']:>8.2f}{r['cpu_seconds']:>8.2f}"
            f"{rate[label]:>12,.0f}{r['peak_mib']:>10,.0f}{duck / rate[label]:>9.2f}x"
            f"{rate[label] / slow:>11.2f}x"
        )
    print("x duckdb: times slower than DuckDB's read_json; x per-line: times faster than it")


def main() -> None:
    """Build the file, measure every peer, print the table and a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per peer; the fastest counts")
    parser.add_argument("--keep", type=Path, help="directory to keep the generated file in")
    parser.add_argument("--child", choices=PEERS, help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.file)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        path = workdir / "gcm_bench.jsonl"
        make_file(args.rows, path)
        print(
            f"input: {args.rows:,} lines, {path.stat().st_size / 1e6:.0f} MB; "
            f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
            f"load {os.getloadavg()[0]:.1f}; best of {args.repeat}"
        )
        results = {label: measure(label, args.repeat, path) for label in PEERS}
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    report(results)
    print(json.dumps({"lines": args.rows, "results": results}))


if __name__ == "__main__":
    main()
