"""Plain CSV events read a block of lines at a time give the rows, rejects and counts of the
csv module's row-by-row reading (itself checked value by value in test_plain_columns),
whatever lines the file holds."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st

from gpurel.sources import csv_blocks, line_blocks, plain_events
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
