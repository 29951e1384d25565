"""Plain CSV and JSON-lines events read a block of lines at a time give the rows, rejects,
counts and notes of the row-by-row reading (itself checked value by value in
test_plain_columns), whatever lines the file holds."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st

from gpurel.sources import csv_blocks, json_blocks, line_blocks, plain_events
from gpurel.sources.base import ReadOptions, ReadResult

OPTIONS = ReadOptions(cluster="c0", tz="Europe/Paris")
HEADERS = [
    "time,node,check,result,message",
    "Timestamp,HOST,check,status,msg,end_time,xid",
    '"time","node","check","result"',
    "node,check,result,time,cluster,severity",
]
VALUES = {
    "time": ["2024-05-01T10:00:00Z", "2024-03-31T02:30:00", "2024-10-27T02:30:00", "x", ""],
    "node": ["gpu001", " gpu002 ", "", "gpü"],
    "check": ["check_hw_ib", "nvlink", ""],
    "result": ["fail", "OK", "2", "maybe", ""],
    "message": ["", "ib0 down", "Xid 79 \u3000"],
    "other": ["", "rsc1", "HIGH", "79", "loud", "later", "\x1c"],
}
ODD_LINES = ["", "   ", "\u3000", " ,\u3000, ,", "a,b", "# comment", "x,y,z,w,v,u,t,s,r", "\x1c,"]
QUOTED = ['"gpu001, gpu002",x', "gpu\rx,y"]  # the csv module reads these files


def _line(width: int, picks: list[str], odd: str | None) -> str:
    return odd if odd is not None else ",".join(picks[:width])


LINE = st.tuples(
    st.lists(
        st.sampled_from([v for values in VALUES.values() for v in values]), min_size=7, max_size=7
    ),
    st.none() | st.sampled_from(ODD_LINES),
)


def _both(text: str, block_bytes: int) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The file read by blocks (when it qualifies), and read by rows."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.csv"
        path.write_bytes(text.encode())
        with mock.patch.object(line_blocks, "BLOCK_BYTES", block_bytes):
            by_blocks = plain_events.read_csv(path, OPTIONS)
            with mock.patch.object(csv_blocks, "read", return_value=None):
                by_rows = plain_events.read_csv(path, OPTIONS)
    return _seen(by_blocks), _seen(by_rows)


def _seen(result: ReadResult) -> tuple[Any, ...]:
    return (
        result.tables["node_events"].to_pylist(),
        result.rejects.to_pylist(),
        (result.lines, result.skipped, result.expanded),
        result.notes,
    )


def _qualifies(text: str) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.csv"
        path.write_bytes(text.encode())
        return csv_blocks.read(path, OPTIONS, lambda _: {}) is not None


@given(
    header=st.sampled_from(HEADERS),
    lines=st.lists(LINE, max_size=25),
    crlf=st.booleans(),
    lead=st.sampled_from(["", "\n", "\ufeff", " \n,\n"]),
    tail=st.sampled_from(["", "\n"]),
    block_bytes=st.sampled_from([40, 300, 1 << 20]),
)
def test_blocks_equal_the_row_by_row_reading(
    header: str,
    lines: list[tuple[list[str], str | None]],
    crlf: bool,
    lead: str,
    tail: str,
    block_bytes: int,
) -> None:
    width = header.count(",") + 1
    body = [_line(width, picks, odd) for picks, odd in lines]
    end = "\r\n" if crlf else "\n"
    text = lead + end.join([header, *body]) + tail
    assert _qualifies(text)
    by_blocks, by_rows = _both(text, block_bytes)
    assert by_blocks == by_rows


@given(
    lines=st.lists(LINE, max_size=10),
    quoted=st.sampled_from(QUOTED),
)
def test_files_with_quotes_or_lone_carriage_returns_are_read_by_rows(
    lines: list[tuple[list[str], str | None]], quoted: str
) -> None:
    header = HEADERS[0]
    body = [_line(5, picks, odd) for picks, odd in lines]
    text = "\n".join([header, *body, quoted]) + "\n"
    assert not _qualifies(text)
    by_blocks, by_rows = _both(text, 1 << 20)
    assert by_blocks == by_rows


def test_a_line_over_the_field_limit_is_rejected_as_by_the_csv_module(tmp_path: Path) -> None:
    text = (
        "time,node,check,result\n" + "x" * 131_073 + ",gpu001,c,fail\n2024-05-01T10:00:00Z,g,c,ok\n"
    )
    path = tmp_path / "events.csv"
    path.write_text(text)
    assert csv_blocks.read(path, OPTIONS, lambda _: {}) is None
    result = plain_events.read_csv(path, OPTIONS)
    assert [r["line"] for r in result.rejects.to_pylist()] == [2]
    assert result.tables["node_events"].num_rows == 1


JSON_KEYS = ["time", "node", "check", "result", "message", "ts", "host", "xid", "severity"]
JSON_VALUES = [*(v for values in VALUES.values() for v in values), "Infiniband down", "79"]
JSON_ODD = ["", "[1]", '"text"', "{not json", '{"time": "x"} {"node": "y"}', '{"a": {"b": [1, 2]}}']
JSON_HOSTILE = [" ", '{"time": null}', '{"result": true}', '{"xid": 79}', '{"x": NaN}', "\t{}"]
JSON_LINE = st.one_of(
    st.dictionaries(st.sampled_from(JSON_KEYS), st.sampled_from(JSON_VALUES), max_size=7),
    st.sampled_from(JSON_ODD),
)


def _json_text(lines: list[dict[str, str] | str], lead: str) -> str:
    body = [line if isinstance(line, str) else json.dumps(line) for line in lines]
    return lead + "".join(line + "\n" for line in body)


def _both_jsonl(text: str, block_bytes: int) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The JSON lines read by blocks (when they qualify), and read line by line."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        path.write_bytes(text.encode())
        with mock.patch.object(line_blocks, "BLOCK_BYTES", block_bytes):
            by_blocks = plain_events.read_jsonl(path, OPTIONS)
            with mock.patch.object(json_blocks, "read", return_value=None):
                by_lines = plain_events.read_jsonl(path, OPTIONS)
            qualifies = json_blocks.read(path, OPTIONS, plain_events.JSON_NAMES) is not None
    return (*_seen(by_blocks), qualifies), (*_seen(by_lines), qualifies)


@given(
    lines=st.lists(JSON_LINE, max_size=25),
    lead=st.sampled_from(["", "\ufeff", "\n"]),
    block_bytes=st.sampled_from([60, 400, 1 << 20]),
)
def test_json_blocks_equal_the_line_by_line_reading(
    lines: list[dict[str, str] | str], lead: str, block_bytes: int
) -> None:
    by_blocks, by_lines = _both_jsonl(_json_text(lines, lead), block_bytes)
    assert by_blocks == by_lines


SPELLINGS = [JSON_KEYS[:5], ["ts", "host", "name", "status", "msg"]]


@given(
    spelling=st.sampled_from(SPELLINGS),
    lines=st.lists(st.sets(st.integers(0, 4)).map(sorted), max_size=12),
    value=st.sampled_from(JSON_VALUES),
)
def test_json_lines_with_one_key_per_field_are_read_by_blocks(
    spelling: list[str], lines: list[list[int]], value: str
) -> None:
    """Whichever fields each line holds, and in whatever order they first appear."""
    records: list[dict[str, str] | str] = [{spelling[i]: value for i in keys} for keys in lines]
    by_blocks, by_lines = _both_jsonl(_json_text(records, ""), 1 << 20)
    assert by_blocks == by_lines and by_blocks[-1] == bool(lines)


@given(
    lines=st.lists(JSON_LINE, max_size=8),
    hostile=st.sampled_from(JSON_HOSTILE),
)
def test_json_lines_the_parser_reads_otherwise_are_read_line_by_line(
    lines: list[dict[str, str] | str], hostile: str
) -> None:
    by_blocks, by_lines = _both_jsonl(_json_text([*lines, hostile], ""), 1 << 20)
    assert by_blocks == by_lines and not by_blocks[-1]
