"""Node-history reading: each line-oriented event reader against DuckDB's raw line scan.

Builds, for ``--lines`` lines each (1,000 nodes, one line every 0.1 s):

- kern.log: rsyslog ISO lines of the kernel and of other programs, 1% of them NVIDIA XID
  reports (``NVRM: Xid (PCI:...): 79, ...``), with the driver's "fallen off the bus" twin;
- nhc.log: the same syslog, 1% of its lines NHC's (``nhc[12]: Health check failed: ...``
  and its run banners);
- events.csv / events.jsonl: plain events (time, node, check, result, message), every line
  a record, 1% failing;
- sacctmgr.txt: ``sacctmgr show event -P`` with its default columns, every line an event.

Targets: a kernel log ingests in at most 3x the floor, every other file reads in at most 5x.
For each file it measures, each in its own child process, the floor — DuckDB's scan of
the file's lines into Arrow (``read_csv`` with one text column, no delimiter, quote or
escape) — then gpurel's reader (``read``) and ``gpurel ingest`` of the file into a fresh
DuckDB warehouse file. Each child imports its libraries before the clock starts and reports
wall and CPU seconds and its peak RSS; with ``--repeat N`` the fastest of N runs counts.
Prints lines/s and the ratio to the floor per reader, then one JSON line. Usage:
    uv run python bench/events.py [--lines 1000000] [--repeat 3] [--only kernel nhc ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from peers import Work, fastest, timed

START = datetime(2024, 5, 1, tzinfo=UTC)
NODES = 1000
EVERY = 100  # one line in EVERY is a record of interest (1%)
CHECKS = ["check_hw_ib", "check_fs_mount", "check_ps_service", "check_hw_gpu"]
OTHER = [
    "systemd[1]: Started Session {i} of user root.",
    "kernel: [{i}.123456] mlx5_core 0000:0c:00.0: mlx5_fw_tracer: FW tracer event {i}",
    "sshd[{i}]: Accepted publickey for root from 10.0.0.1 port 22 ssh2",
    "slurmd[412]: launch task StepId={i}.0 request from UID:1000 GID:1000",
]


def _stamp(i: int) -> str:
    return (START + timedelta(seconds=i / 10)).isoformat()


def _host(i: int) -> str:
    return f"gpu{i % NODES:04d}"


def _syslog(lines: int, special: Callable[[int], str]) -> list[str]:
    out = []
    for i in range(lines):
        text = special(i) if i % EVERY == 0 else OTHER[i % len(OTHER)].format(i=i)
        out.append(f"{_stamp(i)} {_host(i)} {text}\n")
    return out


def _xid(i: int) -> str:
    if (i // EVERY) % 5 == 4:
        return "kernel: NVRM: GPU 0000:10:1c.0: GPU has fallen off the bus."
    code = (79, 48, 63, 13)[(i // EVERY) % 4]
    return f"kernel: NVRM: Xid (PCI:0000:10:1c): {code}, pid={i}, name=python, GPU error {i}."


def _nhc(i: int) -> str:
    if (i // EVERY) % 3 == 0:
        return "nhc[12]: Node Health Check starting."
    check = CHECKS[(i // EVERY) % len(CHECKS)]
    return f"nhc[12]: Health check failed:  {check}:  problem number {i}"


def _event_values(i: int) -> tuple[str, str, str, str, str]:
    failing = i % EVERY == 0
    check = CHECKS[i % len(CHECKS)]
    return _stamp(i), _host(i), check, "fail" if failing else "ok", f"probe {i % 50} done"


def kernel_lines(lines: int) -> list[str]:
    """A kernel/syslog file with 1% XID lines."""
    return _syslog(lines, _xid)


def nhc_lines(lines: int) -> list[str]:
    """A syslog file with 1% NHC lines."""
    return _syslog(lines, _nhc)


def csv_lines(lines: int) -> list[str]:
    """Plain CSV events with a header."""
    rows = [",".join(_event_values(i)) + "\n" for i in range(lines - 1)]
    return ["time,node,check,result,message\n", *rows]


def jsonl_lines(lines: int) -> list[str]:
    """Plain JSON-lines events."""
    keys = ("time", "node", "check", "result", "message")
    return [json.dumps(dict(zip(keys, _event_values(i), strict=True))) + "\n" for i in range(lines)]


def sacctmgr_lines(lines: int) -> list[str]:
    """``sacctmgr show event -P`` with its default columns."""
    header = "Cluster|NodeName|TimeStart|TimeEnd|State|Reason|User\n"
    rows = []
    for i in range(lines - 1):
        start = (START + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S")
        end = (START + timedelta(seconds=i + 600)).strftime("%Y-%m-%dT%H:%M:%S")
        reason = f"NHC: {CHECKS[i % len(CHECKS)]}:  problem {i % 50}" if i % 2 else "Not responding"
        state = "DRAIN" if i % 2 else "DOWN*"
        rows.append(f"rsc1|{_host(i)}|{start}|{end}|{state}|{reason}|root(0)\n")
    return [header, *rows]


FILES: dict[str, tuple[str, str, Callable[[int], list[str]]]] = {
    # label: (file name, format, generator)
    "kernel": ("kern.log", "kernel-xid", kernel_lines),
    "nhc": ("nhc.log", "nhc-log", nhc_lines),
    "csv": ("events.csv", "events-csv", csv_lines),
    "jsonl": ("events.jsonl", "events-jsonl", jsonl_lines),
    "sacctmgr": ("sacctmgr.txt", "slurm-events", sacctmgr_lines),
}
STEPS = ("floor", "read", "ingest")
# the step each file is judged by, and its most time as a multiple of the floor
TARGETS: dict[str, tuple[str, float]] = {
    "kernel": ("ingest", 3),
    "nhc": ("read", 5),
    "csv": ("read", 5),
    "jsonl": ("read", 5),
    "sacctmgr": ("read", 5),
}


def floor(path: Path, fmt: str, workdir: Path) -> Work:
    """DuckDB's scan of the file's lines into Arrow: one text column, nothing parsed."""
    import duckdb

    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    query = (
        "select * from read_csv(?, columns={'line': 'VARCHAR'}, delim='\\x01', header=false, "
        "quote='', escape='', strict_mode=false)"
    )
    return lambda: con.execute(query, [str(path)]).to_arrow_table().num_rows


def read(path: Path, fmt: str, workdir: Path) -> Work:
    """gpurel's reader of the format, every line accounted for."""
    from gpurel.ingest import readers
    from gpurel.sources.base import ReadOptions

    reader = readers()[fmt]

    def work() -> int:
        result = reader.read(path, ReadOptions(tz="UTC", year=2024))
        assert result.lines + result.expanded == result.records + result.rejects.num_rows + (
            result.skipped
        )
        return result.lines

    return work


def ingest(path: Path, fmt: str, workdir: Path) -> Work:
    """``gpurel ingest`` into a fresh DuckDB warehouse file."""
    from gpurel.ingest import ingest_file
    from gpurel.sources.base import ReadOptions
    from gpurel.warehouse import Warehouse

    Warehouse.in_memory().close()  # Ibis loads its DuckDB backend on first use: not the work
    target = workdir / "events_bench.duckdb"
    for stale in (target, target.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)

    def work() -> int:
        warehouse = Warehouse.open(target)
        outcome = ingest_file(warehouse, path, ReadOptions(tz="UTC", year=2024), fmt)
        warehouse.close()
        if not outcome.ok or outcome.unaccounted:
            raise RuntimeError(outcome.error or f"{outcome.unaccounted} lines unaccounted")
        return outcome.lines

    return work


WORK: dict[str, Callable[[Path, str, Path], Work]] = {
    "floor": floor,
    "read": read,
    "ingest": ingest,
}


def child(step: str, path: Path, fmt: str, workdir: Path) -> dict[str, float]:
    """Set up one step (imports), then time its work in this process."""
    return timed(WORK[step](path, fmt, workdir))


def measure(step: str, path: Path, fmt: str, workdir: Path, repeat: int) -> dict[str, float]:
    """The fastest of ``repeat`` runs of one step, each in a fresh interpreter."""
    command = [__file__, "--child", step, "--file", str(path), "--format", fmt]
    return fastest([*command, "--workdir", str(workdir)], repeat)


def report(results: dict[str, dict[str, dict[str, float]]]) -> None:
    """Per file: each step's time, lines/s and ratio to the floor."""
    print(f"{'file':<10}{'step':<8}{'lines':>11}{'wall s':>8}{'cpu s':>8}{'lines/s':>12}"
          f"{'peak MiB':>10}{'x floor':>9}")  # fmt: skip
    for label, steps in results.items():
        base = steps["floor"]["seconds"]
        for step, r in steps.items():
            print(
                f"{label:<10}{step:<8}{r['rows']:>11,.0f}{r['seconds']:>8.2f}"
                f"{r['cpu_seconds']:>8.2f}{r['rows'] / r['seconds']:>12,.0f}"
                f"{r['peak_mib']:>10,.0f}{r['seconds'] / base:>8.2f}x"
            )
    for label, steps in results.items():
        step, most = TARGETS[label]
        ratio = steps[step]["seconds"] / steps["floor"]["seconds"]
        verdict = "met" if ratio <= most else "MISSED"
        print(f"{label} {step}: {ratio:.2f}x the raw line scan (target <= {most}x: {verdict})")


def main() -> None:
    """Build the files, measure every step, print the table and a JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per step; the fastest counts")
    parser.add_argument("--only", nargs="+", choices=FILES, help="measure these files only")
    parser.add_argument("--keep", type=Path, help="directory to keep the generated files in")
    parser.add_argument("--child", choices=WORK, help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--format", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.file, args.format, args.workdir)))
        return
    print(
        f"{args.lines:,} lines a file; {os.cpu_count()} CPUs, "
        f"{platform.processor() or platform.machine()}, load {os.getloadavg()[0]:.1f}; "
        f"best of {args.repeat}"
    )
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for label in args.only or FILES:
            name, fmt, make = FILES[label]
            path = workdir / name
            if not path.exists():
                with path.open("w") as handle:
                    handle.writelines(make(args.lines))
            print(f"{label}: {path.stat().st_size / 1e6:.0f} MB", flush=True)
            results[label] = {s: measure(s, path, fmt, workdir, args.repeat) for s in STEPS}
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    report(results)
    print(json.dumps({"lines": args.lines, "results": results}))


if __name__ == "__main__":
    main()
