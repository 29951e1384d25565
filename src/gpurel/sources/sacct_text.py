"""Reader for ``sacct --parsable2`` / ``--parsable`` output.

Any field set and order, with a header line or without one (then ``options.fields``
names the fields), any one-character delimiter (detected, or ``options.delimiter``),
with or without the trailing delimiter of ``--parsable``. Job rows go to ``jobs``, step
rows (``123.batch``, ``123_4.0``, ``123+0.extern``) to ``steps``, and every other
non-blank line to the rejects with its line number, field and reason.

The layout is detected in Python on the first lines. The file is then cut at newlines into
blocks of about 16 MiB, read in parallel on a thread pool (Arrow and numpy release the GIL):
pyarrow's CSV parser splits a block into the fields that are used (a delimiter of several
bytes is first replaced by a control byte the block lacks), the few lines it cannot split
into the expected number of fields are split in Python, and the columns are converted by
the vectorized converters of ``slurm_values``. A SubmitLine field gives ``excluded_nodes``
(``slurm_values.submit_line_exclusions``); without one it is null. Options used: cluster, tz,
fields, delimiter.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gpurel import schema
from gpurel.errors import InputError
from gpurel.schema import JobState
from gpurel.sources import plausible
from gpurel.sources import slurm_values as sv
from gpurel.sources.base import ReadOptions, ReadResult, RejectSink, combined, read_text
from gpurel.sources.line_blocks import WORKERS, Block, blocks, in_order, split_lines

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
    "submitline": "submit_line",
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
# bytes that stand in for a delimiter pyarrow's CSV parser cannot split on (not one byte)
_STAND_INS = [bytes([b]) for b in (*range(1, 9), *range(14, 32))]

_BOM = "\ufeff".encode()
Reject = tuple[int, str | None, str, str]  # 0-based line in its block, field, reason, text


@dataclass(frozen=True)
class _Layout:
    """How the lines of one file are laid out."""

    delimiter: str
    names: tuple[str, ...]  # field names as given by the header or options.fields
    header: str | None  # the header line (the first line with content), None if there is none
    width: int  # fields in most rows: len(names), one more if they end with the delimiter


@dataclass(frozen=True)
class _Context:
    """What every block of one file is read with."""

    layout: _Layout
    roles: dict[str, tuple[int, str]]  # column fed → (position, field name); first field wins
    zone: str
    cluster: str
    source: str


@dataclass(frozen=True)
class _Rows:
    """Rows of one block: the raw values per column fed, and each row's 0-based line in it."""

    columns: dict[str, pa.Array]
    lines: np.ndarray


@dataclass(frozen=True)
class _Block:
    """What one block of lines became."""

    lines: int
    skipped: int  # blank lines and the header
    jobs: pa.Table
    steps: pa.Table
    rejects: list[Reject]


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
    return combined(FORMAT, read_batches(path, options))


def read_batches(path: Path, options: ReadOptions) -> Iterator[ReadResult]:
    """Read one sacct text dump block by block (about BLOCK_BYTES each), in file order.

    Blocks ahead of the one handed out are read meanwhile, so a caller storing each part
    overlaps with the reading; at least one part comes out, maybe empty.
    """
    source = str(path)
    start, offset, head = _head(path)  # offset: 0-based line of each block's first line
    layout = _detect_layout(head, options, source)
    if layout is None:
        empty = {"jobs": schema.empty("jobs"), "steps": schema.empty("steps")}
        yield ReadResult(FORMAT, empty, lines=offset, skipped=offset)
        return
    roles = _roles(layout.names)
    context = _Context(layout, roles, sv.resolve_zone(options.tz), options.cluster, source)
    parts = blocks(path, start, header=layout.header is not None, bytes_read=options.bytes_read)
    with ThreadPoolExecutor(WORKERS) as pool:
        work = partial(_read_block, context)
        blank = offset  # the blank lines before the first with content
        for part in in_order(pool, work, parts):
            sink = RejectSink(source)
            for index, field, reason, raw in sorted(part.rejects, key=lambda r: r[0]):
                sink.add(offset + index + 1, field, reason, raw)
            offset += part.lines
            tables = {"jobs": part.jobs, "steps": part.steps}
            lines, skipped = part.lines + blank, part.skipped + blank
            blank = 0
            yield ReadResult(FORMAT, tables, sink.table(), lines, skipped)


def _detect_layout(lines: list[str], options: ReadOptions, source: str) -> _Layout | None:
    """Delimiter, field names, header and row width of the first ``lines`` of a file.

    A header line wins over ``options.fields``. None if all lines are blank.
    """
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return None
    candidates = [options.delimiter] if options.delimiter else _candidates(lines[first])
    for delimiter in candidates:
        names = _header_names(lines[first], delimiter)
        if names:
            rows = _sample(lines[first + 1 :], complete=True)
            width = _row_width(rows, delimiter, len(names))
            return _checked(_Layout(delimiter, names, lines[first], width), source)
    if not options.fields:
        raise InputError(source, "no header line: pass --fields with the sacct --format names")
    rows = _sample(lines[first:], complete=True)
    detected = options.delimiter or _detect_rows(rows)
    if detected is None:
        raise InputError(source, "cannot detect the field delimiter: pass --delimiter")
    width = _row_width(rows, detected, len(options.fields))
    return _checked(_Layout(detected, tuple(options.fields), None, width), source)


def _checked(layout: _Layout, source: str) -> _Layout:
    if len(layout.delimiter) != 1:
        raise InputError(source, f"delimiter must be one character, not {layout.delimiter!r}")
    if "jobid" not in (name.lower() for name in layout.names):
        raise InputError(source, "no JobID field: sacct output needs --format=JobID,...")
    return layout


def _row_width(rows: list[str], delimiter: str, fields: int) -> int:
    """Fields per row: ``fields``, or one more when most rows end with the delimiter."""
    trailing = sum(row.count(delimiter) == fields and row.endswith(delimiter) for row in rows)
    return fields + 1 if trailing * 2 > len(rows) else fields


def _roles(names: tuple[str, ...]) -> dict[str, tuple[int, str]]:
    """The columns the fields feed, each with the position and name of its first field."""
    roles: dict[str, tuple[int, str]] = {}
    for position, name in enumerate(names):
        role = FIELDS.get(name.lower())
        if role is not None and role not in roles:
            roles[role] = (position, name)
    return roles


def _head(path: Path) -> tuple[int, int, list[str]]:
    """Where the first line with content starts (byte offset, 0-based line), and up to
    _HEAD_BYTES of lines from there; base.read_text raises the InputError if it is no text.
    """
    try:
        with path.open("rb") as handle:
            start, first = _content_start(handle)
            handle.seek(start)
            head = handle.read(_HEAD_BYTES)
            more = bool(handle.read(1))
    except OSError:
        head = b"\x00"
    if b"\x00" in head[:65536]:
        read_text(path)
        raise InputError(str(path), "cannot read as text")
    cut = head.rfind(b"\n")
    if more and cut >= 0:
        head = head[: cut + 1]
    text = head.decode("utf-8", errors="replace").replace("\r\n", "\n")
    return start, first, text.split("\n")


def _content_start(handle: BinaryIO) -> tuple[int, int]:
    """Byte offset and 0-based index of the first line with content (or of the file's end),
    after a UTF-8 byte-order mark."""
    position = start = newlines = 0
    if handle.read(len(_BOM)) == _BOM:
        position = start = len(_BOM)
    handle.seek(position)
    while piece := handle.read(_HEAD_BYTES):
        content = len(piece) - len(piece.lstrip())
        cut = piece.rfind(b"\n", 0, content) + 1
        if cut:
            start = position + cut
            newlines += piece.count(b"\n", 0, cut)
        if content < len(piece):
            break
        position += len(piece)
    return start, newlines


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


def _read_block(context: _Context, block: Block) -> _Block:
    """Convert one block: its jobs, steps, rejects and lines (read and skipped)."""
    block.check_utf8(Path(context.source))
    parsed, odd = _split(context, block)
    extra, rejects, skipped = _odd_rows(context, block, odd)
    rows = _merged(parsed, extra)
    columns = {role: (p, name, rows.columns[role]) for role, (p, name) in context.roles.items()}
    out, checks = _Converter(columns, context.zone).run()
    keep, bad_values, blank = _reject_values(context.layout, block, checks, rows.lines)
    if not keep.all():
        out = {name: array.filter(pa.array(keep)) for name, array in out.items()}
    jobs, steps = _tables(context, out)
    return _Block(block.size, skipped + blank, jobs, steps, rejects + bad_values)


def _split(context: _Context, block: Block) -> tuple[_Rows, list[int]]:
    """The rows pyarrow's CSV parser splits into ``width`` fields, and the other lines."""
    table, odd = _parse(context, block)
    if table is None:
        return _rows(context, [], []), list(range(block.size))
    lines = np.delete(np.arange(block.size), odd)
    roles = context.roles.items()
    rows = _Rows({role: _array(table.column(str(p))) for role, (p, _) in roles}, lines)
    fields = len(context.layout.names)
    if context.layout.width > fields:
        return _keep_empty_extra(rows, _array(table.column(str(fields))), odd)
    return rows, odd


def _parse(context: _Context, block: Block) -> tuple[pa.Table | None, list[int]]:
    """The block's rows of ``width`` fields by pyarrow's CSV parser, and its other lines.

    None when that parser cannot split the block as Python would: a lone carriage return
    ends a row for it, and a delimiter of several bytes needs a byte the block lacks.
    """
    data, delimiter = _csv_input(context.layout.delimiter, block.data)
    if data is None:
        return None, []
    fields = len(context.layout.names)
    used = [str(position) for position, _ in context.roles.values()]
    if context.layout.width > fields:
        used.append(str(fields))  # the extra field of --parsable, which must be empty
    split = split_lines(data, block.size, delimiter, context.layout.width, used)
    return (None, []) if split is None else split


def _csv_input(delimiter: str, data: bytes) -> tuple[bytes | None, str]:
    """The bytes and one-byte delimiter to give the CSV parser; None if no byte can stand in."""
    encoded = delimiter.encode()
    if len(encoded) == 1 and delimiter not in "\r\n":
        return data, delimiter
    free = next((byte for byte in _STAND_INS if byte not in data), None)
    if free is None:
        return None, delimiter
    return data.replace(encoded, free), free.decode()


def _keep_empty_extra(rows: _Rows, extra: pa.Array, odd: list[int]) -> tuple[_Rows, list[int]]:
    """The rows whose extra last field is empty (``--parsable``); the others become odd lines."""
    filled = pc.not_equal(extra, "").to_numpy(zero_copy_only=False)
    if not filled.any():
        return rows, odd
    keep = pa.array(~filled)
    columns = {role: values.filter(keep) for role, values in rows.columns.items()}
    return _Rows(columns, rows.lines[~filled]), sorted([*odd, *rows.lines[filled].tolist()])


def _array(column: pa.ChunkedArray) -> pa.Array:
    """The column as one array, without a copy when it has one chunk."""
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def _odd_rows(context: _Context, block: Block, odd: list[int]) -> tuple[_Rows, list[Reject], int]:
    """Split in Python the lines the CSV parser could not: rows, rejects, and the number of
    lines skipped (blank, or the header)."""
    layout = context.layout
    n = len(layout.names)
    rows: list[list[str]] = []
    lines: list[int] = []
    rejects: list[Reject] = []
    skipped = 0
    for index in odd:
        text = block.texts[index]
        if _skipped(block, index):
            skipped += 1
            continue
        parts = text.split(layout.delimiter)
        if text == layout.header:
            reason = "repeated header line"
        elif len(parts) == n or (len(parts) == n + 1 and parts[-1] == ""):
            rows.append(parts)
            lines.append(index)
            continue
        elif index == block.size - 1 and not block.terminated and len(parts) < n:
            reason = "truncated line"
        else:
            reason = f"wrong field count: {len(parts)} fields, expected {n}"
        rejects.append((index, None, reason, text))
    return _rows(context, rows, lines), rejects, skipped


def _skipped(block: Block, index: int) -> bool:
    """Line ``index`` of the block is blank or the header: no row, no reject."""
    return (block.header and index == 0) or not block.texts[index].strip()


def _rows(context: _Context, rows: list[list[str]], lines: list[int]) -> _Rows:
    """Rows split in Python as columns."""
    columns = {
        role: pa.array([row[p] for row in rows], pa.string())
        for role, (p, _) in context.roles.items()
    }
    return _Rows(columns, np.array(lines, dtype=np.int64))


def _merged(parsed: _Rows, extra: _Rows) -> _Rows:
    """The rows of both, in line order."""
    if not len(extra.lines):
        return parsed
    lines = np.concatenate([parsed.lines, extra.lines])
    order = np.argsort(lines, kind="stable")
    columns = {
        role: pa.concat_arrays([values, extra.columns[role]]).take(pa.array(order))
        for role, values in parsed.columns.items()
    }
    return _Rows(columns, lines[order])


def _reject_values(
    layout: _Layout, block: Block, checks: list[_Check], lines: np.ndarray
) -> tuple[np.ndarray, list[Reject], int]:
    """Reject each row at its first bad field (in file order); the mask of rows kept, and the
    number of lines skipped.

    Blank lines and the header line come out of the CSV parser as rows with a bad JobID:
    they are skipped without a reject, and a repeated header is rejected as such.
    """
    rejected = np.zeros(len(lines), dtype=bool)
    rejects: list[Reject] = []
    skipped = 0
    for check in sorted(checks, key=lambda c: c.position):
        bad = check.bad.to_numpy(zero_copy_only=False) & ~rejected
        for i in np.flatnonzero(bad):
            index = int(lines[i])
            if _skipped(block, index):
                skipped += 1
                continue
            text = block.texts[index]
            value = check.values[i].as_py()
            field: str | None = check.field
            if text == layout.header:
                field, reason = None, "repeated header line"
            elif value == "":
                reason = f"empty {check.field}"
            else:
                reason = f"{check.reason}: {value!r}"
            rejects.append((index, field, reason, text))
        rejected |= bad
    return ~rejected, rejects, skipped


def _tables(context: _Context, out: dict[str, pa.Array]) -> tuple[pa.Table, pa.Table]:
    """The converted columns as canonical jobs and steps."""
    size = len(out["job_id"])
    out["cluster"] = pa.repeat(pa.scalar(context.cluster, pa.string()), size)
    out["source"] = pa.repeat(pa.scalar(context.source, pa.string()), size)
    if "state" not in out:
        out["state"] = pa.repeat(pa.scalar(JobState.UNKNOWN.value, pa.string()), size)
    table = pa.table(out)
    is_step = pc.not_equal(table["step_id"], "")
    jobs = table.filter(pc.invert(is_step))
    return schema.conform("jobs", jobs), schema.conform("steps", table.filter(is_step))


def _micros(times: pa.Array) -> pa.Array:
    return pc.cast(times, pa.int64())


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
        self._exclusions()
        self._repeated_hour()
        self._plausible()
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

    def _repeated_hour(self) -> None:
        """A wall time in the repeated autumn hour reads as its first instant; where Elapsed
        shows the job crossed the change, Start or End is the second (End = Start + Elapsed)."""
        if not {"start_time", "end_time", "elapsed"} <= self.out.keys():
            return
        elapsed = pc.multiply(self.out["elapsed"], 1_000_000)
        for role, other, sign in (("end_time", "start_time", 1), ("start_time", "end_time", -1)):
            first = self.out[role]
            second, _ = sv.parse_times(self._values(role), self.zone, ambiguous="latest")
            span = pc.multiply(pc.subtract(_micros(second), _micros(self.out[other])), sign)
            fits = pc.and_(pc.not_equal(second, first), pc.equal(span, elapsed))
            self.out[role] = pc.if_else(pc.fill_null(fits, False), second, first)

    def _plausible(self) -> None:
        for found in plausible.job_times(self.out):
            if found.field in self.columns and found.rows.any():
                self._check(found.field, pa.array(found.rows), found.reason)

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

    def _exclusions(self) -> None:
        if "submit_line" in self.columns:
            self.out["excluded_nodes"], bad = sv.parse_submit_lines(self._values("submit_line"))
            self._check("submit_line", bad, "exclude option is no hostlist")

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
