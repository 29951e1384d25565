"""Ingest speed and memory: gpurel's sacct reader against DuckDB's raw text scan.

Builds a sacct --parsable2 file of at least ``--rows`` lines by repeating the real Habrok dump
(../shared/data/habrok_sacct_rug) with renumbered job ids, then measures in child processes,
each on the same file in this run:

- baseline: DuckDB ``read_csv`` of every field as text into Arrow (no parsing): the limit;
- gpurel read: the sacct reader to canonical Arrow tables (parse, convert, reject);
- gpurel ingest: read + upsert into a fresh DuckDB warehouse file.

Prints rows/s, peak RSS and the ratio to the baseline.  Usage:
    uv run python bench/ingest.py [--rows 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HABROK = REPO.parent / "shared" / "data" / "habrok_sacct_rug" / "sacct.txt"
HABROK_FIELDS = [
    "JobID",
    "JobName",
    "User",
    "Partition",
    "NodeList",
    "NNodes",
    "NCPUs",
    "NTasks",
    "State",
    "Submit",
    "Start",
    "End",
    "Timelimit",
    "Elapsed",
    "TotalCPU",
    "CPUTime",
    "UserCPU",
    "SystemCPU",
    "ReqMem",
    "MaxRSS",
    "MaxVMSize",
    "ReqTRES",
    "AllocTRES",
    "TRESUsageInMax",
    "TRESUsageInTot",
    "TRESUsageOutTot",
    "MaxDiskRead",
    "MaxDiskWrite",
    "MaxRSSNode",
    "MaxRSSTask",
    "MaxVMSizeNode",
    "MaxVMSizeTask",
    "MaxDiskReadNode",
    "MaxDiskReadTask",
    "MaxDiskWriteNode",
    "MaxDiskWriteTask",
    "Comment",
]

CHILD = {
    "duckdb raw scan": """
import duckdb, sys, time
start = time.perf_counter()
path = sys.argv[1].replace("'", "''")
table = duckdb.connect().execute(
    f"select * from read_csv('{path}', delim='|', header=true, all_varchar=true,"
    " quote='', escape='')"
).to_arrow_table()
print(table.num_rows)
""",
    "gpurel read": """
import sys, time
from pathlib import Path
from gpurel.sources import sacct_text
from gpurel.sources.base import ReadOptions
start = time.perf_counter()
r = sacct_text.read(Path(sys.argv[1]), ReadOptions(tz="UTC"))
print(r.rows("jobs") + r.rows("steps") + r.rejects.num_rows)
""",
    "gpurel ingest": """
import sys, time
from pathlib import Path
from gpurel.ingest import ingest_file
from gpurel.sources.base import ReadOptions
from gpurel.warehouse import Warehouse
start = time.perf_counter()
w = Warehouse.open(Path(sys.argv[2]) / "bench.duckdb")
o = ingest_file(w, Path(sys.argv[1]), ReadOptions(tz="UTC"), "sacct")
assert o.ok, o.error
print(sum(o.rows.values()) + o.rejected)
""",
}


def make_file(rows: int, out: Path) -> int:
    """Repeat the Habrok dump, renumbering job ids, as parsable2 with '|' and a header."""
    # --parsable ends each line with one delimiter: drop it (only it) to get parsable2
    lines = [line.removesuffix("\u2603") for line in HABROK.read_text().splitlines()]
    lines = [line.replace("|", "/").replace("\u2603", "|") for line in lines if line]
    written = 0
    with out.open("w") as handle:
        handle.write("|".join(HABROK_FIELDS) + "\n")
        copy = 0
        while written < rows:
            offset = copy * 10_000_000
            for line in lines:
                job_id, rest = line.split("|", 1)
                head, dot, step = job_id.partition(".")
                base, under, task = head.partition("_")
                renumbered = f"{int(base) + offset}{under}{task}{dot}{step}"
                handle.write(f"{renumbered}|{rest}\n")
                written += 1
            copy += 1
    return written


# each child prints its row count, then (here) its work time and its own peak RSS
REPORT = (
    "\nimport resource\nprint(time.perf_counter() - start)\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
)


def measure(label: str, path: Path, workdir: Path) -> dict[str, float]:
    """Run one child, returning its work seconds (imports excluded), rows and peak RSS."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD[label] + REPORT, str(path), str(workdir)],
        check=True,
        capture_output=True,
        text=True,
    )
    rows, seconds, peak_kib = out.stdout.strip().splitlines()[-3:]
    return {"seconds": float(seconds), "rows": int(rows), "peak_mib": int(peak_kib) / 1024}


def main() -> None:
    """Build the file, run every measurement, print the table and a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="directory to keep the generated file in")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        path = workdir / "sacct_bench.txt"
        lines = make_file(args.rows, path)
        size_mb = path.stat().st_size / 1e6
        print(f"input: {lines:,} lines, {size_mb:.0f} MB ({path.name})")
        results = {label: measure(label, path, workdir) for label in CHILD}
    base = results["duckdb raw scan"]
    print(f"{'measurement':<18}{'seconds':>9}{'rows/s':>12}{'peak MiB':>10}{'x baseline':>12}")
    for label, r in results.items():
        rate = r["rows"] / r["seconds"]
        ratio = r["seconds"] / base["seconds"]
        print(f"{label:<18}{r['seconds']:>9.2f}{rate:>12,.0f}{r['peak_mib']:>10.0f}{ratio:>11.2f}x")
    print(json.dumps({"lines": lines, "results": results}))


if __name__ == "__main__":
    main()
