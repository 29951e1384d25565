"""Health-check and kernel logs: read what each gained since the last run.

The position after the last complete line read is stored per file (``state.file_stream``)
once that part's rows are stored. A file that is not the one read last time (another inode,
after a rotation) or that shrank (truncated) is read from its start; lines appended to the old
file between the last run and its rotation are not read here (ingest the rotated file).
A last line without its newline is still being written and waits for the next run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from gpurel.collect import state
from gpurel.collect.load import read_as, store
from gpurel.ingest import detect
from gpurel.sources.base import ReadOptions
from gpurel.warehouse import Warehouse

BLOCK_BYTES = 64 << 20  # read and stored at once


def _file_id(stat: os.stat_result) -> str:
    return f"{stat.st_dev}:{stat.st_ino}"


def blocks(
    path: Path, since: state.FilePosition | None, block_bytes: int = BLOCK_BYTES
) -> Iterator[tuple[bytes, state.FilePosition, int]]:
    """(complete lines, position after them, lines before them) of what ``path`` gained since
    ``since``, in blocks of about ``block_bytes``."""
    stat = path.stat()
    file_id = _file_id(stat)
    fresh = since is None or since.file_id != file_id or since.offset > stat.st_size
    position = state.FilePosition(file_id, 0, 0) if fresh or since is None else since
    with path.open("rb") as handle:
        handle.seek(position.offset)
        while position.offset < stat.st_size:
            lines = handle.readlines(block_bytes)
            if lines and not lines[-1].endswith(b"\n"):
                lines.pop()  # still being written
            if not lines:
                return
            data = b"".join(lines)
            before = position.line
            position = state.FilePosition(file_id, position.offset + len(data), before + len(lines))
            yield data, position, before


def collect_log(warehouse: Warehouse, path: Path, fmt: str, options: ReadOptions) -> dict[str, int]:
    """Read and store what the log ``path`` gained since the last run; rows per table.

    ``fmt`` is a reader name, or ``auto`` to detect it from the start of the file.
    """
    path = path.resolve()
    stream = state.file_stream(str(path))
    written: dict[str, int] = {}
    reader = None
    for data, position, before in blocks(path, state.file_position(warehouse, stream)):
        reader = reader or (detect(path).name if fmt == "auto" else fmt)
        result = read_as(
            data,
            reader,
            options,
            name=path.name,
            label=str(path),
            lines_before=before,
            mtime=path.stat().st_mtime,
        )
        for name, rows in store(warehouse, result).items():
            written[name] = written.get(name, 0) + rows
        state.set_file_position(warehouse, stream, position)
    return written
