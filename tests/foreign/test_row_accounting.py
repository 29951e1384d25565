"""Every line is accounted for, and the warehouse holds exactly the last row of each key.

Files in four formats are written with duplicate keys inside one part, across parts (tiny
parts) and across files, with blank lines and bad rows among them. The expected warehouse is
recounted here in plain Python: the last row of each key wins, every other row is kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpurel import ingest as ingest_module
from gpurel.ingest import ingest_file
from gpurel.sources import line_blocks
from gpurel.sources.base import ReadOptions
from gpurel.warehouse import Warehouse

OPTIONS = ReadOptions(cluster="c1", tz="UTC")
SACCT_HEADER = "JobID|JobName|State|Submit|Start|End|NodeList|AllocTRES"


@dataclass(frozen=True)
class Line:
    """One line to write: a record (key, payload) or a blank or bad line."""

    kind: str  # "record", "blank" or "bad"
    key: int = 0
    payload: int = 0


@dataclass(frozen=True)
class Format:
    """How to write a record of a format, and how the warehouse shows key and payload."""

    name: str
    suffix: str
    header: str | None
    record: Callable[[int, int], str]
    bad: str
    table: str
    stored: Callable[[dict[str, object]], tuple[object, object]]


def _hour(key: int) -> str:
    return f"2024-05-{1 + key // 24:02d}T{key % 24:02d}:00:00"


def _event_csv(key: int, payload: int) -> str:
    return f"{_hour(key)}+00:00,gpu{key:03d},check_ib,fail,down,{payload}"


def _event_json(key: int, payload: int) -> str:
    record = {"time": _hour(key) + "Z", "node": f"gpu{key:03d}", "check": "check_ib",
              "result": "fail", "message": "down", "job_id": str(payload)}  # fmt: skip
    return json.dumps(record)


def _gcm(key: int, payload: int) -> str:
    record = {"node": f"gpu{key:03d}", "cluster": "c1", "health_check": "check_ib",
              "type": "nagios", "result": 2, "_msg": "down", "job_id": payload + 1,
              "start_time": 1714521600 + key * 3600,
              "end_time": 1714521601 + key * 3600}  # fmt: skip
    return json.dumps(record)


def _sacct(key: int, payload: int) -> str:
    start = _hour(key)
    return f"{1000 + key}|run{payload}|FAILED|{start}|{start}|{_hour(key + 1)}|gpu001|gres/gpu=8"


def _event_row(row: dict[str, object]) -> tuple[object, object]:
    return row["node"], row["job_id"]


FORMATS = [
    Format("events-csv", ".csv", "time,node,check,result,message,job_id", _event_csv,
           "not-a-time,gpu999,check_ib,fail,down,1", "node_events", _event_row),
    Format("events-jsonl", ".jsonl", None, _event_json, '{"time": "soon", "node": "x"}',
           "node_events", _event_row),
    Format("gcm", ".jsonl", None, _gcm, '{"node": "x", "health_check": "c", "result": "odd"}',
           "node_events", lambda row: (row["node"], str(int(str(row["job_id"])) - 1))),
    Format("sacct", ".txt", SACCT_HEADER, _sacct, "1999|x|FAILED|yesterday|||gpu001|",
           "jobs", lambda row: (row["job_id"], str(row["name"]).removeprefix("run"))),
]  # fmt: skip


def _key_of(fmt: Format, key: int) -> object:
    return f"gpu{key:03d}" if fmt.table == "node_events" else str(1000 + key)


LINES = st.one_of(
    st.builds(Line, st.just("record"), st.integers(0, 7), st.integers(0, 10**6)),
    st.builds(Line, st.just("blank")),
    st.builds(Line, st.just("bad")),
)


def _write(path: Path, fmt: Format, lines: list[Line]) -> None:
    text = [fmt.header] if fmt.header else []
    for line in lines:
        if line.kind == "record":
            text.append(fmt.record(line.key, line.payload))
        else:
            text.append("" if line.kind == "blank" else fmt.bad)
    path.write_text("\n".join(text) + "\n")


@pytest.mark.parametrize("kind", ["w.duckdb", "lake"])
@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
@settings(max_examples=8, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.lists(st.lists(LINES, min_size=1, max_size=30), min_size=1, max_size=3))
def test_every_line_is_accounted_for_and_the_last_row_of_a_key_wins(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    fmt: Format,
    kind: str,
    files: list[list[Line]],
) -> None:
    monkeypatch.setattr(line_blocks, "BLOCK_BYTES", 200)  # parts of a few lines
    monkeypatch.setattr(ingest_module, "BATCH_ROWS", 3)
    root = tmp_path_factory.mktemp("accounting")
    expected: dict[object, str] = {}
    warehouse = Warehouse.open(root / kind)
    try:
        for number, lines in enumerate(files):
            path = root / f"input{number}{fmt.suffix}"
            _write(path, fmt, lines)
            outcome = ingest_file(warehouse, path, OPTIONS, fmt.name)
            assert outcome.ok, outcome.error
            records = [line for line in lines if line.kind == "record"]
            last = {line.key: line.payload for line in records}  # plain recount
            assert outcome.lines == len(lines) + (fmt.header is not None)
            assert outcome.stored == len(last)
            assert outcome.merged == len(records) - len(last)
            assert outcome.rejected == sum(line.kind == "bad" for line in lines)
            blank = sum(line.kind == "blank" for line in lines)
            assert outcome.skipped == blank + (fmt.header is not None)
            assert outcome.unaccounted == 0
            expected |= {_key_of(fmt, k): str(v) for k, v in last.items()}
        rows = warehouse.table(fmt.table).to_pyarrow().to_pylist()
    finally:
        warehouse.close()
    stored = [fmt.stored(row) for row in rows]
    assert sorted(stored, key=str) == sorted(expected.items(), key=str)
