"""Reader for ``sacct --parsable2`` / ``--parsable`` output.

Any field set and order, with a header line or without one (then ``options.fields``
names the fields), any single-character delimiter (detected, or ``options.delimiter``),
with or without the trailing delimiter of ``--parsable``. Job rows go to ``jobs``, step
rows (``123.batch``, ``123_4.0``, ``123+0.extern``) to ``steps``, and every other
non-blank line to the rejects with its line number, field and reason.

The layout is detected in Python on the first lines; the rest runs in pyarrow.compute on
blocks of about 16 MiB (split into lines and fields, then converted column by column),
so large dumps are read fast in bounded memory. Options used: cluster, tz, fields,
delimiter.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gpurel import schema
from gpurel.errors import InputError
from gpurel.schema import JobState
from gpurel.sources import slurm_values as sv
from gpurel.sources.base import ReadOptions, ReadResult, RejectSink, read_text

FORMAT = "sacct"

# sacct field names (lower case) and the column each one feeds
FIELDS: dict[str, str] = {
    "jobid": "job_id",
    "jobidraw": "job_id_raw",
    "jobname": "name",
    "user": "user",
    "account": "account",
    "partition": "partition",
    "qos": "qos",
    "nodelist": "nodes",
    "nnodes": "n_nodes",
    "allocnodes": "n_nodes",
    "ncpus": "n_cpus",
    "alloccpus": "n_cpus",
    "alloctres": "alloc_tres",
    "state": "state",
    "submit": "submit_time",
    "eligible": "eligible_time",
    "start": "start_time",
    "end": "end_time",
    "elapsed": "elapsed",
    "elapsedraw": "elapsed_raw",
    "timelimit": "time_limit",
    "timelimitraw": "time_limit_raw",
    "exitcode": "exit_code",
    "restarts": "restarts",
}
_TEXT_COLUMNS = ("job_id_raw", "name", "user", "account", "partition", "qos")
_TIME_COLUMNS = ("submit_time", "eligible_time", "start_time", "end_time")

JOB_ID = (
    r"^(?P<job>[0-9]+(?:_(?:[0-9]+|\[[^\]]*\]))?(?:\+[0-9]+)?)"
    r"(?:\.(?P<step>[A-Za-z0-9]+(?:\+[0-9]+)?))?$"
)
_JOB_ID = re.compile(JOB_ID)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_SAMPLE = 50  # lines looked at to detect the layout
_HEAD_BYTES = 1 << 20  # bytes decoded to detect the layout
_BLOCK_BYTES = 16 << 20  # bytes converted at once


@dataclass(frozen=True)
class _Layout:
    """How the lines of one file are laid out."""

    delimiter: str
    names: tuple[str, ...]  # field names as given by the header or options.fields
    header: str | None  # the header line, None if there is none
    header_line: int | None  # its 0-based index


@dataclass(frozen=True)
class _Context:
    layout: _Layout
    zone: str
    cluster: str
    source: str
    sink: RejectSink


@dataclass(frozen=True)
class _Block:
    """Consecutive lines of the file, the first being line ``offset`` (0-based)."""

    offset: int
    lines: pa.Array
    unterminated: bool  # its last line is the file's and has no newline: maybe cut short


@dataclass(frozen=True)
class _Check:
    """Rows whose value in one field could not be converted."""

    position: int
    field: str
    bad: pa.Array
    values: pa.Array
    reason: str


def sniff(head: str) -> bool:
    """True when the first lines look like sacct parsable output."""
    lines = _sample(head.replace("\r\n", "\n").split("\n"), complete=head.endswith("\n"))
    if not lines:
        return False
    if any(_header_names(lines[0], c) for c in _candidates(lines[0])):
        return True
    delimiter = _detect_rows(lines)
    return delimiter is not None and all(_has_state(line, delimiter) for line in lines)


def read(path: Path, options: ReadOptions) -> ReadResult:
    """Read one sacct text dump into ``jobs`` and ``steps``."""
    source = str(path)
    data = _text_bytes(path)
    jobs, steps = [schema.empty("jobs")], [schema.empty("steps")]
    sink = RejectSink(source)
    first, head = _head(data)
    layout = _detect_layout(head, options, source, first)
    if layout is not None:
        context = _Context(layout, sv.resolve_zone(options.tz), options.cluster, source, sink)
        for block in _blocks(path, data):
            block_jobs, block_steps = _read_block(context, block)
            jobs.append(block_jobs)
            steps.append(block_steps)
    tables = {"jobs": pa.concat_tables(jobs), "steps": pa.concat_tables(steps)}
    return ReadResult(FORMAT, tables, sink.table().sort_by([("line", "ascending")]))


def _detect_layout(
    lines: list[str], options: ReadOptions, source: str, first_line: int = 0
) -> _Layout | None:
    """Delimiter, field names and header of ``lines`` (line ``first_line`` onwards).

    A header line wins over ``options.fields``. None if all lines are blank.
    """
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return None
    candidates = [options.delimiter] if options.delimiter else _candidates(lines[first])
    for delimiter in candidates:
        names = _header_names(lines[first], delimiter)
        if names:
            return _checked(_Layout(delimiter, names, lines[first], first_line + first), source)
    if not options.fields:
        raise InputError(source, "no header line: pass --fields with the sacct --format names")
    detected = options.delimiter or _detect_rows(_sample(lines[first:], complete=True))
    if detected is None:
        raise InputError(source, "cannot detect the field delimiter: pass --delimiter")
    return _checked(_Layout(detected, tuple(options.fields), None, None), source)


def _checked(layout: _Layout, source: str) -> _Layout:
    if len(layout.delimiter) != 1:
        raise InputError(source, f"delimiter must be one character, not {layout.delimiter!r}")
    if "jobid" not in (name.lower() for name in layout.names):
        raise InputError(source, "no JobID field: sacct output needs --format=JobID,...")
    return layout


def _text_bytes(path: Path) -> bytes:
    """The file's bytes; base.read_text raises the InputError if they are not text."""
    try:
        data = path.read_bytes()
        if b"\x00" not in data[:65536]:
            return data
    except OSError:
        pass
    read_text(path)
    raise InputError(str(path), "cannot read as text")


def _head(data: bytes) -> tuple[int, list[str]]:
    """The 0-based index of the first line with content, and up to _HEAD_BYTES of lines."""
    content = len(data) - len(data.lstrip())
    start = data.rfind(b"\n", 0, content) + 1
    head = data[start : start + _HEAD_BYTES]
    cut = head.rfind(b"\n")
    if start + len(head) < len(data) and cut >= 0:
        head = head[: cut + 1]
    text = head.decode("utf-8", errors="replace").replace("\r\n", "\n")
    return data.count(b"\n", 0, start), text.split("\n")


def _blocks(path: Path, data: bytes) -> Iterator[_Block]:
    """The file cut at newlines into blocks of about _BLOCK_BYTES, as arrays of lines."""
    start = offset = 0
    while start < len(data):
        cut = data.find(b"\n", start + _BLOCK_BYTES)
        end = len(data) if cut < 0 else cut + 1
        lines = _lines(path, data[start:end])
        yield _Block(offset, lines, end == len(data) and not data.endswith(b"\n"))
        start, offset = end, offset + len(lines)


def _lines(path: Path, chunk: bytes) -> pa.Array:
    """The lines of ``chunk``, without line ends; InputError if it is not UTF-8."""
    try:
        text = pa.array([chunk], pa.binary()).cast(pa.string())
    except pa.ArrowInvalid as exc:
        read_text(path)
        raise InputError(str(path), "not UTF-8 text") from exc
    lines = pc.list_flatten(pc.split_pattern(text, pattern="\n"))
    if chunk.endswith(b"\n"):
        lines = lines.slice(0, len(lines) - 1)
    if b"\r" in chunk:
        lines = pc.replace_substring_regex(lines, pattern="\r$", replacement="")
    return lines


def _sample(lines: list[str], *, complete: bool) -> list[str]:
    """Up to _SAMPLE non-blank lines, without a last line that may be cut short."""
    if not complete and len(lines) > 1:
        lines = lines[:-1]
    return [line for line in lines[: _SAMPLE * 2] if line.strip()][:_SAMPLE]


def _candidates(line: str) -> list[str]:
    """Possible delimiters: ``|`` first, then the other non-alphanumeric characters."""
    counts = Counter(c for c in line if not c.isalnum() and c != "|")
    return ["|", *(c for c, _ in counts.most_common())]


def _header_names(line: str, delimiter: str) -> tuple[str, ...] | None:
    """The field names if ``line`` is a sacct header split by ``delimiter``."""
    names = line.split(delimiter)
    if len(names) > 1 and names[-1] == "":
        names.pop()
    if all(_NAME.match(n) for n in names) and any(n.lower() in FIELDS for n in names):
        return tuple(names)
    return None


def _detect_rows(lines: list[str]) -> str | None:
    """The delimiter that splits most lines evenly with a job id first, if any."""
    if not lines:
        return None
    found: list[tuple[bool, int, str]] = []
    for delimiter in _candidates(lines[0]):
        count, n = Counter(line.count(delimiter) for line in lines).most_common(1)[0]
        ids = sum(bool(_JOB_ID.match(line.split(delimiter, 1)[0])) for line in lines)
        if count and n * 5 >= len(lines) * 4 and ids * 5 >= len(lines) * 4:
            found.append((delimiter != "|", -count, delimiter))
    return min(found)[2] if found else None


def _has_state(line: str, delimiter: str) -> bool:
    return any(sv.canonical_state(value) for value in line.split(delimiter)[1:] if value)


def _read_block(context: _Context, block: _Block) -> tuple[pa.Table, pa.Table]:
    """Convert one block of lines into jobs and steps, rejecting what does not fit."""
    layout = context.layout
    n = len(layout.names)
    parts = pc.split_pattern(block.lines, pattern=layout.delimiter)
    count = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    trailing = pc.ends_with(block.lines, pattern=layout.delimiter).to_numpy(zero_copy_only=False)
    blank = pc.equal(pc.utf8_trim_whitespace(block.lines), "").to_numpy(zero_copy_only=False)
    fits = (count == n) | ((count == n + 1) & trailing)
    if layout.header is not None and layout.header_line is not None:
        fits &= ~pc.equal(block.lines, layout.header).to_numpy(zero_copy_only=False)
        if 0 <= layout.header_line - block.offset < len(block.lines):
            blank[layout.header_line - block.offset] = True  # the header itself is no row
    _reject_lines(context, block, count, ~fits & ~blank)
    keep = fits & ~blank
    kept = parts.filter(pa.array(keep))
    widths = np.unique(count[keep])
    if len(widths) == 1:  # the usual case: all with or all without a trailing delimiter
        flat, stride = pc.list_flatten(kept), int(widths[0])
    else:
        flat, stride = pc.list_flatten(pc.list_slice(kept, 0, n)), n
    columns = _columns(layout.names, flat, len(kept), stride)
    return _tables(context, block, columns, np.flatnonzero(keep))


def _reject_lines(context: _Context, block: _Block, count: np.ndarray, bad: np.ndarray) -> None:
    """Reject lines that do not split into the expected number of fields."""
    n = len(context.layout.names)
    last = len(block.lines) - 1
    for i in np.flatnonzero(bad):
        line = block.lines[i].as_py()
        if line == context.layout.header:
            reason = "repeated header line"
        elif block.unterminated and i == last and count[i] < n:
            reason = "truncated line"
        else:
            reason = f"wrong field count: {count[i]} fields, expected {n}"
        context.sink.add(block.offset + int(i) + 1, None, reason, line)


def _columns(
    names: tuple[str, ...], flat: pa.Array, rows: int, stride: int
) -> dict[str, tuple[int, str, pa.Array]]:
    """The known fields as (position, name, values), by the column they feed.

    ``flat`` holds the fields of ``rows`` rows, ``stride`` values per row.
    """
    columns: dict[str, tuple[int, str, pa.Array]] = {}
    for position, name in enumerate(names):
        role = FIELDS.get(name.lower())
        if role is None or role in columns:
            continue
        indices = np.arange(position, rows * stride, stride, dtype=np.int64)
        values = flat.take(pa.array(indices))
        columns[role] = (position, name, values)
    return columns


def _tables(
    context: _Context,
    block: _Block,
    columns: dict[str, tuple[int, str, pa.Array]],
    rows: np.ndarray,
) -> tuple[pa.Table, pa.Table]:
    """Convert the columns of the block's ``rows``, reject bad values, split jobs from steps."""
    out, checks = _Converter(columns, context.zone).run()
    keep = _reject_values(context, block, checks, rows)
    out = {name: array.filter(keep) for name, array in out.items()}
    size = len(out["job_id"])
    out["cluster"] = pa.repeat(pa.scalar(context.cluster, pa.string()), size)
    out["source"] = pa.repeat(pa.scalar(context.source, pa.string()), size)
    if "state" not in out:
        out["state"] = pa.repeat(pa.scalar(JobState.UNKNOWN.value, pa.string()), size)
    table = pa.table(out)
    is_step = pc.not_equal(table["step_id"], "")
    jobs = table.filter(pc.invert(is_step))
    return schema.conform("jobs", jobs), schema.conform("steps", table.filter(is_step))


def _reject_values(
    context: _Context, block: _Block, checks: list[_Check], rows: np.ndarray
) -> pa.Array:
    """Reject each row at its first bad field (in file order); the mask of rows kept."""
    rejected = np.zeros(len(rows), dtype=bool)
    for check in sorted(checks, key=lambda c: c.position):
        bad = check.bad.to_numpy(zero_copy_only=False) & ~rejected
        for i in np.flatnonzero(bad):
            value = check.values[i].as_py()
            reason = f"empty {check.field}" if value == "" else f"{check.reason}: {value!r}"
            local = int(rows[i])
            line = block.lines[local].as_py()
            context.sink.add(block.offset + local + 1, check.field, reason, line)
        rejected |= bad
    return pa.array(~rejected)


class _Converter:
    """Converts the raw fields of one block, noting the rows whose values do not convert."""

    def __init__(self, columns: dict[str, tuple[int, str, pa.Array]], zone: str) -> None:
        self.columns = columns
        self.zone = zone
        self.out: dict[str, pa.Array] = {}
        self.checks: list[_Check] = []

    def run(self) -> tuple[dict[str, pa.Array], list[_Check]]:
        """Canonical columns, and the checks of what did not convert."""
        self._ids()
        self._texts()
        self._times()
        self._state()
        self._counts()
        self._tres()
        return self.out, self.checks

    def _values(self, role: str) -> pa.Array:
        return self.columns[role][2]

    def _check(self, role: str, bad: pa.Array, reason: str) -> None:
        position, name, values = self.columns[role]
        self.checks.append(_Check(position, name, bad, values, reason))

    def _ids(self) -> None:
        ids = pc.extract_regex(self._values("job_id"), JOB_ID)
        self.out["job_id"] = pc.struct_field(ids, "job")
        self.out["step_id"] = pc.fill_null(pc.struct_field(ids, "step"), "")
        self._check("job_id", pc.invert(pc.is_valid(ids)), "unparseable JobID")
        if "job_id_raw" not in self.columns:
            plain = pc.match_substring_regex(self.out["job_id"], r"^[0-9]+$")
            self.out["job_id_raw"] = pc.if_else(
                plain, self.out["job_id"], pa.scalar(None, pa.string())
            )

    def _texts(self) -> None:
        for role in _TEXT_COLUMNS:
            if role in self.columns:
                values = self._values(role)
                empty = pc.equal(values, "")
                self.out[role] = pc.if_else(empty, pa.scalar(None, pa.string()), values)

    def _times(self) -> None:
        for role in _TIME_COLUMNS:
            if role in self.columns:
                self.out[role], bad = sv.parse_times(self._values(role), self.zone)
                self._check(role, bad, "unparseable time")

    def _state(self) -> None:
        if "state" in self.columns:
            values = self._values("state")
            self.out["state"], self.out["cancelled_by"], bad = sv.parse_states(values)
            self.out["state_raw"] = values
            self._check("state", bad, "unknown job state")
        if "exit_code" in self.columns:
            codes, signals, bad = sv.parse_exit_codes(self._values("exit_code"))
            self.out["exit_code"], self.out["exit_signal"] = codes, signals
            self._check("exit_code", bad, "ExitCode is not code:signal")

    def _counts(self) -> None:
        for role in ("n_nodes", "n_cpus", "restarts", "elapsed_raw"):
            if role in self.columns:
                self.out[role], bad = sv.parse_ints(self._values(role))
                self._check(role, bad, "not a count")
        for role, unit in (("elapsed", 1), ("time_limit", 60), ("time_limit_raw", 60)):
            if role in self.columns:
                self.out[role], bad = sv.parse_durations(self._values(role), unit)
                self._check(role, bad, "unparseable duration")
        for role, raw in (("elapsed", "elapsed_raw"), ("time_limit", "time_limit_raw")):
            if role not in self.out and raw in self.out:
                self.out[role] = self.out[raw]

    def _tres(self) -> None:
        if "alloc_tres" in self.columns:
            tres = self._values("alloc_tres")
            self.out["n_gpus"], bad = sv.parse_tres_counts(tres, "gpu")
            self._check("alloc_tres", bad, "unparseable TRES")
            for kind, role in (("cpu", "n_cpus"), ("node", "n_nodes")):
                if role not in self.out:
                    self.out[role] = sv.parse_tres_counts(tres, kind)[0]
        if "nodes" in self.columns:
            self.out["nodes"], bad = sv.parse_nodelists(self._values("nodes"))
            self._check("nodes", bad, "unparseable hostlist")
