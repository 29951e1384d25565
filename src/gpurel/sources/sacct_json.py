"""Reader for ``sacct --json`` output: data_parser 0.0.37/0.0.38 and 0.0.39 onwards.

The versions differ in shape, and both are accepted anywhere in a record:

- 0.0.37/38: ``state: {"current": "FAILED"}``, plain integer numbers, step ids such as
  ``"batch"`` or ``0`` next to ``step.job_id``;
- 0.0.39+: ``state: {"current": ["FAILED"]}`` lists, numbers wrapped as
  ``{"set": true, "infinite": false, "number": 5}``, step ids such as ``"26.batch"``.

Times are epoch seconds, already UTC (``options.tz`` does not apply); 0 means unset.
Each job record goes to ``jobs`` and its steps to ``steps``; a record (or step) that
cannot be read becomes a reject whose line is the record's 1-based number and whose field
is the path in the record (``time.start``, ``steps[1].state``). The state is trusted
over the exit status: Slurm 22.05 reports NODE_FAIL jobs with status SUCCESS.
``excluded_nodes`` comes from the record's ``excluded_nodes`` hostlist where it has one (as
Slurm's job JSON prints ExcNodeList), else from ``submit_line`` (0.0.39+;
``slurm_values.submit_line_exclusions``), else it is null.
Options used: cluster.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from gpurel import hostlist, schema
from gpurel.errors import InputError
from gpurel.schema import JobState
from gpurel.sources import plausible
from gpurel.sources import slurm_values as sv
from gpurel.sources.base import ReadOptions, ReadResult, RejectSink, read_text

FORMAT = "sacct-json"

_SNIFF = re.compile(r'^\s*\{.*?"jobs"\s*:\s*\[', re.DOTALL)
_NO_VAL = frozenset({2**32 - 2, 2**32 - 1, 2**64 - 2, 2**64 - 1})  # Slurm's NO_VAL, INFINITE
_MAX_EPOCH = 253402300799  # 9999-12-31T23:59:59Z
_MAX_WIDE = 2**53
_TIMES = {
    "submit_time": "submission",
    "eligible_time": "eligible",
    "start_time": "start",
    "end_time": "end",
}


class _Bad(Exception):
    """One value of a record that cannot be read, with its path in the record."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def sniff(head: str) -> bool:
    """True when the text is a JSON object with a top-level ``jobs`` list."""
    return _SNIFF.match(head[:65536]) is not None


def read(path: Path, options: ReadOptions) -> ReadResult:
    """Read one ``sacct --json`` document into ``jobs`` and ``steps``."""
    source = str(path)
    records = _records(read_text(path), source)
    sink = RejectSink(source)
    jobs: list[dict[str, Any]] = []
    numbers: list[int] = []  # the record of each job
    steps: list[dict[str, Any]] = []
    read = len(records)  # the records: each job, and each step of a job read
    for number, record in enumerate(records, 1):
        try:
            job = _job(record)
        except _Bad as bad:
            sink.add(number, bad.field, bad.reason, _raw(record))
            continue
        jobs.append(job)
        numbers.append(number)
        for index, step in enumerate(record.get("steps") or []):
            read += 1
            try:
                steps.append(_step(step, job["job_id"]))
            except _Bad as bad:
                field = f"steps[{index}]" + (f".{bad.field}" if bad.field else "")
                sink.add(number, field, bad.reason, _raw(step))
    job_table = _plausible(_table("jobs", jobs, options.cluster, source), numbers, records, sink)
    tables = {"jobs": job_table, "steps": _table("steps", steps, options.cluster, source)}
    return ReadResult(FORMAT, tables, sink.table(), lines=read)


def _plausible(
    jobs: pa.Table, numbers: list[int], records: list[Any], sink: RejectSink
) -> pa.Table:
    """``jobs`` without the rows whose times are impossible, which go to ``sink``."""
    bad = np.zeros(jobs.num_rows, bool)
    columns = {name: jobs.column(name) for name in jobs.column_names}
    for found in plausible.job_times(columns):
        for row in np.flatnonzero(found.rows & ~bad):
            number = numbers[row]
            value = columns[found.field][row].as_py()
            sink.add(number, found.field, f"{found.reason}: {value}", _raw(records[number - 1]))
        bad |= found.rows
    return jobs.filter(pa.array(~bad)) if bad.any() else jobs


def _records(text: str, source: str) -> list[Any]:
    """The ``jobs`` list of the document; InputError if it is no sacct JSON."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno} (char {exc.pos})"
        raise InputError(source, f"invalid or truncated JSON at {where}: {exc.msg}") from exc
    except RecursionError as exc:
        raise InputError(source, "JSON nested too deeply") from exc
    except ValueError as exc:  # e.g. an integer literal too long to convert
        raise InputError(source, f"invalid JSON: {exc}") from exc
    records = document.get("jobs") if isinstance(document, dict) else None
    if not isinstance(records, list):
        raise InputError(source, "no top-level 'jobs' list: not sacct --json output")
    return records


def _table(name: str, rows: list[dict[str, Any]], cluster: str, source: str) -> pa.Table:
    """Canonical table ``name`` from rows whose times are epoch seconds."""
    target = schema.TABLES[name]
    staged = pa.schema(
        [pa.field(f.name, pa.int64()) if f.type == schema.TIME else f for f in target]
    )
    for row in rows:
        row["cluster"] = cluster
        row["source"] = source
    table = pa.Table.from_pylist(rows, schema=staged)
    for i, field in enumerate(target):
        if field.type == schema.TIME:
            seconds = table.column(i).cast(pa.timestamp("s", tz="UTC"))
            table = table.set_column(i, field.name, seconds)
    return schema.conform(name, table)


def _job(record: Any) -> dict[str, Any]:
    """One job record as a row of ``jobs``."""
    if not isinstance(record, dict):
        raise _Bad(None, "job record is not a JSON object")
    association = _obj(record, "association")
    times = _obj(record, "time")
    state, state_raw, cancelled_by = _state(record.get("state"), "state")
    code, signal = _exit(record.get("exit_code"), "exit_code")
    tres = _tres(record.get("tres"), "tres")
    if not isinstance(record.get("steps", []), list):
        raise _Bad("steps", "steps is not a list")
    limit = _number(times.get("limit"), "time.limit", wide=True)
    job_id, job_id_raw = _job_ids(record)
    row: dict[str, Any] = {
        "job_id": job_id,
        "job_id_raw": job_id_raw,
        "name": _text(record.get("name"), "name"),
        "user": _text(record.get("user"), "user")
        or _text(association.get("user"), "association.user"),
        "account": _text(record.get("account"), "account")
        or _text(association.get("account"), "association.account"),
        "partition": _text(record.get("partition"), "partition")
        or _text(association.get("partition"), "association.partition"),
        "qos": _text(record.get("qos"), "qos"),
        "state": state.value,
        "state_raw": state_raw,
        "cancelled_by": _cancelled_by(record, state, cancelled_by),
        "exit_code": code,
        "exit_signal": signal,
        "n_nodes": _number(record.get("allocation_nodes"), "allocation_nodes"),
        "n_gpus": _tres_count(tres, "gpu"),
        "n_cpus": _tres_count(tres, "cpu"),
        "nodes": _nodes(record.get("nodes"), "nodes"),
        "excluded_nodes": _excluded(record),
        "time_limit": None if limit is None else limit * 60,
        "elapsed": _number(times.get("elapsed"), "time.elapsed", wide=True),
        "restarts": _number(record.get("restart_cnt"), "restart_cnt"),
    }
    for column, key in _TIMES.items():
        row[column] = _time(times.get(key), f"time.{key}")
    return row


def _step(step: Any, job_id: str) -> dict[str, Any]:
    """One step record as a row of ``steps``."""
    if not isinstance(step, dict):
        raise _Bad(None, "step record is not a JSON object")
    ident = _obj(step, "step")
    times = _obj(step, "time")
    nodes = _obj(step, "nodes")
    state, state_raw, _ = _state(step.get("state"), "state")
    code, signal = _exit(step.get("exit_code"), "exit_code")
    return {
        "job_id": job_id,
        "step_id": _step_id(ident.get("id")),
        "name": _text(ident.get("name"), "step.name"),
        "start_time": _time(times.get("start"), "time.start"),
        "end_time": _time(times.get("end"), "time.end"),
        "state": state.value,
        "state_raw": state_raw,
        "exit_code": code,
        "exit_signal": signal,
        "n_nodes": _number(nodes.get("count"), "nodes.count"),
        "nodes": _nodes(nodes.get("range"), "nodes.range"),
    }


def _job_ids(record: dict[str, Any]) -> tuple[str, str]:
    """The job id as sacct prints it (``123``, ``123_4``, ``123_[1-5]``, ``123+0``) and raw."""
    job_id = _number(record.get("job_id"), "job_id", wide=True)
    if job_id is None:
        raise _Bad("job_id", "missing job_id")
    array = _obj(record, "array")
    het = _obj(record, "het")
    array_job = _number(array.get("job_id"), "array.job_id", wide=True)
    task = _number(array.get("task_id"), "array.task_id")
    tasks = _text(array.get("task"), "array.task")
    het_job = _number(het.get("job_id"), "het.job_id", wide=True)
    offset = _number(het.get("job_offset"), "het.job_offset")
    raw = str(job_id)
    if array_job and task is not None:
        return f"{array_job}_{task}", raw
    if array_job and tasks:
        return f"{array_job}_[{tasks.strip('[]')}]", raw
    if het_job and offset is not None:
        return f"{het_job}+{offset}", raw
    return raw, raw


def _step_id(value: Any) -> str:
    """``batch``, ``extern``, ``0``... from ``"26.batch"`` (0.0.39+) or ``"batch"``/``0``."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if isinstance(value, str) and value:
        return _encodable(value, "step.id").split(".", 1)[-1]
    raise _Bad("step.id", f"bad step id {value!r}")


def _state(value: Any, field: str) -> tuple[JobState, str, str | None]:
    """(state, raw text, cancelled_by) from ``{"current": ...}`` or a bare state."""
    current = value.get("current") if isinstance(value, dict) else value
    where = f"{field}.current" if isinstance(value, dict) else field
    if isinstance(current, str):
        found = sv.canonical_state(current)
        if found is not None:
            return found[0], current, found[1]
    elif isinstance(current, list) and all(isinstance(s, str) for s in current):
        state = sv.state_of_list(current)
        if state is not None:
            return state, _encodable(",".join(current), where), None
    raise _Bad(where, f"bad state {current!r}")


def _cancelled_by(record: dict[str, Any], state: JobState, by_text: str | None) -> str | None:
    if state is not JobState.CANCELLED:
        return None
    return _text(record.get("kill_request_user"), "kill_request_user") or by_text


def _exit(value: Any, field: str) -> tuple[int | None, int | None]:
    """(exit code, signal) from ``{"return_code": ..., "signal": {"id"|"signal_id": ...}}``."""
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise _Bad(field, f"not an object: {value!r}")
    code = _number(value.get("return_code"), f"{field}.return_code")
    signal_info = value.get("signal") or {}
    if not isinstance(signal_info, dict):
        raise _Bad(f"{field}.signal", f"not an object: {signal_info!r}")
    key = "id" if "id" in signal_info else "signal_id"
    signal = _number(signal_info.get(key), f"{field}.signal.{key}")
    if signal is None and code is not None:
        signal = 0
    return code, signal


def _tres(value: Any, field: str) -> dict[str, int] | None:
    """Allocated TRES as ``{"cpu": 8, "gres/gpu": 2}``; None when the record has none."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Bad(field, f"not an object: {value!r}")
    entries = value.get("allocated") or []
    if not isinstance(entries, list):
        raise _Bad(f"{field}.allocated", "not a list")
    tres: dict[str, int] = {}
    for i, entry in enumerate(entries):
        path = f"{field}.allocated[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
            raise _Bad(path, f"bad TRES entry {entry!r}")
        name = entry.get("name")
        key = f"{entry['type']}/{name}" if isinstance(name, str) and name else entry["type"]
        count = _number(entry.get("count"), f"{path}.count", signed=True)
        if count is not None and count >= 0:
            tres[key] = count
    return tres


def _tres_count(tres: dict[str, int] | None, kind: str) -> int | None:
    count = None if tres is None else sv.tres_count(tres, kind)
    if count is not None and count > sv.INT32_MAX:
        raise _Bad("tres.allocated", f"{kind} count out of range: {count}")
    return count


def _nodes(value: Any, field: str) -> list[str]:
    hosts = _text(value, field)
    try:
        return hostlist.expand(hosts)
    except hostlist.HostlistError as exc:
        raise _Bad(field, str(exc)) from exc


def _excluded(record: dict[str, Any]) -> list[str] | None:
    """The nodes the job excluded: its ``excluded_nodes``, else what its ``submit_line``
    says; None when neither is there or the line cannot say."""
    if "excluded_nodes" in record:
        return _nodes(record["excluded_nodes"], "excluded_nodes")
    line = _text(record.get("submit_line"), "submit_line")
    try:
        return None if line is None else sv.submit_line_exclusions(line)
    except hostlist.HostlistError as exc:
        raise _Bad("submit_line", f"exclude option is no hostlist: {exc}") from exc


def _obj(record: dict[str, Any], key: str) -> dict[str, Any]:
    """The sub-object ``key`` of a record, {} when absent or null."""
    value = record.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Bad(key, f"not an object: {value!r}")
    return value


def _text(value: Any, field: str) -> str | None:
    """A string value; empty is None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Bad(field, f"not a string: {value!r}")
    return _encodable(value, field)


def _encodable(value: str, field: str) -> str:
    """``value`` if it is valid Unicode (JSON escapes can smuggle in lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _Bad(field, f"invalid Unicode in {value!r}") from exc
    return value


def _number(value: Any, field: str, *, signed: bool = False, wide: bool = False) -> int | None:
    """A Slurm number, plain or ``{"set", "infinite", "number"}``; None if unset or infinite.

    Numbers must fit int32 unless ``wide`` (times, durations, ids).
    """
    if isinstance(value, dict):
        if not value.get("set", False) or value.get("infinite", False):
            return None
        value = value.get("number")
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or (value < 0 and not signed):
        raise _Bad(field, f"not a number: {value!r}")
    if value in _NO_VAL:
        return None
    if abs(value) > (_MAX_WIDE if wide else sv.INT32_MAX):
        raise _Bad(field, f"number out of range: {value}")
    return value


def _time(value: Any, field: str) -> int | None:
    """Epoch seconds; 0 (never) is None."""
    seconds = _number(value, field, wide=True)
    if seconds is not None and seconds > _MAX_EPOCH:
        raise _Bad(field, f"time out of range: {seconds}")
    return seconds or None


def _raw(record: Any) -> str:
    return json.dumps(record, default=str)[: schema.RAW_LIMIT + 1]
