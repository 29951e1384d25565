"""Public job traces (FORMATs ``dirlab-trace``, ``k8s-pods`` and ``k8s-nodes``).

All three are CSV files with a header line naming exactly the columns below (in any order,
case-insensitive); the sniffers claim no other CSV file. Fields are not quoted: a quote is
part of its value. Times in these traces are whole seconds relative to the trace's start,
which neither trace records as a wallclock: day 0 is ``options.trace_start`` (a naive value is
UTC) or, by default, 1970-01-01T00:00:00Z, so that stored times read as "time since the trace
began". Counts and seconds must be whole numbers. Lines with no value at all (blank, or only
commas) are skipped; a file read with an explicit ``--format`` may have extra columns.

``dirlab-trace``: the common schema of github.com/DIR-LAB/Gen-Parallel-Workloads, in which the
Helios (SenseTime), Philly (Microsoft) and Blue Waters (NCSA) traces are published:
``u_id,user,gpu_num,cpu_num,node_num,interval,run_time,wall_time,new_status``. One jobs row per
line: job_id = ``u_id``, user = ``user``; submit_time = day 0 + the running sum of ``interval``
(seconds since the previous job's submission; a rejected row's interval still counts when it
is a valid number); the trace has no queue time, so start_time = submit_time and end_time =
start_time + ``run_time`` (elapsed = ``run_time``); time_limit = ``wall_time``, 0 = none
recorded (Helios and Philly) -> null; state Pass -> COMPLETED, Failed -> FAILED, Killed ->
CANCELLED with the raw value in state_raw; n_gpus, n_cpus, n_nodes from ``gpu_num``,
``cpu_num``, ``node_num`` (``gpu_num`` 0 is a CPU-only job; a ``cpu_num`` or ``node_num`` of 0
means not recorded, as Philly's CPUs, -> null). cluster = ``options.cluster`` unless it is
``default``, else the trace's name guessed from the file name (helios, philly, blue_waters;
otherwise ``default``).

``k8s-pods``: the Alibaba GPU cluster trace v2023 (github.com/alibaba/clusterdata,
``openb_pod_list_*.csv``): ``name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,
pod_phase,creation_time,deletion_time,scheduled_time``. One jobs row per pod: job_id =
``name``, qos = ``qos``, submit_time = day 0 + ``creation_time``, start_time = day 0 +
``scheduled_time`` (null when the pod was never scheduled), end_time = day 0 +
``deletion_time`` (null when absent); state from ``pod_phase``: Succeeded -> COMPLETED, Failed
-> FAILED, Running -> RUNNING, Pending -> PENDING, Unknown -> UNKNOWN; n_cpus =
ceil(``cpu_milli`` / 1000); n_nodes = 1 for a scheduled pod (a pod runs on one node; the trace
does not say which), else null. n_gpus = ``num_gpu``: a pod with ``gpu_milli`` < 1000 holds a
fractional share of one GPU (GPU sharing) and counts as a 1-GPU job, since a failure of that
GPU ends it; GPU-hours of such pods are therefore an upper bound. A 0-GPU pod is a CPU-only
job (n_gpus 0), kept like the CPU-only jobs of the other traces. cluster = ``options.cluster``
unless ``default``, else ``alibaba_openb`` for ``openb_*`` files.

``k8s-nodes``: the same trace's node list (``openb_node_list_*.csv``: ``sn,cpu_milli,
memory_mib,gpu,model``) as the ``nodes`` inventory: node = ``sn``, gpus = ``gpu`` (0 for CPU
nodes). The list has no dates, so the in-service span is null: in service over the whole
analysis period.

Rejects (file, line, field, reason) take rows with too few or too many fields, a missing or
non-numeric number, a negative duration or time, an unknown status or phase, a pod scheduled
or deleted before it was created, and times past the year 9999. source = the file's path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

from gpurel import schema
from gpurel.errors import InputError
from gpurel.schema import JobState
from gpurel.sources.base import Reader, ReadOptions, ReadResult, RejectSink, read_text
from gpurel.sources.event_rows import first_line

DIRLAB_FORMAT = "dirlab-trace"
PODS_FORMAT = "k8s-pods"
NODES_FORMAT = "k8s-nodes"

DIRLAB_COLUMNS = (
    "u_id",
    "user",
    "gpu_num",
    "cpu_num",
    "node_num",
    "interval",
    "run_time",
    "wall_time",
    "new_status",
)
POD_COLUMNS = (
    "name",
    "cpu_milli",
    "memory_mib",
    "num_gpu",
    "gpu_milli",
    "gpu_spec",
    "qos",
    "pod_phase",
    "creation_time",
    "deletion_time",
    "scheduled_time",
)
NODE_COLUMNS = ("sn", "cpu_milli", "memory_mib", "gpu", "model")

TRACE_START = datetime(1970, 1, 1, tzinfo=UTC)  # day 0 when options.trace_start is not given

DIRLAB_STATES = {
    "pass": JobState.COMPLETED,
    "failed": JobState.FAILED,
    "killed": JobState.CANCELLED,
}
POD_STATES = {
    "succeeded": JobState.COMPLETED,
    "failed": JobState.FAILED,
    "running": JobState.RUNNING,
    "pending": JobState.PENDING,
    "unknown": JobState.UNKNOWN,
}
DIRLAB_CLUSTERS = (
    ("blue_waters", "blue_waters"),
    ("bluewaters", "blue_waters"),
    ("helios", "helios"),
    ("philly", "philly"),
)
POD_CLUSTERS = (("openb", "alibaba_openb"),)

COUNT_DIGITS = 9  # counts fit int32
SECOND_DIGITS = 12  # < 31,700 years
_US = 1_000_000
_LAST_US = (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) - TRACE_START) // timedelta(
    microseconds=1
)


def _header(head: str) -> list[str]:
    return [name.strip().lower() for name in first_line(head).split(",")]


def _exactly(columns: Sequence[str]) -> Callable[[str], bool]:
    def sniff(head: str) -> bool:
        names = _header(head)
        return len(names) == len(columns) and set(names) == set(columns)

    sniff.__doc__ = f"A CSV header of exactly {', '.join(columns)}."
    return sniff


sniff_dirlab = _exactly(DIRLAB_COLUMNS)
sniff_pods = _exactly(POD_COLUMNS)
sniff_nodes = _exactly(NODE_COLUMNS)


# --- the CSV body, as text columns ----------------------------------------------------------


@dataclass
class _Rows:
    """The file's data rows as trimmed text columns, with their lines and raw text."""

    values: dict[str, pa.Array]
    lines: np.ndarray  # 1-based line of each row
    raw: pa.Array
    invalid: list[tuple[int | None, str, str]]  # (line, text, reason): wrong number of fields
    total: int  # the file's lines
    skipped: int  # lines without a record: blank ones and those up to the header

    @property
    def size(self) -> int:
        return len(self.lines)


def _load(path: Path, columns: Sequence[str]) -> _Rows:
    text = read_text(path).lstrip("\ufeff")
    offset, header_line = 0, 1
    while True:  # the header is the first non-blank line
        end = text.find("\n", offset)
        line = text[offset:] if end < 0 else text[offset:end]
        if line.strip():
            break
        if end < 0:
            raise InputError(str(path), "empty file")
        offset, header_line = end + 1, header_line + 1
    names = [name.strip().lower() for name in line.split(",")]
    doubled = sorted({name for name in names if names.count(name) > 1})
    if doubled:
        raise InputError(str(path), f"line {header_line}: CSV header repeats {', '.join(doubled)}")
    missing = [name for name in columns if name not in names]
    if missing:
        raise InputError(str(path), f"line {header_line}: CSV header lacks {', '.join(missing)}")
    body = "" if end < 0 else text[end + 1 :]
    rows = _parse(body, names, columns, header_line)
    rows.total = text.count("\n") + (not text.endswith("\n"))
    return rows


def _parse(body: str, names: list[str], columns: Sequence[str], header_line: int) -> _Rows:
    invalid: list[tuple[int | None, str, str]] = []

    def keep_aside(row: pv.InvalidRow) -> str:
        line = None if row.number is None else header_line + row.number
        reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
        invalid.append((line, row.text, reason))
        return "skip"

    if body.strip():
        table = pv.read_csv(
            pa.BufferReader(body.encode("utf-8")),
            read_options=pv.ReadOptions(column_names=names, use_threads=False),
            parse_options=pv.ParseOptions(
                quote_char=False, ignore_empty_lines=False, invalid_row_handler=keep_aside
            ),
            convert_options=pv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
            ),
        ).combine_chunks()
    else:
        table = pa.table({name: pa.array([], pa.string()) for name in names})
    bad = np.array([n for n, _, _ in invalid if n is not None], np.int64)
    total = table.num_rows + len(invalid)
    lines = np.setdiff1d(np.arange(header_line + 1, header_line + total + 1, dtype=np.int64), bad)
    if len(lines) != table.num_rows:  # a row number pyarrow could not tell: lines unknown
        lines = np.zeros(table.num_rows, np.int64)
    raw = pc.binary_join_element_wise(*[table.column(n) for n in names], ",")
    if isinstance(raw, pa.ChunkedArray):
        raw = raw.combine_chunks()
    values = {n: pc.utf8_trim_whitespace(table.column(n)).combine_chunks() for n in columns}
    # blank lines (no value at all) are not rows
    blank = np.ones(table.num_rows, bool)
    for name in names:
        blank &= _mask(pc.equal(pc.utf8_trim_whitespace(table.column(name)), ""))
    keep = pa.array(~blank)
    kept = [(n, t, why) for n, t, why in invalid if t.replace(",", "").strip()]
    return _Rows(
        values={n: v.filter(keep) for n, v in values.items()},
        lines=lines[~blank],
        raw=raw.filter(keep),
        invalid=kept,
        total=0,
        skipped=header_line + int(blank.sum()) + len(invalid) - len(kept),
    )


def _mask(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean array as numpy, null = False."""
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


# --- checks that send rows to rejects -------------------------------------------------------


@dataclass
class _Checks:
    """Rows found bad so far, each with the first field and reason found."""

    rows: _Rows
    bad: np.ndarray = field(init=False)
    found: list[tuple[int, str, str]] = field(default_factory=list)  # row index, field, reason

    def __post_init__(self) -> None:
        self.bad = np.zeros(self.rows.size, bool)

    def fail(self, mask: np.ndarray, name: str, reason: Callable[[str], str]) -> None:
        """Reject the rows of ``mask`` not rejected yet, for ``reason(value)`` of field name."""
        new = np.flatnonzero(mask & ~self.bad)
        if new.size:
            self.bad[new] = True
            values = self.rows.values[name].take(pa.array(new)).to_pylist()
            self.found.extend((int(i), name, reason(v)) for i, v in zip(new, values, strict=True))

    def empty(self, name: str) -> np.ndarray:
        return _mask(pc.equal(self.rows.values[name], ""))

    def required(self, name: str) -> pa.Array:
        """Reject rows where ``name`` is blank; the values."""
        self.fail(self.empty(name), name, lambda _: f"missing {name}")
        return self.rows.values[name]

    def whole(
        self, name: str, digits: int, *, required: bool = True, what: str = "number"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Whole numbers of column ``name`` (0 where bad or blank) and where they are given."""
        values = self.rows.values[name]
        blank = self.empty(name)
        if required:
            self.fail(blank, name, lambda _: f"missing {name}")
        negative = _mask(pc.match_substring_regex(values, r"^-\d+(\.\d*)?$"))
        self.fail(negative, name, lambda v: f"negative {what}: {v}")
        digits_only = _mask(pc.match_substring_regex(values, r"^\d+$"))
        too_long = digits_only & _mask(pc.greater(pc.utf8_length(values), digits))
        self.fail(too_long, name, lambda v: f"{what} too large: {v}")
        ok = digits_only & ~too_long
        self.fail(~ok & ~blank, name, lambda v: f"not a whole number: {v!r}")
        numbers = pc.cast(pc.if_else(pa.array(ok), values, "0"), pa.int64())
        return np.asarray(numbers.to_numpy(zero_copy_only=False), np.int64).copy(), ok

    def state(self, name: str, states: dict[str, JobState]) -> pa.Array:
        """Canonical states of column ``name`` (null where unknown)."""
        found = pc.index_in(pc.utf8_lower(self.rows.values[name]), pa.array(list(states)))
        mapped = pa.array([s.value for s in states.values()]).take(found)
        known = ", ".join(s.capitalize() for s in states)
        self.fail(self.empty(name), name, lambda _: f"missing {name}")
        unknown = _mask(pc.is_null(mapped))
        self.fail(unknown, name, lambda v: f"unknown {name} {v!r} (known: {known})")
        return mapped

    def result(self, format: str, sink: RejectSink, tables: dict[str, pa.Table]) -> ReadResult:
        """Send the rejects to ``sink`` in line order; the tables without rejected rows."""
        lines, raw = self.rows.lines, self.rows.raw
        found: list[tuple[int | None, str | None, str, str | None]] = [
            (int(lines[i]) or None, name, reason, raw[i].as_py()) for i, name, reason in self.found
        ]
        found += [(line, None, why, text) for line, text, why in self.rows.invalid]
        for line, name, reason, text in sorted(found, key=lambda r: r[0] or 0):
            sink.add(line, name, reason, text)
        rows = self.rows
        return ReadResult(format, tables, sink.table(), rows.total, rows.skipped)


def _day0_us(options: ReadOptions) -> int:
    start = options.trace_start or TRACE_START
    start = start if start.tzinfo else start.replace(tzinfo=UTC)
    return (start - TRACE_START) // timedelta(microseconds=1)


def _times(day0: int, seconds: np.ndarray, given: np.ndarray | None = None) -> pa.Array:
    """Timestamps day 0 + ``seconds`` (null where not ``given``)."""
    us = day0 + seconds.astype(np.int64) * _US
    mask = None if given is None else ~given
    return pa.array(us, pa.int64(), mask=mask).cast(schema.TIME)


def _beyond(day0: int, seconds: np.ndarray) -> np.ndarray:
    """Where day 0 + ``seconds`` (float, exact below 2**53) is past the year 9999."""
    return day0 / _US + seconds > _LAST_US / _US


def _cluster(path: Path, options: ReadOptions, guesses: tuple[tuple[str, str], ...]) -> str:
    if options.cluster != "default":
        return options.cluster
    name = path.name.lower().replace("-", "_")
    return next((cluster for key, cluster in guesses if key in name), options.cluster)


def _int32(values: np.ndarray, given: np.ndarray) -> pa.Array:
    return pa.array(values, pa.int64(), mask=~given).cast(pa.int32())


# --- the readers ----------------------------------------------------------------------------


def read_dirlab(path: Path, options: ReadOptions) -> ReadResult:
    """jobs from a DIR-LAB common-schema trace (Helios, Philly, Blue Waters)."""
    rows = _load(path, DIRLAB_COLUMNS)
    checks = _Checks(rows)
    job_id = checks.required("u_id")
    gpus, gpus_ok = checks.whole("gpu_num", COUNT_DIGITS, what="GPU count")
    cpus, cpus_ok = checks.whole("cpu_num", COUNT_DIGITS, what="CPU count")
    nodes, nodes_ok = checks.whole("node_num", COUNT_DIGITS, what="node count")
    interval, _ = checks.whole("interval", SECOND_DIGITS, what="interval")
    run_time, _ = checks.whole("run_time", SECOND_DIGITS, what="duration")
    wall_time, wall_ok = checks.whole("wall_time", SECOND_DIGITS, what="time limit")
    states = checks.state("new_status", DIRLAB_STATES)

    day0 = _day0_us(options)
    submitted = np.cumsum(interval.astype(np.float64))
    checks.fail(_beyond(day0, submitted), "interval", lambda _: "submit time past the year 9999")
    ended = submitted + run_time
    checks.fail(_beyond(day0, ended), "run_time", lambda _: "end time past the year 9999")
    submitted = np.where(checks.bad, 0, submitted).astype(np.int64)
    submit = _times(day0, submitted)

    keep = pa.array(~checks.bad)
    user = rows.values["user"]
    table = pa.table(
        {
            "cluster": pa.array([_cluster(path, options, DIRLAB_CLUSTERS)] * rows.size),
            "job_id": job_id,
            "user": pc.if_else(pc.equal(user, ""), None, user),
            "submit_time": submit,
            "start_time": submit,
            "end_time": _times(day0, np.where(checks.bad, 0, submitted + run_time)),
            "state": states,
            "state_raw": rows.values["new_status"],
            "n_gpus": _int32(gpus, gpus_ok),
            "n_cpus": _int32(cpus, cpus_ok & (cpus > 0)),
            "n_nodes": _int32(nodes, nodes_ok & (nodes > 0)),
            "time_limit": pa.array(wall_time, pa.int64(), mask=~(wall_ok & (wall_time > 0))),
            "elapsed": pa.array(run_time, pa.int64()),
            "source": pa.array([str(path)] * rows.size, pa.string()),
        }
    ).filter(keep)
    sink = RejectSink(str(path))
    return checks.result(DIRLAB_FORMAT, sink, {"jobs": schema.conform("jobs", table)})


def read_pods(path: Path, options: ReadOptions) -> ReadResult:
    """jobs from a Kubernetes pod list (Alibaba GPU cluster trace v2023)."""
    rows = _load(path, POD_COLUMNS)
    checks = _Checks(rows)
    name = checks.required("name")
    cpu_milli, cpu_ok = checks.whole("cpu_milli", COUNT_DIGITS + 3, required=False, what="CPU")
    gpus, gpus_ok = checks.whole("num_gpu", COUNT_DIGITS, what="GPU count")
    states = checks.state("pod_phase", POD_STATES)
    created, _ = checks.whole("creation_time", SECOND_DIGITS, what="time")
    deleted, deleted_ok = checks.whole("deletion_time", SECOND_DIGITS, required=False, what="time")
    scheduled, scheduled_ok = checks.whole(
        "scheduled_time", SECOND_DIGITS, required=False, what="time"
    )
    checks.fail(
        deleted_ok & (deleted < created),
        "deletion_time",
        lambda v: f"negative duration: deleted at {v}, before it was created",
    )
    checks.fail(
        scheduled_ok & (scheduled < created),
        "scheduled_time",
        lambda v: f"negative wait: scheduled at {v}, before it was created",
    )
    checks.fail(
        deleted_ok & scheduled_ok & (deleted < scheduled),
        "deletion_time",
        lambda v: f"negative duration: deleted at {v}, before it was scheduled",
    )
    day0 = _day0_us(options)
    for column, seconds in (
        ("creation_time", created),
        ("deletion_time", deleted),
        ("scheduled_time", scheduled),
    ):
        checks.fail(
            _beyond(day0, seconds.astype(np.float64)), column, lambda _: "time past the year 9999"
        )

    keep = pa.array(~checks.bad)
    qos = rows.values["qos"]
    n_cpus = -(-cpu_milli // 1000)  # ceil: a share of a CPU takes a CPU
    table = pa.table(
        {
            "cluster": pa.array([_cluster(path, options, POD_CLUSTERS)] * rows.size),
            "job_id": name,
            "qos": pc.if_else(pc.equal(qos, ""), None, qos),
            "submit_time": _times(day0, created),
            "start_time": _times(day0, scheduled, scheduled_ok),
            "end_time": _times(day0, deleted, deleted_ok),
            "state": states,
            "state_raw": rows.values["pod_phase"],
            "n_gpus": _int32(gpus, gpus_ok),
            "n_cpus": _int32(n_cpus, cpu_ok),
            "n_nodes": pa.array(np.ones(rows.size, np.int32), pa.int32(), mask=~scheduled_ok),
            "source": pa.array([str(path)] * rows.size, pa.string()),
        }
    ).filter(keep)
    sink = RejectSink(str(path))
    return checks.result(PODS_FORMAT, sink, {"jobs": schema.conform("jobs", table)})


def read_nodes(path: Path, options: ReadOptions) -> ReadResult:
    """nodes from a Kubernetes node list (Alibaba GPU cluster trace v2023)."""
    rows = _load(path, NODE_COLUMNS)
    checks = _Checks(rows)
    node = checks.required("sn")
    gpus, gpus_ok = checks.whole("gpu", COUNT_DIGITS, required=False, what="GPU count")
    table = pa.table(
        {
            "cluster": pa.array([_cluster(path, options, POD_CLUSTERS)] * rows.size),
            "node": node,
            "gpus": _int32(gpus, gpus_ok),
            "source": pa.array([str(path)] * rows.size, pa.string()),
        }
    ).filter(pa.array(~checks.bad))
    sink = RejectSink(str(path))
    return checks.result(NODES_FORMAT, sink, {"nodes": schema.conform("nodes", table)})


DIRLAB = Reader(DIRLAB_FORMAT, sniff_dirlab, read_dirlab)
PODS = Reader(PODS_FORMAT, sniff_pods, read_pods)
NODES = Reader(NODES_FORMAT, sniff_nodes, read_nodes)
READERS = (DIRLAB, PODS, NODES)
