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
from itertools import chain
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.csv as csv

from gpurel.errors import InputError
from gpurel.sources.base import read_bytes, read_text

BLOCK_BYTES = 16 << 20  # bytes converted at once
_BOM = "\ufeff".encode()
WORKERS = os.cpu_count() or 1

_In = TypeVar("_In")
_Out = TypeVar("_Out")
_Found = TypeVar("_Found")


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
    def starts(self) -> np.ndarray:
        """Where each line starts (a byte offset); a last item, where the next would."""
        ends = np.flatnonzero(np.frombuffer(self.data, np.uint8) == ord("\n")) + 1
        return np.concatenate(([0], ends if self.terminated else [*ends, len(self.data) + 1]))

    @cached_property
    def lengths(self) -> np.ndarray:
        """Each line's length in bytes without its line end (``\\n`` or ``\\r\\n``)."""
        raw = np.frombuffer(self.data, np.uint8)
        ends = self.starts[1:] - 1  # where each line's newline is, or would be
        crlf = np.zeros(len(ends), bool)
        inside = ends > self.starts[:-1]
        crlf[inside] = raw[ends[inside] - 1] == ord("\r")
        return ends - self.starts[:-1] - crlf

    def check_utf8(self, path: Path) -> None:
        """InputError (``read_text``'s, naming the first bad byte) unless it is UTF-8 text."""
        offsets = pa.py_buffer(np.array([0, len(self.data)], np.int32))
        text = pa.Array.from_buffers(pa.string(), 1, [None, offsets, pa.py_buffer(self.data)])
        try:
            text.validate(full=True)
        except pa.ArrowInvalid as exc:
            read_text(path)
            raise InputError(str(path), "not UTF-8 text") from exc

    def line(self, index: int) -> str:
        """Line ``index`` (0-based) as text, without its line end: one line decoded alone."""
        start, end = int(self.starts[index]), int(self.starts[index + 1]) - 1
        return self.data[start:end].decode("utf-8").removesuffix("\r")

    @cached_property
    def texts(self) -> list[str]:
        """Its lines as text, without line ends (decoded only when one is split in Python)."""
        return [line.removesuffix("\r") for line in self.data.decode("utf-8").split("\n")]


def text_start(path: Path) -> int:
    """Where a text file's text starts, after a UTF-8 byte-order mark; the InputError of
    ``read_bytes`` for a binary file."""
    try:
        with path.open("rb") as handle:
            head = handle.read(65536)
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from exc
    if b"\x00" in head:
        read_bytes(path)  # raises its InputError
    return len(_BOM) if head.startswith(_BOM) else 0


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
) -> tuple[dict[int, pa.Array], np.ndarray] | None:
    """Fields ``used`` (by position) of the block's lines that ``str.split`` cuts into
    ``width`` fields at ``delimiter``, and the 0-based numbers of the other lines.

    An empty line comes out as a row of empty fields. None when Arrow's CSV parser cannot
    split the block as ``str.split`` would: a delimiter that is not one byte, and a carriage
    return that does not end a line (a line break to that parser).
    """
    if len(delimiter.encode()) != 1 or delimiter in "\r\n":
        return None
    split = split_lines(block.data, block.size, delimiter, width, [str(i) for i in used])
    if split is None:
        return None
    table, odd = split
    fields = {i: table.column(str(i)) for i in used}
    arrays = {i: c.chunk(0) if c.num_chunks == 1 else c.combine_chunks() for i, c in fields.items()}
    return arrays, np.array(odd, np.int64)


def split_lines(
    data: bytes, lines: int, delimiter: str, width: int, used: list[str]
) -> tuple[pa.Table, list[int]] | None:
    """Columns ``used`` (named by position, "0" to "width - 1") of the ``lines`` lines of
    ``data`` that have ``width`` fields at the one-byte ``delimiter``, as text, and the 0-based
    numbers of the other lines. None where Arrow's CSV parser cannot split them as
    ``str.split`` would: a carriage return that does not end a line is a line break to it.
    """
    if _lone_cr(data):
        return None
    odd: list[int] = []

    def skip(row: csv.InvalidRow) -> str:
        odd.append(row.number - 1 if row.number else -1)
        return "skip"

    try:
        table = csv.read_csv(
            pa.BufferReader(data),
            read_options=csv.ReadOptions(
                use_threads=False,
                block_size=min(len(data) + 1, 1 << 30),
                column_names=[str(i) for i in range(width)],
            ),
            parse_options=csv.ParseOptions(
                delimiter=delimiter,
                quote_char=False,
                ignore_empty_lines=False,
                invalid_row_handler=skip,
            ),
            convert_options=csv.ConvertOptions(
                include_columns=used,
                column_types=dict.fromkeys(used, pa.string()),
                strings_can_be_null=False,
                check_utf8=False,
            ),
        )
    except pa.ArrowInvalid:
        return None
    if table.num_rows + len(odd) != lines or min(odd, default=0) < 0:
        return None
    return table, odd


def _lone_cr(data: bytes) -> bool:
    """``data`` holds a carriage return that is not followed by a newline."""
    if b"\r" not in data:
        return False
    text = np.frombuffer(data, np.uint8)
    after = np.flatnonzero(text[:-1] == ord("\r")) + 1
    return text[-1] == ord("\r") or bool((text[after] != ord("\n")).any())


def after_header(
    pieces: Iterator[Block], header: Callable[[Block], tuple[int, _Found] | None]
) -> tuple[_Found, Iterator[tuple[Block, int]]] | None:
    """The header that ``header`` finds in the first block holding one (it gives the number
    of the block's lines up to and with the header, and the header), and every block with
    the number of lines at its start that hold no record. None when no block holds one."""
    before: list[Block] = []  # blocks without a header: blank lines only
    for block in pieces:
        found = header(block)
        if found is None:
            before.append(block)
            continue
        lead, value = found
        first = [*((b, b.size) for b in before), (block, lead)]
        return value, chain(first, ((b, 0) for b in pieces))
    return None


def in_order(pool: Executor, work: Callable[[_In], _Out], items: Iterable[_In]) -> Iterator[_Out]:
    """``work`` on each item in the pool, in order, with at most two items per worker taken."""
    pending: deque[Future[_Out]] = deque()
    for item in items:
        pending.append(pool.submit(work, item))
        if len(pending) >= 2 * WORKERS:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
