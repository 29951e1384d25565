"""GCM health-check records of one block of whole JSON lines as node_events, vectorized.

pyarrow's JSON parser reads the block with the types GCM writes (text, integer results and
job ids, epoch-second times); pyarrow.compute and numpy convert the columns, and what needs
Python (stripping names, reading results, classifying a check with its message) runs once
per distinct value. ``node_events`` gives None when the block holds anything this cannot
turn into exactly the per-line reader's rows (a line that is not one JSON object, other
types, Scuba messages, missing fields, values that reader rejects, a field under another of
its accepted names): the caller then reads that block line by line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from gpurel import schema
from gpurel.sources.event_rows import BadValue, parse_result
from gpurel.taxonomy import Classification

Describe = Callable[[str, str | None], tuple[Classification, int | None]]

_TYPES = {
    "node": pa.string(),
    "cluster": pa.string(),
    "health_check": pa.string(),
    "result": pa.int64(),
    "_msg": pa.string(),
    "job_id": pa.int64(),
    "start_time": pa.float64(),
    "end_time": pa.float64(),
}
GCM_NAMES: Mapping[str, tuple[str, ...]] = {name: (name,) for name in _TYPES}
# str.splitlines breaks lines at these too (then line numbers differ); and a byte-order mark
_ODD_ASCII = (b"\r", b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e")
_ODD_UTF8 = ("\x85".encode(), "\u2028".encode(), "\u2029".encode(), "\ufeff".encode())
_EPOCH_RANGE = (-62_135_596_800.0, 253_402_300_799.0)  # 0001-01-01 to 9999-12-31 in seconds
_NO_TEXT = pa.scalar(None, pa.string())


class _Inexact(Exception):
    """The block holds something only the per-line reader reads exactly."""


def node_events(
    data: bytes,
    cluster: str,
    describe: Describe,
    source: str,
    names: Mapping[str, tuple[str, ...]] = GCM_NAMES,
) -> pa.Table | None:
    """The node_events rows of the JSON lines in ``data``, one per line, or None (see above).

    ``names``: for each of GCM's fields, the keys it is accepted under; the first is read, and
    a block where another holds a value is left to the per-line reader.
    """
    try:
        return _convert(_parse(data, _fields(names)), cluster, describe, source)
    except _Inexact:
        return None


def _fields(names: Mapping[str, tuple[str, ...]]) -> pa.Schema:
    """The explicit schema: each field under the key read, its other names as nulls only."""
    read = [(names[gcm][0], kind) for gcm, kind in _TYPES.items()]
    others = [(key, pa.null()) for gcm in _TYPES for key in names[gcm][1:]]
    keys = [key for key, _ in read + others]
    if len(set(keys)) != len(keys):  # one key named for two fields
        raise _Inexact
    return pa.schema(read + others)


def _parse(data: bytes, fields: pa.Schema) -> pa.Table:
    odd = _ODD_ASCII if data.isascii() else _ODD_ASCII + _ODD_UTF8
    if any(mark in data for mark in odd):
        raise _Inexact
    lines = _objects(data)
    options = pj.ParseOptions(explicit_schema=fields, unexpected_field_behavior="ignore")
    reading = pj.ReadOptions(use_threads=False, block_size=len(data) + 1)
    try:
        table = pj.read_json(pa.BufferReader(data), read_options=reading, parse_options=options)
    except pa.ArrowException as exc:  # not these types, or beyond the parser's limits
        raise _Inexact from exc
    if table.num_rows != lines:  # several objects on a line
        raise _Inexact
    return table.select(range(len(_TYPES))).rename_columns(list(_TYPES))


def _objects(data: bytes) -> int:
    """The number of lines, all of them starting with ``{`` and ending with ``}``."""
    raw = np.frombuffer(data, np.uint8)
    ends = np.flatnonzero(raw == ord("\n"))
    if not data.endswith(b"\n"):
        ends = np.append(ends, len(raw))
    starts = np.concatenate(([0], ends[:-1] + 1))
    if not (np.all(raw[starts] == ord("{")) and np.all(raw[ends - 1] == ord("}"))):
        raise _Inexact
    return len(ends)


def _convert(table: pa.Table, cluster: str, describe: Describe, source: str) -> pa.Table:
    column = {name: table[name].combine_chunks() for name in table.column_names}
    if any(column[name].null_count for name in ("node", "health_check", "result")):
        raise _Inexact
    start, start_ok = _times(column["start_time"])
    end, end_ok = _times(column["end_time"])
    if not np.all(start_ok | end_ok):
        raise _Inexact  # neither start_time nor end_time
    message = pc.if_else(pc.equal(column["_msg"], ""), _NO_TEXT, column["_msg"])
    check = _each(column["health_check"], _required)
    job_id = column["job_id"]
    columns = {
        "cluster": pc.fill_null(_each(column["cluster"], lambda v: v.strip() or cluster), cluster),
        "node": _each(column["node"], _required),
        "time": pa.array(np.where(start_ok, start, end), schema.TIME),
        "end_time": pa.array(end, schema.TIME, mask=~(start_ok & end_ok)),
        "source": pa.repeat(pa.scalar(source, pa.string()), table.num_rows),
        "check": check,
        "result": _each(column["result"], _result),
        "job_id": pc.if_else(pc.equal(job_id, 0), _NO_TEXT, pc.cast(job_id, pa.string())),
        "message": message,
        **_described(check, message, describe),
    }
    return schema.conform("node_events", pa.table(columns))


def _times(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Epoch seconds as microseconds, rounded as ``timedelta(seconds=...)`` does, and which
    are times (present and not 0); -0.0 and seconds out of datetime's range are _Inexact."""
    seconds = pc.fill_null(values, 0.0).to_numpy()
    given = values.is_valid().to_numpy(zero_copy_only=False)
    zero = given & (seconds == 0)
    if np.any(zero & np.signbit(seconds)):
        raise _Inexact
    ok = given & ~zero
    low, high = _EPOCH_RANGE
    if not np.all((seconds[ok] > low) & (seconds[ok] < high)):
        raise _Inexact
    fraction, whole = np.modf(np.where(ok, seconds, 0.0))
    micros = whole.astype(np.int64) * 1_000_000 + np.rint(fraction * 1e6).astype(np.int64)
    return micros, ok


def _each(values: pa.Array, convert: Callable[[Any], Any]) -> pa.Array:
    """``convert`` of every value (nulls stay null), called once per distinct value."""
    encoded = values.dictionary_encode()
    converted = pa.array([convert(v) for v in encoded.dictionary.to_pylist()], pa.string())
    return converted.take(encoded.indices)


def _required(value: str) -> str:
    if not value.strip():
        raise _Inexact
    return value.strip()


def _result(value: int) -> str:
    try:
        return parse_result(str(value))
    except BadValue as exc:
        raise _Inexact from exc


def _described(check: pa.Array, message: pa.Array, describe: Describe) -> dict[str, pa.Array]:
    """category, domain, severity and xid, described once per distinct (check, message)."""
    checks, messages = check.dictionary_encode(), message.dictionary_encode()
    width = len(messages.dictionary) + 1  # the last stands for no message
    keys = checks.indices.to_numpy(zero_copy_only=False).astype(np.int64) * width
    keys += pc.fill_null(messages.indices, width - 1).to_numpy().astype(np.int64)
    pairs, inverse = np.unique(keys, return_inverse=True)
    names, texts = checks.dictionary.to_pylist(), [*messages.dictionary.to_pylist(), None]
    found = [describe(names[key // width], texts[key % width]) for key in pairs.tolist()]
    rows = pa.array(inverse.reshape(-1))
    return {
        "category": pa.array([c.category for c, _ in found], pa.string()).take(rows),
        "domain": pa.array([c.domain for c, _ in found], pa.string()).take(rows),
        "severity": pa.array([c.severity for c, _ in found], pa.string()).take(rows),
        "xid": pa.array([xid for _, xid in found], pa.int32()).take(rows),
    }
