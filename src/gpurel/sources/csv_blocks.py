"""Plain CSV events read a block of lines at a time, when no line needs the csv module.

A file qualifies when no line after its header holds a quote, a carriage return that ends no
line, or more bytes than the csv module's field limit: each line is then one CSV row, split
at its commas as the csv module splits it. Arrow's CSV parser splits the lines of the
header's width, on a thread pool; the other lines are blank (skipped) or rejected for their
number of columns, as when the rows are read one by one. ``read`` gives None for a file
that does not qualify.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa

from gpurel.sources.base import ReadOptions
from gpurel.sources.line_blocks import (
    WORKERS,
    Block,
    after_header,
    blocks,
    delimited_fields,
    in_order,
    text_start,
)
from gpurel.sources.plain_columns import BlockPart, Gathered, Read, Records, node_events

# ASCII bytes that are a value: neither a comma nor white space (str.isspace)
_VALUE_BYTE = np.array(
    [b < 0x80 and chr(b) != "," and not chr(b).isspace() for b in range(256)], bool
)


@dataclass(frozen=True)
class _Layout:
    path: Path
    width: int  # the header's number of columns
    positions: dict[str, int]  # field -> its column
    options: ReadOptions


def read(
    path: Path, options: ReadOptions, header_columns: Callable[[list[str]], dict[str, str]]
) -> Read | None:
    """The file's events, read a block at a time, or None when it does not qualify.

    ``header_columns`` gives the header's column of each field (or raises the InputError)."""
    pieces = blocks(path, text_start(path), header=False, bytes_read=options.bytes_read)
    try:
        found = after_header(pieces, partial(_header, path))
    except _Doubtful:
        return None
    if found is None:
        return None
    header, parts = found
    columns = header_columns(header)
    positions = {field: header.index(column) for field, column in columns.items()}
    layout = _Layout(path, len(header), positions, options)
    gathered = Gathered()
    with ThreadPoolExecutor(WORKERS) as pool:
        for part in in_order(pool, partial(_read_block, layout), parts):
            if part is None:
                return None
            gathered.add(part)
    return Read(pa.concat_tables(gathered.events), gathered.rejects, gathered.count, columns)


class _Doubtful(Exception):
    """The header row is one the csv module might read otherwise in the whole file."""


def _header(path: Path, block: Block) -> tuple[int, list[str]] | None:
    """The number of lines up to the header row (the first with a value) and its cells,
    read by the csv module; None if the block has none. _Doubtful when a second byte-order
    mark or an open quote makes that reading doubtful."""
    block.check_utf8(path)
    text = block.data.decode("utf-8")
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next((row for row in rows if any(cell.strip() for cell in row)), None)
    except csv.Error as exc:
        raise _Doubtful from exc
    lead = rows.line_num  # lines counted as the csv module counts them
    if text.startswith("\ufeff") or lead > block.size:
        raise _Doubtful
    if block.data.count(b'"', 0, block.starts[lead]) % 2:  # a quote left open
        raise _Doubtful
    return None if header is None else (lead, header)


def _read_block(layout: _Layout, part: tuple[Block, int]) -> BlockPart | None:
    """The events and rejects of one block's lines after ``lead``; None if it does not qualify."""
    block, lead = part
    block.check_utf8(layout.path)
    body = block.data[block.starts[min(lead, block.size)] :]
    if (
        b'"' in body
        or b"\x00" in body
        or block.lengths[lead:].max(initial=0) > csv.field_size_limit()
    ):
        return None
    used = sorted(set(layout.positions.values()))
    split = delimited_fields(block, ",", layout.width, used)
    if split is None:
        return None
    table, odd = split
    lines = np.delete(np.arange(block.size), odd)
    after = lines >= lead
    # a line may be a row of blank cells (skipped, as by the csv module) unless its first
    # byte is a value byte: those few lines are looked at in Python
    first = np.frombuffer(block.data, np.uint8)[block.starts[lines]]  # "\n" when empty
    maybe = np.flatnonzero(after & ~_VALUE_BYTE[first])
    blank = [i for i in maybe.tolist() if not _cells(block, lines[i])[1]]
    keep = after.copy()
    keep[blank] = False
    chosen, rows = pa.array(keep), lines[keep]
    values = {field: table[position].filter(chosen) for field, position in layout.positions.items()}
    records = Records(rows, values, lambda row: block.line(rows[row]), {})
    events, rejects = node_events(records, layout.options)
    skipped = lead + len(blank)
    for index in odd[odd >= lead].tolist():
        cells, valued_line = _cells(block, index)
        if not valued_line:
            skipped += 1
            continue
        reason = f"expected {layout.width} columns, found {len(cells)}"
        rejects.append((index, None, reason, block.line(index)))
    rejects.sort(key=lambda reject: reject[0])
    return BlockPart(block.size, skipped, events, rejects)


def _cells(block: Block, index: int) -> tuple[list[str], bool]:
    """The cells of a line, and whether any holds a value."""
    text = block.line(index)
    cells = text.split(",") if text else []
    return cells, any(cell.strip() for cell in cells)
