"""Ingest speed and memory: gpurel's sacct reader against DuckDB, pandas and slurm2sql.

Builds a sacct --parsable2 file of at least ``--rows`` lines by repeating the real Habrok dump
(../shared/data/habrok_sacct_rug) with renumbered job ids and times shifted by one hour per
copy, then measures on that same file in this run, each in its own child process:

- duckdb raw scan: DuckDB's ``read_csv`` of every field as text into Arrow (no parsing): the
  physical limit;
- gpurel read: the sacct reader to canonical Arrow tables (parse, convert, reject);
- gpurel ingest: read + upsert into a fresh DuckDB warehouse file (stored in parts while
  the next part is read);
- gpurel ingest pq: the same into a fresh partitioned-Parquet warehouse directory;
- duckdb insert: DuckDB storing the rows gpurel read (read before the clock) with plain
  inserts into a fresh file: what storing in a DuckDB file costs at least;
- pandas: ``read_csv(sep="|", dtype=str)``, then ``to_datetime`` (local zone to UTC),
  ``to_timedelta`` and ``to_numeric`` on the time, duration and count columns;
- slurm2sql: its CSV import (``slurm2sql.slurm2sql(db, csv_input=DictReader)``, what its
  ``--csv-input`` option calls) into SQLite. It reads the same file; it needs the JobIDRaw
  field and sacct's header spelling ``NCPUS``, so the file has both. It is slow: it imports
  the first ``--prefix`` rows and its rows/s is extrapolated from them.

Each child imports its libraries before the clock starts; it reports wall and CPU seconds
(all threads) of the work and its peak RSS. With ``--repeat N`` every child runs N times and
the fastest run counts (the machine may be shared). Prints rows/s, peak memory and the
ratios to the raw scan and to slurm2sql, then one JSON line. Usage:
    uv run python bench/ingest.py [--rows 1000000] [--repeat 3] [--prefix 50000] [--keep DIR]
        [--only 'gpurel read' 'gpurel ingest' ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from peers import Work, fastest, timed

REPO = Path(__file__).resolve().parents[1]
HABROK = REPO.parent / "shared" / "data" / "habrok_sacct_rug" / "sacct.txt"
HABROK_FIELDS = [
    "JobID", "JobName", "User", "Partition", "NodeList", "NNodes", "NCPUS", "NTasks", "State",
    "Submit", "Start", "End", "Timelimit", "Elapsed", "TotalCPU", "CPUTime", "UserCPU",
    "SystemCPU", "ReqMem", "MaxRSS", "MaxVMSize", "ReqTRES", "AllocTRES", "TRESUsageInMax",
    "TRESUsageInTot", "TRESUsageOutTot", "MaxDiskRead", "MaxDiskWrite", "MaxRSSNode",
    "MaxRSSTask", "MaxVMSizeNode", "MaxVMSizeTask", "MaxDiskReadNode", "MaxDiskReadTask",
    "MaxDiskWriteNode", "MaxDiskWriteTask", "Comment",
]  # fmt: skip
FIELDS = [*HABROK_FIELDS, "JobIDRaw"]  # slurm2sql needs JobIDRaw
TIMES = [HABROK_FIELDS.index(name) for name in ("Submit", "Start", "End")]
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
COPY_STRIDE = 10_000_000  # job ids of copy k are the dump's plus k times this


def make_file(rows: int, out: Path) -> int:
    """Repeat the Habrok dump as parsable2 with '|' and a header, renumbered and time-shifted."""
    # --parsable ends each line with one delimiter: drop it (only it) to get parsable2
    lines = [line.removesuffix("\u2603") for line in HABROK.read_text().splitlines() if line]
    template = [line.replace("|", "/").split("\u2603") for line in lines]
    written = copy = 0
    with out.open("w") as handle:
        handle.write("|".join(FIELDS) + "\n")
        while written < rows:
            for fields in template:
                handle.write("|".join(_copied(fields, copy)) + "\n")
            written += len(template)
            copy += 1
    return written


def _copied(fields: list[str], copy: int) -> list[str]:
    """One dump line as copy ``copy``: job id + copy x COPY_STRIDE, times + copy hours."""
    job_id = fields[0]
    head, dot, step = job_id.partition(".")
    base, under, task = head.partition("_")
    raw = str(int(base) + copy * COPY_STRIDE)
    out = [f"{raw}{under}{task}{dot}{step}", *fields[1:], raw]
    for index in TIMES:
        if out[index][:1].isdigit():
            moment = datetime.strptime(out[index], TIME_FORMAT) + timedelta(hours=copy)
            out[index] = moment.strftime(TIME_FORMAT)
    return out


def duckdb_scan(path: Path, workdir: Path, tz: str, prefix: int) -> Work:
    """DuckDB's CSV scan of every field as text into Arrow."""
    import duckdb

    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    query = (
        "select * from read_csv(?, delim='|', header=true, all_varchar=true, quote='', escape='')"
    )
    return lambda: con.execute(query, [str(path)]).to_arrow_table().num_rows


def gpurel_read(path: Path, workdir: Path, tz: str, prefix: int) -> Work:
    """gpurel's sacct reader into canonical Arrow tables."""
    from gpurel.sources import sacct_text
    from gpurel.sources.base import ReadOptions

    def work() -> int:
        result = sacct_text.read(path, ReadOptions(tz=tz))
        return result.rows("jobs") + result.rows("steps") + result.rejects.num_rows

    return work


def gpurel_ingest(path: Path, workdir: Path, tz: str, prefix: int) -> Work:
    """``gpurel ingest``: read, then upsert into a fresh DuckDB warehouse file."""
    return _ingest_into(path, workdir / "bench.duckdb", tz)


def gpurel_ingest_parquet(path: Path, workdir: Path, tz: str, prefix: int) -> Work:
    """``gpurel ingest`` into a fresh partitioned-Parquet warehouse directory."""
    return _ingest_into(path, workdir / "bench_lake", tz)


def _ingest_into(path: Path, target: Path, tz: str) -> Work:
    from gpurel.ingest import ingest_file
    from gpurel.sources.base import ReadOptions
    from gpurel.warehouse import Warehouse

    Warehouse.in_memory().close()  # Ibis loads its DuckDB backend on first use: not the work
    shutil.rmtree(target, ignore_errors=True)
    for stale in (target, target.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)

    def work() -> int:
        warehouse = Warehouse.open(target)
        outcome = ingest_file(warehouse, path, ReadOptions(tz=tz), "sacct")
        warehouse.close()
        if not outcome.ok:
            raise RuntimeError(outcome.error)
        return sum(outcome.rows.values()) + outcome.rejected

    return work


def duckdb_insert(path: Path, workdir: Path, tz: str, prefix: int) -> Work:
    """DuckDB storing the rows gpurel read (read before the clock): plain INSERTs into a
    fresh file, no key, no upsert — the least any ingest into a DuckDB file can cost."""
    import duckdb

    from gpurel import schema
    from gpurel.sources import sacct_text
    from gpurel.sources.base import ReadOptions

    tables = sacct_text.read(path, ReadOptions(tz=tz)).tables
    target = workdir / "insert.duckdb"
    for stale in (target, target.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)

    def work() -> int:
        con = duckdb.connect(str(target))
        con.execute("SET preserve_insertion_order = false")
        for name, table in tables.items():
            con.register("parsed", schema.conform(name, table))
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM parsed")
        con.close()
        return sum(t.num_rows for t in tables.values())

    return work


def pandas_read(path: Path, workdir: Path, tz: str, prefix: int) -> Work:
    """A plain pandas reader: read_csv as text, then the obvious conversions."""
    import csv

    import pandas as pd

    def work() -> int:
        frame = pd.read_csv(path, sep="|", dtype=str, keep_default_na=False, quoting=csv.QUOTE_NONE)
        for name in ("Submit", "Start", "End"):
            local = pd.to_datetime(frame[name], format=TIME_FORMAT, errors="coerce")
            frame[name] = local.dt.tz_localize(
                tz, ambiguous="NaT", nonexistent="shift_forward"
            ).dt.tz_convert("UTC")
        for name in ("Elapsed", "Timelimit"):
            days = frame[name].str.replace("-", " days ", regex=False)
            frame[name] = pd.to_timedelta(days, errors="coerce")
        for name in ("NNodes", "NCPUS"):
            frame[name] = pd.to_numeric(frame[name], errors="coerce")
        return len(frame)

    return work


def slurm2sql_import(path: Path, workdir: Path, tz: str, prefix: int) -> Work:
    """slurm2sql's CSV import of the first ``prefix`` rows into a fresh SQLite file."""
    import csv
    import itertools
    import sqlite3

    import slurm2sql

    target = workdir / "slurm2sql.sqlite3"
    target.unlink(missing_ok=True)
    with path.open(newline="") as handle:
        lines = list(itertools.islice(handle, prefix + 1))

    def work() -> int:
        db = sqlite3.connect(target)
        rows = csv.DictReader(lines, delimiter="|", quoting=csv.QUOTE_NONE)
        slurm2sql.slurm2sql(db, csv_input=rows, update=True)
        db.close()
        return len(lines) - 1

    return work


PEERS: dict[str, Callable[[Path, Path, str, int], Work]] = {
    "duckdb raw scan": duckdb_scan,
    "gpurel read": gpurel_read,
    "gpurel ingest": gpurel_ingest,
    "gpurel ingest pq": gpurel_ingest_parquet,
    "duckdb insert": duckdb_insert,
    "pandas": pandas_read,
    "slurm2sql": slurm2sql_import,
}


BASELINES = ("duckdb raw scan", "slurm2sql")  # every ratio is against these


def child(label: str, path: Path, workdir: Path, tz: str, prefix: int) -> dict[str, float]:
    """Set up one peer (imports, inputs), then time its work in this process."""
    return timed(PEERS[label](path, workdir, tz, prefix))


def measure(label: str, args: argparse.Namespace, path: Path, workdir: Path) -> dict[str, float]:
    """The fastest of ``--repeat`` runs of one peer, each in a fresh interpreter."""
    command = [__file__, "--child", label, "--file", str(path), "--workdir", str(workdir)]
    return fastest([*command, "--tz", args.tz, "--prefix", str(args.prefix)], args.repeat)


def report(results: dict[str, dict[str, float]], prefix: int) -> None:
    """The table of rates and ratios, and the targets."""
    rate = {label: r["rows"] / r["seconds"] for label, r in results.items()}
    limit, s2s = rate["duckdb raw scan"], rate["slurm2sql"]
    print(
        f"{'measurement':<17}{'rows':>11}{'wall s':>8}{'cpu s':>8}{'rows/s':>12}"
        f"{'peak MiB':>10}{'x raw scan':>12}{'x slurm2sql':>13}"
    )
    for label, r in results.items():
        print(
            f"{label:<17}{r['rows']:>11,.0f}{r['seconds']:>8.2f}{r['cpu_seconds']:>8.2f}"
            f"{rate[label]:>12,.0f}{r['peak_mib']:>10,.0f}{limit / rate[label]:>11.2f}x"
            f"{rate[label] / s2s:>12,.0f}x"
        )
    print(f"slurm2sql: first {prefix:,} rows imported, rows/s extrapolated; peak MiB of that run")
    print("x raw scan: times slower than the raw scan; x slurm2sql: times faster than slurm2sql")
    for label in ("gpurel read", "gpurel ingest", "gpurel ingest pq"):
        if label not in results:
            continue
        slow, fast = limit / rate[label], rate[label] / s2s
        print(
            f"{label}: {fast:,.0f}x slurm2sql (target >= 100x: {_verdict(fast >= 100)}), "
            f"{slow:.2f}x the raw scan (target <= 2x: {_verdict(slow <= 2)})"
        )
    _storing_overhead(results)


def _storing_overhead(results: dict[str, dict[str, float]]) -> None:
    """Ingest against its floor, gpurel read + DuckDB's own insert of the rows read (wall and
    CPU seconds): what gpurel's upsert adds beyond reading and storing."""
    floor = ("gpurel read", "duckdb insert")
    if not all(label in results for label in floor):
        return
    for label in ("gpurel ingest", "gpurel ingest pq"):
        if label not in results:
            continue
        ratios = [
            results[label][unit] / sum(results[f][unit] for f in floor)
            for unit in ("seconds", "cpu_seconds")
        ]
        print(
            f"{label}: {ratios[0]:.2f}x (wall), {ratios[1]:.2f}x (CPU) gpurel read + duckdb "
            f"insert (target <= 1.2x: {_verdict(max(ratios) <= 1.2)})"
        )


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def main() -> None:
    """Build the file, measure every peer, print the table and a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per peer; the fastest counts")
    parser.add_argument("--prefix", type=int, default=50_000, help="rows slurm2sql imports")
    parser.add_argument("--tz", default="Europe/Amsterdam", help="zone of the local times")
    parser.add_argument("--keep", type=Path, help="directory to keep the generated file in")
    parser.add_argument(
        "--only", nargs="+", choices=PEERS, help="measure these (and the raw scan and slurm2sql)"
    )
    parser.add_argument("--child", choices=PEERS, help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.file, args.workdir, args.tz, args.prefix)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        path = workdir / "sacct_bench.txt"
        lines = make_file(args.rows, path)
        size_mb = path.stat().st_size / 1e6
        print(
            f"input: {lines:,} lines, {len(FIELDS)} fields, {size_mb:.0f} MB; "
            f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
            f"load {os.getloadavg()[0]:.1f}; best of {args.repeat}"
        )
        chosen = [p for p in PEERS if not args.only or p in {*args.only, *BASELINES}]
        results = {label: measure(label, args, path, workdir) for label in chosen}
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    report(results, args.prefix)
    print(json.dumps({"lines": lines, "fields": len(FIELDS), "results": results}))


if __name__ == "__main__":
    main()
