"""Public job traces (FORMATs ``dirlab-trace``, ``k8s-pods`` and ``k8s-nodes``).

All three are CSV files with a header line naming the columns below (in any order, without
regard to case; spaces and dashes in a name read as underscores). Fields are not quoted: a
quote is part of its value. Times in these traces are seconds relative to the trace's start,
which neither trace records as a wallclock: day 0 is ``options.trace_start`` (a naive value is
UTC), else the start a publisher documents for a known trace (``known_traces``); without
either the file is refused with a message naming ``--trace-start``. Counts must be whole
numbers (``8`` or ``8.0``); seconds may have a fraction (kept to the microsecond). A value
``nan`` is a blank. Lines with no value at all (blank, or only commas) are skipped. A column
may be read from one of another name with ``options.field_map`` (``--map u_id=JobID``).

``dirlab-trace``: the common schema of github.com/DIR-LAB/Gen-Parallel-Workloads, in which the
Helios (SenseTime), Philly (Microsoft) and Blue Waters (NCSA) traces are published:
``u_id,user,gpu_num,cpu_num,node_num,interval,run_time,wall_time,new_status``. The sniffer
claims a header holding ``u_id``, ``gpu_num``, ``run_time``, ``new_status`` and ``interval``
or ``submit_time``, with any other columns. Read with ``--format dirlab-trace``, the variants
found in the wild are read too: columns under other names (``DIRLAB_FIELDS``: ``job_id`` or
SDSC's ``job_number`` for ``u_id``, ``status`` for ``new_status``...), ``submit_time``
(seconds from the trace's start) instead of ``interval``, and no ``user``, ``cpu_num``,
``node_num`` or ``wall_time`` (null). A header lacking a needed column is refused with a
message naming it and how to supply it. The result notes the columns read under another
name. One jobs row per line: job_id = ``u_id``, user = ``user``; submit_time = day 0 + the
running sum of ``interval`` (seconds since the previous job's submission; a rejected row's
interval still counts when it is a valid number), or day 0 + ``submit_time``; the trace has
no queue time, so start_time = submit_time and end_time = start_time + ``run_time`` (elapsed
= ``run_time`` rounded to the second); time_limit = ``wall_time`` rounded, 0 = none recorded
(Helios and Philly) -> null; state Pass -> COMPLETED, Failed -> FAILED, Killed -> CANCELLED
with the raw value in state_raw; n_gpus, n_cpus, n_nodes from ``gpu_num``, ``cpu_num``,
``node_num`` (``gpu_num`` 0 is a CPU-only job; a ``cpu_num`` or ``node_num`` of 0 means not
recorded, as Philly's CPUs, -> null). cluster = ``options.cluster`` unless it is ``default``,
else the trace's name guessed from the file name (helios, philly, blue_waters; otherwise
``default``).

``k8s-pods``: the Alibaba GPU cluster trace v2023 (github.com/alibaba/clusterdata,
``openb_pod_list_*.csv``): exactly ``name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,
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

``k8s-nodes``: the same trace's node list (exactly ``sn,cpu_milli,memory_mib,gpu,model``,
``openb_node_list_*.csv``) as the ``nodes`` inventory: node = ``sn``, gpus = ``gpu`` (0 for
CPU nodes). The list has no dates (no day 0 needed), so the in-service span is null: in
service over the whole analysis period.

Rejects (file, line, field, reason) take rows with too few or too many fields, a missing or
non-numeric number, a negative duration or time, an unknown status or phase, a pod scheduled
or deleted before it was created, and times past the year 9999. source = the file's path. A
file the CSV parser cannot read is refused with an InputError naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
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
from gpurel.sources.event_fields import FieldNames
from gpurel.sources.event_rows import first_line
from gpurel.sources.known_traces import day0

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

# DIR-LAB fields under the names their variants use, the schema's own first
DIRLAB_FIELDS: Mapping[str, tuple[str, ...]] = {
    "u_id": ("u_id", "job_id", "jobid", "job_number", "id"),
    "user": ("user", "user_id", "username"),
    "gpu_num": ("gpu_num", "num_gpu", "num_gpus", "gpus", "n_gpus"),
    "cpu_num": ("cpu_num", "num_cpu", "num_cpus", "cpus", "n_cpus",
                "number_of_allocated_processors"),
    "node_num": ("node_num", "num_node", "num_nodes", "nodes", "n_nodes"),
    "interval": ("interval", "inter_arrival", "interarrival"),
    "submit_time": ("submit_time", "submit"),
    "run_time": ("run_time", "runtime", "duration", "elapsed"),
    "wall_time": ("wall_time", "walltime", "time_limit", "timelimit"),
    "new_status": ("new_status", "status", "state"),
}  # fmt: skip
# what a DIR-LAB trace cannot do without (alternatives together), and what each column holds
DIRLAB_NEEDS: Mapping[tuple[str, ...], str] = {
    ("u_id",): "the job id",
    ("gpu_num",): "GPUs of the job, 0 for a CPU-only job",
    ("interval", "submit_time"): "seconds since the previous job's submission, or the "
    "submission in seconds from the trace's start",
    ("run_time",): "seconds the job ran",
    ("new_status",): "how the job ended: Pass, Failed or Killed",
}

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

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
_LAST_US = (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
_BLOCK_BYTES = 1 << 20  # the CSV parser's smallest block; a block holds whole lines
_MAX_BLOCK = 2**31 - 1  # the parser's largest block


def _column(name: str) -> str:
    """A header name as matched: trimmed, lower case, spaces and dashes as underscores."""
    return "_".join(name.strip().lower().replace("-", " ").split())


def _header(head: str) -> list[str]:
    return [_column(name) for name in first_line(head).split(",")]


def _exactly(columns: Sequence[str]) -> Callable[[str], bool]:
    def sniff(head: str) -> bool:
        names = _header(head)
        return len(names) == len(columns) and set(names) == set(columns)

    sniff.__doc__ = f"A CSV header of exactly {', '.join(columns)}."
    return sniff


def sniff_dirlab(head: str) -> bool:
    """A CSV header naming DIR-LAB's u_id, gpu_num, run_time, new_status and interval (or
    submit_time), with any other columns."""
    names = set(_header(head))
    return all(names & set(needed) for needed in DIRLAB_NEEDS)


sniff_pods = _exactly(POD_COLUMNS)
sniff_nodes = _exactly(NODE_COLUMNS)


# --- the CSV body, as text columns ----------------------------------------------------------


@dataclass
class _Rows:
    """The file's data rows as trimmed text columns, with their lines and raw text."""

    values: dict[str, pa.Array]  # by field; "" throughout for a field the header lacks
    columns: dict[str, str]  # field -> the header's column it was read from
    lines: np.ndarray  # 1-based line of each row
    raw: pa.Array
    invalid: list[tuple[int | None, str, str]]  # (line, text, reason): wrong number of fields
    total: int  # the file's lines
    skipped: int  # lines without a record: blank ones and those up to the header

    @property
    def size(self) -> int:
        return len(self.lines)


def _exact(columns: Sequence[str], options: ReadOptions) -> FieldNames:
    """Fields read under their own names (or by --map)."""
    return FieldNames({c: (c,) for c in columns}, fold_case=True).mapped(options.field_map)


def _load(path: Path, names: FieldNames, needs: Mapping[tuple[str, ...], str]) -> _Rows:
    """The file's rows; InputError for an empty file or a header lacking one of ``needs``."""
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
    header = [_column(name) for name in line.split(",")]
    doubled = sorted({name for name in header if header.count(name) > 1})
    if doubled:
        raise InputError(str(path), f"line {header_line}: CSV header repeats {', '.join(doubled)}")
    found = names.columns(header)
    unmatched = names.unmatched(found)
    if unmatched:
        where = f"line {header_line}: CSV header has no column"
        raise InputError(str(path), f"{where} for --map {', '.join(unmatched)}")
    missing = [group for group in needs if not any(f in found for f in group)]
    if missing:
        raise InputError(str(path), f"line {header_line}: {_lacking(missing, needs)}")
    body = "" if end < 0 else text[end + 1 :]
    rows = _parse(path, body, header, names, found, header_line)
    rows.total = text.count("\n") + (not text.endswith("\n"))
    return rows


def _lacking(missing: list[tuple[str, ...]], needs: Mapping[tuple[str, ...], str]) -> str:
    """What the header lacks, what each column holds and how to name it."""
    what = [" or ".join(g) + (f" ({needs[g]})" if needs[g] else "") for g in missing]
    return (
        f"CSV header lacks {'; '.join(what)}: name a column of another name with "
        f"--map {missing[0][0]}=COLUMN"
    )


def _parse(
    path: Path,
    body: str,
    header: list[str],
    names: FieldNames,
    found: dict[str, str],
    header_line: int,
) -> _Rows:
    invalid: list[tuple[int | None, str, str]] = []
    blank_body = 0  # lines of a body without any value (not parsed)

    def keep_aside(row: pv.InvalidRow) -> str:
        line = None if row.number is None else header_line + row.number
        reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
        invalid.append((line, row.text, reason))
        return "skip"

    if body.strip():
        data = body.encode("utf-8")
        try:
            table = pv.read_csv(
                pa.BufferReader(data),
                read_options=pv.ReadOptions(
                    column_names=header,
                    use_threads=False,
                    # one block when it fits: a line longer than a block is a parser error
                    block_size=min(max(len(data) + 1, _BLOCK_BYTES), _MAX_BLOCK),
                ),
                parse_options=pv.ParseOptions(
                    quote_char=False, ignore_empty_lines=False, invalid_row_handler=keep_aside
                ),
                convert_options=pv.ConvertOptions(
                    column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False
                ),
            ).combine_chunks()
        except pa.ArrowException as exc:
            raise InputError(str(path), f"not readable as CSV: {exc}") from exc
    else:
        table = pa.table({name: pa.array([], pa.string()) for name in header})
        blank_body = body.count("\n") + (bool(body) and not body.endswith("\n"))
    bad = np.array([n for n, _, _ in invalid if n is not None], np.int64)
    total = table.num_rows + len(invalid)
    lines = np.setdiff1d(np.arange(header_line + 1, header_line + total + 1, dtype=np.int64), bad)
    if len(lines) != table.num_rows:  # a row number pyarrow could not tell: lines unknown
        lines = np.zeros(table.num_rows, np.int64)
    raw = pc.binary_join_element_wise(*[table.column(n) for n in header], ",")
    if isinstance(raw, pa.ChunkedArray):
        raw = raw.combine_chunks()
    none = pa.array([""] * table.num_rows, pa.string())
    values = {
        f: pc.utf8_trim_whitespace(table.column(found[f])).combine_chunks() if f in found else none
        for f in names.names
    }
    # blank lines (no value at all) are not rows
    blank = np.ones(table.num_rows, bool)
    for name in header:
        blank &= _mask(pc.equal(pc.utf8_trim_whitespace(table.column(name)), ""))
    keep = pa.array(~blank)
    kept = [(n, t, why) for n, t, why in invalid if t.replace(",", "").strip()]
    return _Rows(
        values={n: v.filter(keep) for n, v in values.items()},
        columns=found,
        lines=lines[~blank],
        raw=raw.filter(keep),
        invalid=kept,
        total=0,
        skipped=header_line + blank_body + int(blank.sum()) + len(invalid) - len(kept),
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
        """Reject the rows of ``mask`` not rejected yet, for ``reason(value)`` of field name
        (the reject names the column the field was read from)."""
        new = np.flatnonzero(mask & ~self.bad)
        if new.size:
            self.bad[new] = True
            values = self.rows.values[name].take(pa.array(new)).to_pylist()
            column = self.rows.columns.get(name, name)
            self.found.extend((int(i), column, reason(v)) for i, v in zip(new, values, strict=True))

    def empty(self, name: str) -> np.ndarray:
        """Where the field is blank (``nan`` counts as blank)."""
        values = self.rows.values[name]
        return _mask(pc.equal(values, "")) | _mask(pc.equal(pc.utf8_lower(values), "nan"))

    def required(self, name: str) -> pa.Array:
        """Reject rows where ``name`` is blank; the values."""
        self.fail(self.empty(name), name, lambda _: f"missing {name}")
        return self.rows.values[name]

    def whole(
        self, name: str, digits: int, *, required: bool = True, what: str = "number"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Whole numbers (``8`` or ``8.0``) of column ``name`` (0 where bad or blank) and where
        they are given."""
        whole, fraction, ok = self._decimal(name, digits, required, what, "a whole number")
        broken = ok & _mask(pc.match_substring_regex(fraction, "[1-9]"))
        self.fail(broken, name, lambda v: f"not a whole number: {v!r}")
        return whole, ok & ~broken

    def seconds(
        self, name: str, digits: int, *, required: bool = True, what: str = "time"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Seconds (``12`` or ``12.25``) of column ``name`` as microseconds (0 where bad or
        blank; digits past the microsecond dropped) and where they are given."""
        whole, fraction, ok = self._decimal(name, digits, required, what, "a number")
        micro = pc.utf8_rpad(pc.utf8_slice_codeunits(fraction, 0, 6), 6, "0")
        micros = np.asarray(pc.cast(micro, pa.int64()).to_numpy(zero_copy_only=False), np.int64)
        return whole * _US + micros, ok

    def _decimal(
        self, name: str, digits: int, required: bool, what: str, kind: str
    ) -> tuple[np.ndarray, pa.Array, np.ndarray]:
        """Integer parts (0 where bad or blank), fraction digits and where a non-negative
        decimal of at most ``digits`` integer digits is given; the others are rejected."""
        values = self.rows.values[name]
        blank = self.empty(name)
        if required:
            self.fail(blank, name, lambda _: f"missing {name}")
        negative = _mask(pc.match_substring_regex(values, r"^-\d+(\.\d*)?$"))
        self.fail(negative, name, lambda v: f"negative {what}: {v}")
        parts = pc.extract_regex(values, r"^(?P<whole>\d+)(?:\.(?P<fraction>\d*))?$")
        matched = _mask(pc.is_valid(parts))
        whole = pc.if_else(pa.array(matched), pc.struct_field(parts, "whole"), "0")
        too_long = matched & _mask(pc.greater(pc.utf8_length(whole), digits))
        self.fail(too_long, name, lambda v: f"{what} too large: {v}")
        ok = matched & ~too_long
        self.fail(~ok & ~blank, name, lambda v: f"not {kind}: {v!r}")
        given = pa.array(ok)
        numbers = pc.cast(pc.if_else(given, whole, "0"), pa.int64())
        fraction = pc.if_else(given, pc.struct_field(parts, "fraction"), "")
        return np.asarray(numbers.to_numpy(zero_copy_only=False), np.int64).copy(), fraction, ok

    def state(self, name: str, states: dict[str, JobState]) -> pa.Array:
        """Canonical states of column ``name`` (null where unknown)."""
        found = pc.index_in(pc.utf8_lower(self.rows.values[name]), pa.array(list(states)))
        mapped = pa.array([s.value for s in states.values()]).take(found)
        known = ", ".join(s.capitalize() for s in states)
        self.fail(self.empty(name), name, lambda _: f"missing {name}")
        unknown = _mask(pc.is_null(mapped))
        self.fail(unknown, name, lambda v: f"unknown {name} {v!r} (known: {known})")
        return mapped

    def result(
        self, format: str, names: FieldNames, tables: dict[str, pa.Table], path: Path
    ) -> ReadResult:
        """The tables without rejected rows, the rejects in line order, and a note naming the
        columns read under another name."""
        sink = RejectSink(str(path))
        lines, raw = self.rows.lines, self.rows.raw
        found: list[tuple[int | None, str | None, str, str | None]] = [
            (int(lines[i]) or None, name, reason, raw[i].as_py()) for i, name, reason in self.found
        ]
        found += [(line, None, why, text) for line, text, why in self.rows.invalid]
        for line, name, reason, text in sorted(found, key=lambda r: r[0] or 0):
            sink.add(line, name, reason, text)
        rows = self.rows
        result = ReadResult(format, tables, sink.table(), rows.total, rows.skipped)
        note = names.renamed(rows.columns)
        return replace(result, notes=(note,)) if note else result


def _day0_us(path: Path, options: ReadOptions, format: str) -> int:
    """Day 0 of the trace, in microseconds since the epoch."""
    return (day0(path, options, format) - EPOCH) // timedelta(microseconds=1)


def _times(day0: int, micros: np.ndarray, given: np.ndarray | None = None) -> pa.Array:
    """Timestamps day 0 + ``micros`` (null where not ``given``)."""
    mask = None if given is None else ~given
    return pa.array(day0 + micros, pa.int64(), mask=mask).cast(schema.TIME)


def _beyond(day0: int, micros: np.ndarray) -> np.ndarray:
    """Where day 0 + ``micros`` (float: approximate, which this limit allows) is past 9999."""
    return day0 + micros.astype(np.float64) > _LAST_US


def _rounded(micros: np.ndarray) -> np.ndarray:
    """Microseconds as whole seconds, rounded half up."""
    return (micros + _US // 2) // _US


def _cluster(path: Path, options: ReadOptions, guesses: tuple[tuple[str, str], ...]) -> str:
    if options.cluster != "default":
        return options.cluster
    name = path.name.lower().replace("-", "_")
    return next((cluster for key, cluster in guesses if key in name), options.cluster)


def _int32(values: np.ndarray, given: np.ndarray) -> pa.Array:
    return pa.array(values, pa.int64(), mask=~given).cast(pa.int32())


# --- the readers ----------------------------------------------------------------------------


def read_dirlab(path: Path, options: ReadOptions) -> ReadResult:
    """jobs from a DIR-LAB common-schema trace (Helios, Philly, Blue Waters) or a variant."""
    day0 = _day0_us(path, options, DIRLAB_FORMAT)
    names = FieldNames(DIRLAB_FIELDS, fold_case=True).mapped(options.field_map)
    rows = _load(path, names, DIRLAB_NEEDS)
    has = rows.columns
    checks = _Checks(rows)
    job_id = checks.required("u_id")
    gpus, gpus_ok = checks.whole("gpu_num", COUNT_DIGITS, what="GPU count")
    cpus, cpus_ok = checks.whole(
        "cpu_num", COUNT_DIGITS, required="cpu_num" in has, what="CPU count"
    )
    nodes, nodes_ok = checks.whole(
        "node_num", COUNT_DIGITS, required="node_num" in has, what="node count"
    )
    if "interval" in has:
        steps, _ = checks.seconds("interval", SECOND_DIGITS, what="interval")
        submitted, near = np.cumsum(steps), np.cumsum(steps.astype(np.float64))
        by = "interval"
    else:
        submitted, _ = checks.seconds("submit_time", SECOND_DIGITS, what="time")
        near, by = submitted.astype(np.float64), "submit_time"
    run_time, _ = checks.seconds("run_time", SECOND_DIGITS, what="duration")
    wall_time, wall_ok = checks.seconds(
        "wall_time", SECOND_DIGITS, required="wall_time" in has, what="time limit"
    )
    states = checks.state("new_status", DIRLAB_STATES)

    checks.fail(_beyond(day0, near), by, lambda _: "submit time past the year 9999")
    checks.fail(_beyond(day0, near + run_time), "run_time", lambda _: "end time past the year 9999")
    submitted = np.where(checks.bad, 0, submitted)
    submit = _times(day0, submitted)
    limit = _rounded(wall_time)

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
            "time_limit": pa.array(limit, pa.int64(), mask=~(wall_ok & (limit > 0))),
            "elapsed": pa.array(_rounded(run_time), pa.int64()),
            "source": pa.array([str(path)] * rows.size, pa.string()),
        }
    ).filter(keep)
    return checks.result(DIRLAB_FORMAT, names, {"jobs": schema.conform("jobs", table)}, path)


def read_pods(path: Path, options: ReadOptions) -> ReadResult:
    """jobs from a Kubernetes pod list (Alibaba GPU cluster trace v2023)."""
    day0 = _day0_us(path, options, PODS_FORMAT)
    names = _exact(POD_COLUMNS, options)
    rows = _load(path, names, {(c,): "" for c in POD_COLUMNS})
    checks = _Checks(rows)
    name = checks.required("name")
    cpu_milli, cpu_ok = checks.whole("cpu_milli", COUNT_DIGITS + 3, required=False, what="CPU")
    gpus, gpus_ok = checks.whole("num_gpu", COUNT_DIGITS, what="GPU count")
    states = checks.state("pod_phase", POD_STATES)
    created, _ = checks.seconds("creation_time", SECOND_DIGITS, what="time")
    deleted, deleted_ok = checks.seconds(
        "deletion_time", SECOND_DIGITS, required=False, what="time"
    )
    scheduled, scheduled_ok = checks.seconds(
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
    for column, micros in (
        ("creation_time", created),
        ("deletion_time", deleted),
        ("scheduled_time", scheduled),
    ):
        checks.fail(_beyond(day0, micros), column, lambda _: "time past the year 9999")

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
    return checks.result(PODS_FORMAT, names, {"jobs": schema.conform("jobs", table)}, path)


def read_nodes(path: Path, options: ReadOptions) -> ReadResult:
    """nodes from a Kubernetes node list (Alibaba GPU cluster trace v2023)."""
    names = _exact(NODE_COLUMNS, options)
    rows = _load(path, names, {(c,): "" for c in NODE_COLUMNS})
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
    return checks.result(NODES_FORMAT, names, {"nodes": schema.conform("nodes", table)}, path)


DIRLAB = Reader(DIRLAB_FORMAT, sniff_dirlab, read_dirlab)
PODS = Reader(PODS_FORMAT, sniff_pods, read_pods)
NODES = Reader(NODES_FORMAT, sniff_nodes, read_nodes)
READERS = (DIRLAB, PODS, NODES)
