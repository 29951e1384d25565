"""Plain JSON-lines events read a block of lines at a time by Arrow's JSON parser, when every
line is one that parser reads as ``json.loads`` does.

A block qualifies when each of its lines is empty or one object from ``{`` to ``}``, it holds
no control character but newlines, no ``null`` and no ``NaN``/``Inf`` literal, and Arrow
reads every field's accepted keys as text (no numbers, booleans or objects there, no key
twice). Each field must be read from the same key throughout the file (its first accepted
key present, as per line). ``read`` gives None when a block does not qualify: the caller
then reads the file line by line.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.json as pj

from gpurel.sources.base import ReadOptions
from gpurel.sources.event_fields import FieldNames
from gpurel.sources.line_blocks import WORKERS, Block, blocks, in_order, text_start
from gpurel.sources.plain_columns import BlockPart, Gathered, Read, Records, node_events

# literals Arrow's parser reads and json.loads does not, or reads otherwise
_SPECIAL = re.compile(rb"[:,\[]\s*-?(?:Inf|NaN)")


@dataclass(frozen=True)
class _Part(BlockPart):
    """A block's part, and the key each field was read from there."""

    keys: dict[str, tuple[str, int]]  # field -> its key, and the first row that has it


def read(path: Path, options: ReadOptions, names: FieldNames) -> Read | None:
    """The file's events, read a block at a time, or None when it does not qualify."""
    keys = list(dict.fromkeys(key for accepted in names.names.values() for key in accepted))
    pieces = blocks(path, text_start(path), header=False, bytes_read=options.bytes_read)
    gathered = Gathered()
    first: dict[str, tuple[str, int]] = {}  # field -> its key, and the first line with it
    with ThreadPoolExecutor(WORKERS) as pool:
        for part in in_order(pool, partial(_read_block, path, options, names, keys), pieces):
            if part is None:
                return None
            for field, (key, row) in part.keys.items():
                if first.setdefault(field, (key, gathered.count.total + row))[0] != key:
                    return None  # read from another key than before
            gathered.add(part)
    if not gathered.events:
        return None
    order = list(names.names)
    seen = sorted(first, key=lambda field: (first[field][1], order.index(field)))
    columns = {f: first[f][0] for f in seen}
    return Read(pa.concat_tables(gathered.events), gathered.rejects, gathered.count, columns)


def _read_block(
    path: Path, options: ReadOptions, names: FieldNames, keys: list[str], block: Block
) -> _Part | None:
    """The events and rejects of one block's lines; None if it does not qualify."""
    block.check_utf8(path)
    lines = _object_lines(block)
    if lines is None:
        return None
    table = _parsed(block, keys, _first_keys(block, lines, keys))
    if table is None:  # a line holds a key the first does not
        table = _parsed(block, keys, keys)
    if table is None:
        return None
    if table.num_rows != len(lines):  # several objects on a line
        return None
    values: dict[str, pa.Array] = {}
    read_as: dict[str, tuple[str, int]] = {}
    for field, accepted in names.names.items():
        present = [key for key in accepted if table[key].null_count < table.num_rows]
        if len(present) > 1:  # lines differ in the key they hold the field under
            return None
        if present:
            column = table[present[0]].combine_chunks()
            values[field] = column
            read_as[field] = (present[0], int(lines[np.argmax(column.is_valid())]))
    records = Records(lines, values, lambda row: block.line(lines[row]), {})
    events, rejects = node_events(records, options)
    return _Part(block.size, block.size - len(lines), events, rejects, read_as)


def _first_keys(block: Block, lines: np.ndarray, keys: list[str]) -> list[str]:
    """The accepted keys of the block's first object (all of them if it has none)."""
    try:
        first = json.loads(block.line(int(lines[0])))
    except (IndexError, ValueError, RecursionError):
        return keys
    return [key for key in keys if key in first] if isinstance(first, dict) else keys


def _parsed(block: Block, keys: list[str], text: list[str]) -> pa.Table | None:
    """The block's objects read by Arrow: the keys ``text`` as text, the other ``keys`` as
    absent (a value there is an error: Arrow builds a column for every key it is given, and
    text columns cost it more); None when Arrow cannot read them so."""
    fields = pa.schema([(key, pa.string() if key in text else pa.null()) for key in keys])
    try:
        return pj.read_json(
            pa.BufferReader(block.data),
            read_options=pj.ReadOptions(use_threads=False, block_size=len(block.data) + 1),
            parse_options=pj.ParseOptions(
                explicit_schema=fields, unexpected_field_behavior="ignore"
            ),
        )
    except pa.ArrowException:  # not text where a field is read, or beyond the parser
        return None


def _special(data: bytes) -> bool:
    """``data`` may hold a NaN or Inf literal."""
    return (b"Inf" in data or b"NaN" in data) and _SPECIAL.search(data) is not None


def _object_lines(block: Block) -> np.ndarray | None:
    """The 0-based numbers of the block's non-empty lines, when each is one JSON object
    without control characters, ``null`` or ``NaN``/``Inf`` literals; else None."""
    raw = np.frombuffer(block.data, np.uint8)
    if np.count_nonzero(raw < 0x20) != block.size - (not block.terminated):
        return None  # control characters other than the newlines
    if b"null" in block.data or _special(block.data):
        return None
    lines = np.flatnonzero(block.lengths > 0)
    starts = block.starts[lines]
    ends = starts + block.lengths[lines] - 1
    if not (np.all(raw[starts] == ord("{")) and np.all(raw[ends] == ord("}"))):
        return None
    return lines
