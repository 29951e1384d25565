"""A text file cut into blocks of whole lines, converted in parallel, handed out in order.

Readers of large line-oriented files (sacct dumps, GCM JSON lines, sacctmgr events, plain
CSV events) cut them after newlines into blocks of about BLOCK_BYTES, convert the blocks on a
thread pool of WORKERS threads (Arrow and numpy release the GIL) and take the results back in
file order. ``delimited_fields`` splits a block's lines at a delimiter with Arrow's CSV parser.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.csv as csv

from gpurel.errors import InputError
from gpurel.sources.base import read_text

BLOCK_BYTES = 16 << 20  # bytes converted at once
WORKERS = os.cpu_count() or 1

_In = TypeVar("_In")
_Out = TypeVar("_Out")


@dataclass(frozen=True)
class Block:
    """Whole lines of the file (the last maybe without its newline)."""

    data: bytes
    header: bool  # its first line is the header line

    @property
    def terminated(self) -> bool:
        """Its last line ends with a newline (else it is the file's last, maybe cut short)."""
        return self.data.endswith(b"\n")

    @cached_property
    def size(self) -> int:
        """Its number of lines."""
        newlines = np.count_nonzero(np.frombuffer(self.data, np.uint8) == ord("\n"))
        return int(newlines) + (not self.terminated)

    @cached_property
    def lengths(self) -> np.ndarray:
        """Each line's length in bytes without its line end (``\\n`` or ``\\r\\n``)."""
        raw = np.frombuffer(self.data, np.uint8)
        ends = np.flatnonzero(raw == ord("\n"))
        if not self.terminated:
            ends = np.append(ends, len(raw))
        starts = np.concatenate(([0], ends[:-1] + 1))
        crlf = np.zeros(len(ends), bool)
        inside = ends > starts
        crlf[inside] = raw[ends[inside] - 1] == ord("\r")
        return ends - starts - crlf

    def check_utf8(self, path: Path) -> None:
        """InputError (``read_text``'s, naming the first bad byte) unless it is UTF-8 text."""
        offsets = pa.py_buffer(np.array([0, len(self.data)], np.int32))
        text = pa.Array.from_buffers(pa.string(), 1, [None, offsets, pa.py_buffer(self.data)])
        try:
            text.validate(full=True)
        except pa.ArrowInvalid as exc:
            read_text(path)
            raise InputError(str(path), "not UTF-8 text") from exc

    @cached_property
    def texts(self) -> list[str]:
        """Its lines as text, without line ends (decoded only when one is split in Python)."""
        return [line.removesuffix("\r") for line in self.data.decode("utf-8").split("\n")]


def blocks(
    path: Path, start: int, *, header: bool, bytes_read: Callable[[int], None] | None = None
) -> Iterator[Block]:
    """The file from byte ``start`` cut after newlines into blocks of about BLOCK_BYTES;
    ``bytes_read`` is told of each piece read (progress)."""
    try:
        with path.open("rb") as handle:
            handle.seek(start)
            rest = b""
            while piece := handle.read(BLOCK_BYTES):
                if bytes_read is not None:
                    bytes_read(len(piece))
                cut = piece.rfind(b"\n") + 1
                if not cut:
                    rest += piece
                    continue
                yield Block(b"".join([rest, memoryview(piece)[:cut]]), header)
                header, rest = False, piece[cut:]
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    if rest:
        yield Block(rest, header)


def delimited_fields(
    block: Block, delimiter: str, width: int, used: list[int]
) -> tuple[pa.Table, np.ndarray] | None:
    """Fields ``used`` (columns named by position) of the block's lines that ``str.split``
    cuts into ``width`` fields at ``delimiter``, and the 0-based numbers of the other lines.

    An empty line comes out as a row of empty fields. None when Arrow's CSV parser cannot
    split the block as ``str.split`` would: a delimiter that is not one byte, and a carriage
    return that does not end a line (a line break to that parser).
    """
    data = block.data
    if len(delimiter.encode()) != 1 or delimiter in "\r\n" or _lone_cr(data):
        return None
    odd: list[int] = []

    def skip(row: csv.InvalidRow) -> str:
        odd.append(row.number - 1 if row.number else -1)
        return "skip"

    names = [str(i) for i in range(width)]
    kept = [names[i] for i in used]
    try:
        table = csv.read_csv(
            pa.BufferReader(data),
            read_options=csv.ReadOptions(
                use_threads=False, block_size=min(len(data) + 1, 1 << 30), column_names=names
            ),
            parse_options=csv.ParseOptions(
                delimiter=delimiter,
                quote_char=False,
                ignore_empty_lines=False,
                invalid_row_handler=skip,
            ),
            convert_options=csv.ConvertOptions(
                include_columns=kept,
                column_types=dict.fromkeys(kept, pa.string()),
                strings_can_be_null=False,
                check_utf8=False,
            ),
        )
    except pa.ArrowInvalid:
        return None
    if table.num_rows + len(odd) != block.size or min(odd, default=0) < 0:
        return None
    return table, np.array(odd, np.int64)


def _lone_cr(data: bytes) -> bool:
    """``data`` holds a carriage return that is not followed by a newline."""
    if b"\r" not in data:
        return False
    text = np.frombuffer(data, np.uint8)
    after = np.flatnonzero(text[:-1] == ord("\r")) + 1
    return text[-1] == ord("\r") or bool((text[after] != ord("\n")).any())


def in_order(pool: Executor, work: Callable[[_In], _Out], items: Iterable[_In]) -> Iterator[_Out]:
    """``work`` on each item in the pool, in order, with at most two items per worker taken."""
    pending: deque[Future[_Out]] = deque()
    for item in items:
        pending.append(pool.submit(work, item))
        if len(pending) >= 2 * WORKERS:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
