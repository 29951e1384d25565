"""Analysis speed and memory: attribution + metrics on synthetic clusters, DuckDB and Spark.

``gpurel analyze`` in full (``summary.analyze``: attribution, window sensitivity, node-days,
episodes, r_f, MTTF, runs and ETTR, lemons, ...) on the synthetic cluster of ``synthetic.py``
(2,000 nodes, one job attempt per 25 health-check records, a period that grows with the size).
Each analysis runs in a child process; its peak memory is sampled from /proc over the child and
its descendants (Spark's JVM included). Sections, each with ratios to a baseline of this run:

1. scaling, DuckDB warehouse file: from ``--max-events`` records halving down to the first
   size at most ``--min-events`` (10^8 → 97,656), smallest first. Ratios to the smallest size:
   time, time per record and memory; and ``step``, time per record against the size before
   (half as many records): 1.00 = linear growth, where fixed costs no longer dominate.
2. target: the largest size (4M attempts + 10^8 records by default) against the targets,
   5 minutes and 8 GB on this machine.
3. Spark local (reference), ``--spark-events`` records as a Parquet warehouse: Spark against
   DuckDB on the same directory (the baseline).
4. a simulated month (``gpurel simulate --preset rsc1 --scale 0.1 --days 30``, about 22k
   attempts) as a Parquet warehouse, on DuckDB and on Spark local: seconds, engine queries
   and, on Spark, Spark jobs; the Spark/DuckDB time ratio against its target (4x). ``--month
   DIR`` analyses an existing warehouse instead; ``--month-only`` runs this section alone.

Every analysis counts its engine queries: the outermost calls of the Ibis backend's entry
points that run an expression (``execute``, ``to_pyarrow``, ``to_pyarrow_batches``,
``create_table``, ``_create_cached_table``), each charged to the analysis step that issued it.
``--profile`` adds the seconds of every top-level step of the analysis (which query
dominates) and the queries per step. Usage:
    uv run python bench/analysis.py [--max-events 1e8] [--min-events 1e5] [--spark-events 1e7]
        [--spark-memory 8g] [--fail-share 0.05] [--profile] [--no-spark] [--keep DIR]
        [--month DIR] [--month-only] [--spark-partitions N]
"""

from __future__ import annotations

import argparse
import inspect
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import synthetic

TARGET_EVENTS = 99_000_000  # 10^8 records, give or take the generator's rounding
TARGET_S = 300
TARGET_GIB = 8
SPARK_RATIO_TARGET = 4.0  # Spark local's time over DuckDB's on the simulated month
QUERY_METHODS = ("execute", "to_pyarrow", "to_pyarrow_batches", "create_table")
CACHE_METHOD = "_create_cached_table"
MONTH = ("--preset", "rsc1", "--scale", "0.1", "--days", "30")


def _rss_kib(pid: int) -> int:
    """Resident memory of one process, 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(root: int) -> list[int]:
    """``root`` and its live descendants."""
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            try:
                queue += [int(c) for c in task.read_text().split()]
            except OSError:
                continue
    return found


class PeakMemory:
    """Samples the summed RSS of a process tree every 50 ms, from start to ``stop``."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_kib, self._done = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(0.05):
            total = sum(_rss_kib(p) for p in _tree(self.pid))
            self.peak_kib = max(self.peak_kib, total)

    def stop(self) -> float:
        """Stop sampling; the peak in MiB."""
        self._done.set()
        self._thread.join()
        return self.peak_kib / 1024


def profiled() -> dict[str, float]:
    """Time every top-level step of ``summary.analyze``: the returned dict fills as it runs.

    Wraps the functions of the ``gpurel.analysis`` modules (and those ``summary`` imported by
    name); a call made inside another wrapped call counts for the outer one only.
    """
    import importlib
    import pkgutil
    import types

    import gpurel.analysis
    from gpurel.analysis import summary

    seconds: dict[str, float] = {}
    depth = 0

    def timed(label: str, function: Callable[..., object]) -> Callable[..., object]:
        def wrapper(*args: object, **kwargs: object) -> object:
            nonlocal depth
            depth += 1
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                depth -= 1
                if depth == 0:
                    seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - began

        return wrapper

    for info in pkgutil.iter_modules(gpurel.analysis.__path__):
        module = importlib.import_module(f"gpurel.analysis.{info.name}")
        for name, value in vars(module).items():
            is_step = isinstance(value, types.FunctionType) and value.__module__.startswith(
                "gpurel.analysis"
            )
            if is_step and not (module is summary and name in ("analyze", "to_json")):
                label = f"{value.__module__.removeprefix('gpurel.analysis.')}.{name}"
                setattr(module, name, timed(label, value))
    return seconds


class QueryCounter:
    """Counts the engine queries of one Ibis backend, each charged to the analysis step (the
    function ``summary.analyze`` called) that issued it; a query made inside another counts
    once."""

    def __init__(self, backend: object) -> None:
        self.by_step: dict[str, int] = {}
        self.seconds: dict[str, float] = {}  # the queries' seconds, per step
        self._depth = 0
        for name in (*QUERY_METHODS, CACHE_METHOD):
            if hasattr(backend, name):
                setattr(backend, name, self._counted(getattr(backend, name)))

    @property
    def total(self) -> int:
        """Queries counted so far."""
        return sum(self.by_step.values())

    def _counted(self, method: Callable[..., object]) -> Callable[..., object]:
        def wrapper(*args: object, **kwargs: object) -> object:
            if self._depth:
                return method(*args, **kwargs)
            step = _step()
            self.by_step[step] = self.by_step.get(step, 0) + 1
            self._depth += 1
            began = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self._depth -= 1
                spent = time.perf_counter() - began
                self.seconds[step] = self.seconds.get(step, 0.0) + spent

        return wrapper


def _step() -> str:
    """The analysis step running now: the gpurel function closest to ``summary.analyze`` on
    the stack, past its wrappers (``_from_events`` and lambdas); "outside" when not analysing."""
    step = "outside"
    for frame in inspect.stack(context=0):
        path = Path(frame.filename)
        if "gpurel" not in path.parts:
            continue
        if path.name == "summary.py" and frame.function == "analyze":
            return step
        if frame.function not in ("<lambda>", "_from_events"):
            step = f"{path.stem}.{frame.function}"
    return "outside"


def _spark_jobs() -> int:
    """Spark jobs run so far in this process's session (0 without one)."""
    from pyspark import SparkContext

    context = SparkContext._active_spark_context
    return 0 if context is None else len(context.statusTracker().getJobIdsForGroup(None))


def child(engine: str, target: str, args: argparse.Namespace) -> None:
    """Analyze ``target`` on ``engine`` in this process; print seconds and steps as JSON."""
    from gpurel.analysis import summary
    from gpurel.warehouse import Warehouse

    if engine == "spark":
        from pyspark.sql import SparkSession

        builder = (
            SparkSession.builder.master("local[2]")
            .config("spark.driver.memory", args.spark_memory)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.ui.retainedJobs", "100000")
        )
        if args.spark_partitions:
            builder = builder.config("spark.sql.shuffle.partitions", str(args.spark_partitions))
        builder.getOrCreate()  # gpurel's session (engines.spark_session) joins it
    warehouse = Warehouse.open(target, engine=engine, read_only=True)
    steps = profiled() if args.profile else {}
    queries = QueryCounter(warehouse.con)
    jobs_before = _spark_jobs() if engine == "spark" else 0
    began = time.perf_counter()
    result = summary.analyze(warehouse)
    seconds = time.perf_counter() - began
    overview = result.overview
    counts = {"attempts": overview["job_attempts"], "events": overview["node_events"]}
    engine_counts = {
        "queries": queries.total,
        "queries_by_step": queries.by_step,
        "query_seconds_by_step": queries.seconds,
        "spark_jobs": _spark_jobs() - jobs_before if engine == "spark" else None,
    }
    print(json.dumps({"seconds": seconds, "steps": steps} | counts | engine_counts))


def analyze(engine: str, target: Path, args: argparse.Namespace) -> dict:
    """Analyze ``target`` on ``engine`` in a child process: seconds, peak MiB, steps."""
    command = [sys.executable, __file__, "--child", engine, str(target)]
    command += ["--spark-memory", args.spark_memory]
    command += ["--spark-partitions", str(args.spark_partitions)] if args.spark_partitions else []
    command += ["--profile"] if args.profile else []
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    memory = PeakMemory(process.pid)
    out, _ = process.communicate()
    peak = memory.stop()
    if process.returncode:
        raise SystemExit(f"{engine} analysis of {target} failed ({process.returncode})")
    return json.loads(out.strip().splitlines()[-1]) | {"peak_mib": peak}


def build(size: synthetic.Size, workdir: Path, duckdb_file: bool) -> tuple[Path, float]:
    """The synthetic cluster as a Parquet directory (and a DuckDB file); seconds taken."""
    began = time.perf_counter()
    parquet = workdir / f"cluster_{size.events}"
    synthetic.write_parquet(size, parquet)
    if not duckdb_file:
        return parquet, time.perf_counter() - began
    path = workdir / f"cluster_{size.events}.duckdb"
    synthetic.write_duckdb(parquet, path)
    shutil.rmtree(parquet)
    return path, time.perf_counter() - began


COLUMNS = (("", 10), ("records", 13), ("attempts", 11), ("seconds", 9), ("peak MiB", 10))
RATIOS = (("time", 10), ("per rec.", 10), ("step", 10), ("memory", 10))
HEADER = "".join(f"{n:<{w}}" if not n else f"{n:>{w}}" for n, w in COLUMNS + RATIOS)


def _per_record(r: dict, base: dict) -> float:
    """Time per record of ``r`` over that of ``base``: 1.00 = linear growth."""
    return (r["seconds"] / base["seconds"]) / (r["events"] / base["events"])


def _row(label: str, r: dict, base: dict, previous: dict | None = None) -> str:
    """One measurement with its ratios: to ``base``, and per record to ``previous`` (step)."""
    step = "" if previous is None else f"{_per_record(r, previous):.2f}x"
    ratios = (
        f"{r['seconds'] / base['seconds']:.2f}x",
        f"{_per_record(r, base):.2f}x",
        step,
        f"{r['peak_mib'] / base['peak_mib']:.2f}x",
    )
    values = (f"{r['events']:>13,}", f"{r['attempts']:>11,}", f"{r['seconds']:>9.1f}")
    return f"{label:<10}{''.join(values)}{r['peak_mib']:>10,.0f}" + "".join(
        f"{x:>10}" for x in ratios
    )


def _steps(r: dict) -> None:
    for name, seconds in sorted(r["steps"].items(), key=lambda kv: -kv[1])[:12]:
        print(f"    {name:<32}{seconds:>8.1f} s")


def scaling(args: argparse.Namespace, workdir: Path) -> list[dict]:
    """Section 1: the DuckDB warehouse file from ``--min-events`` to ``--max-events``."""
    sizes = [int(args.max_events)]
    while sizes[-1] > args.min_events:
        sizes.append(sizes[-1] // 2)
    results = []
    print("1. scaling, DuckDB warehouse file (ratios to the smallest size)")
    print(HEADER)
    for events in reversed(sizes):
        size = synthetic.Size(events, args.fail_share)
        path, built = build(size, workdir, duckdb_file=True)
        r = analyze("duckdb", path, args) | {"built_s": built}
        results.append(r)
        print(_row("duckdb", r, results[0], results[-2] if len(results) > 1 else None), flush=True)
        if args.profile:
            _steps(r)
        if not args.keep:
            path.unlink()
    return results


def target(largest: dict) -> None:
    """Section 2: the largest size against the targets."""
    minutes, gib = largest["seconds"] / 60, largest["peak_mib"] / 1024
    verdict = "met" if largest["seconds"] <= TARGET_S and gib <= TARGET_GIB else "MISSED"
    if largest["events"] < TARGET_EVENTS:
        verdict += f" (but the target is for {TARGET_EVENTS:,} records)"
    print(
        f"\n2. target ({largest['attempts']:,} attempts + {largest['events']:,} records): "
        f"{minutes:.1f} min of {TARGET_S / 60:.0f}, {gib:.1f} GiB of {TARGET_GIB}: {verdict}"
        f" (data built in {largest['built_s']:.0f} s, not counted)"
    )


def spark(args: argparse.Namespace, workdir: Path) -> list[dict]:
    """Section 3: Spark local against DuckDB on one Parquet warehouse directory."""
    size = synthetic.Size(int(args.spark_events), args.fail_share)
    path, _ = build(size, workdir, duckdb_file=False)
    print("\n3. Spark local[2] (reference) against DuckDB on the same Parquet warehouse")
    print(HEADER)
    base = analyze("duckdb", path, args)
    print(_row("duckdb", base, base), flush=True)
    on_spark = analyze("spark", path, args)
    print(_row("spark", on_spark, base), flush=True)
    if args.profile:
        _steps(on_spark)
    return [base, on_spark]


def simulated_month(args: argparse.Namespace, workdir: Path) -> Path:
    """The warehouse of section 4: ``--month``, else a month simulated into ``workdir``."""
    if args.month:
        return args.month
    path = workdir / "month"
    gpurel = Path(sys.executable).with_name("gpurel")
    command = [str(gpurel), "simulate", *MONTH, "--json", "--warehouse", str(path)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return path


def _queries(label: str, r: dict, base: dict) -> str:
    jobs = "" if r["spark_jobs"] is None else f"{r['spark_jobs']:>12,}"
    ratio = f"{r['seconds'] / base['seconds']:.2f}x"
    return f"{label:<10}{r['seconds']:>9.1f}{ratio:>10}{r['queries']:>10,}{jobs}"


def month(args: argparse.Namespace, workdir: Path) -> list[dict]:
    """Section 4: the simulated month on DuckDB and Spark local: time and engine queries."""
    path = simulated_month(args, workdir)
    print(f"\n4. simulated month ({' '.join(MONTH)}), Parquet warehouse {path}")
    print(f"{'':<10}{'seconds':>9}{'time':>10}{'queries':>10}{'Spark jobs':>12}")
    base = analyze("duckdb", path, args)
    print(_queries("duckdb", base, base), flush=True)
    results = [base]
    if not args.no_spark:
        on_spark = analyze("spark", path, args)
        print(_queries("spark", on_spark, base), flush=True)
        ratio = on_spark["seconds"] / base["seconds"]
        verdict = "met" if ratio <= SPARK_RATIO_TARGET else "MISSED"
        print(f"   Spark/DuckDB time {ratio:.2f}x, target <= {SPARK_RATIO_TARGET:g}x: {verdict}")
        results.append(on_spark)
    if args.profile:
        for r in results:
            spent = r["query_seconds_by_step"]
            for step, n in sorted(r["queries_by_step"].items(), key=lambda kv: -spent[kv[0]]):
                print(f"    {step:<40}{n:>5} queries{spent[step]:>8.1f} s")
    return results


def main() -> None:
    """Run the sections and print one JSON line with every measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-events", type=float, default=1e8)
    parser.add_argument("--min-events", type=float, default=1e5)
    parser.add_argument("--spark-events", type=float, default=1e7)
    parser.add_argument("--spark-memory", default="8g", help="Spark driver memory")
    parser.add_argument(
        "--spark-partitions", type=int, help="shuffle partitions (default: gpurel's local default)"
    )
    parser.add_argument("--fail-share", type=float, default=0.05, help="failing records")
    parser.add_argument("--profile", action="store_true", help="seconds per analysis step")
    parser.add_argument("--no-spark", action="store_true", help="skip section 3")
    parser.add_argument("--keep", type=Path, help="keep the generated warehouses here")
    parser.add_argument("--month", type=Path, help="section 4's warehouse (default: simulate)")
    parser.add_argument("--month-only", action="store_true", help="run section 4 alone")
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "WAREHOUSE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        engine, warehouse = args.child
        child(engine, warehouse, args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        results = {}
        if not args.month_only:
            results["scaling"] = scaling(args, workdir)
            target(results["scaling"][-1])
            if not args.no_spark:
                results["spark"] = spark(args, workdir)
        results["month"] = month(args, workdir)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
