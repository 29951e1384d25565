"""A text file cut into blocks of whole lines, converted in parallel, handed out in order.

Readers of large line-oriented files (sacct dumps, GCM JSON lines) cut them after newlines
into blocks of about BLOCK_BYTES, convert the blocks on a thread pool of WORKERS threads
(Arrow and numpy release the GIL) and take the results back in file order.
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

from gpurel.errors import InputError

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


def in_order(pool: Executor, work: Callable[[_In], _Out], items: Iterable[_In]) -> Iterator[_Out]:
    """``work`` on each item in the pool, in order, with at most two items per worker taken."""
    pending: deque[Future[_Out]] = deque()
    for item in items:
        pending.append(pool.submit(work, item))
        if len(pending) >= 2 * WORKERS:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
