"""Node-event values converted a column at a time: each distinct value once, times by Arrow.

Readers that gather their records' values into Arrow string columns convert them here with
the same functions that read one value (``event_rows``), called once per distinct value.
Times take two shortcuts that read a value exactly as ``parse_time`` does: ISO-8601 instants
with an offset are cast by Arrow, local wall times ``YYYY-MM-DDTHH:MM:SS`` are read by
``slurm_values.parse_times`` in the source zone; every other value goes through ``parse_time``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gpurel import schema
from gpurel.sources import slurm_values
from gpurel.sources.event_rows import BadValue

Convert = Callable[[str | None], Any]
Converted = tuple[pa.Array, dict[int, BadValue]]  # the column, and each bad row's BadValue

_ISO_INSTANT = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"


def each_distinct(values: pa.Array, convert: Convert, kind: pa.DataType) -> Converted:
    """``convert`` of every value (None for null), called once per distinct value: the
    converted column (null where a value is bad) and the BadValue of each bad row."""
    if values.null_count == len(values):  # a field the input lacks
        try:
            return pa.repeat(pa.scalar(convert(None), kind), len(values)), {}
        except BadValue as exc:
            return pa.nulls(len(values), kind), dict.fromkeys(range(len(values)), exc)
    encoded = values.dictionary_encode()
    distinct = [*encoded.dictionary.to_pylist(), None]
    codes = pc.fill_null(encoded.indices, len(distinct) - 1).to_numpy()
    results: list[Any] = []
    failures: dict[int, BadValue] = {}
    for code, value in enumerate(distinct):
        try:
            results.append(convert(value))
        except BadValue as exc:
            results.append(None)
            failures[code] = exc
    bad_rows = np.flatnonzero(np.isin(codes, list(failures)))
    return pa.array(results, kind).take(codes), {int(r): failures[codes[r]] for r in bad_rows}


def times(values: pa.Array, zone_name: str, convert: Convert) -> Converted:
    """``each_distinct`` for times, with the shortcuts of the module docstring; ``convert``
    reads the other values (and all of them when an instant is out of Arrow's range)."""
    if values.null_count == len(values):  # a field the input lacks
        return each_distinct(values, convert, schema.TIME)
    rows = np.arange(len(values))
    pieces: list[tuple[np.ndarray, pa.Array]] = []
    for shortcut in (partial(_walls, zone_name), _instants):
        done, converted = shortcut(values if not pieces else values.take(pa.array(rows)))
        pieces.append((rows[done], converted))
        rows = rows[~done]
    rest, bad = each_distinct(values.take(pa.array(rows)), convert, schema.TIME)
    pieces.append((rows, rest))
    whole = [column for where, column in pieces if len(where) == len(values)]
    if whole:
        merged = whole[0]
    else:
        order = np.argsort(np.concatenate([where for where, _ in pieces]), kind="stable")
        merged = pa.concat_arrays([column for _, column in pieces]).take(pa.array(order))
    return merged, {int(rows[row]): problem for row, problem in bad.items()}


def _walls(zone_name: str, values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Which values are wall times ``YYYY-MM-DDTHH:MM:SS``, and those as UTC in the zone."""
    shaped = _mask(pc.fill_null(pc.equal(pc.binary_length(values), 19), False))
    if not shaped.any():
        return shaped, pa.array([], schema.TIME)
    walls, _ = slurm_values.parse_times(values.filter(pa.array(shaped)), zone_name)
    read = _mask(walls.is_valid())
    shaped[shaped] = read
    return shaped, walls.filter(pa.array(read))


def _instants(values: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Which values are ISO-8601 instants with an offset, and those cast by Arrow; none
    when one holds a day or an offset out of range (``parse_time`` says which)."""
    instant = _mask(pc.fill_null(pc.match_substring_regex(values, _ISO_INSTANT), False))
    try:
        return instant, pc.cast(values.filter(pa.array(instant)), schema.TIME)
    except pa.ArrowInvalid:
        return np.zeros(len(values), bool), pa.array([], schema.TIME)


def distinct_rows(columns: Sequence[pa.Array]) -> tuple[list[tuple[Any, ...]], pa.Array]:
    """The distinct combinations of the columns' values (as Python values, None for null)
    in some order, and each row's index into them."""
    keys = np.zeros(len(columns[0]), np.int64)
    size = 1  # keys lie in range(size)
    for values in columns:
        encoded = values.dictionary_encode()
        width = len(encoded.dictionary) + 1  # the last code stands for null
        if size * width >= 1 << 62:  # renumber the keys so far from 0 first
            distinct, keys = np.unique(keys, return_inverse=True)
            size = len(distinct)
        keys = keys * width + pc.fill_null(encoded.indices, width - 1).to_numpy()
        size *= width
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    picked = pa.array(first)
    found = list(zip(*(values.take(picked).to_pylist() for values in columns), strict=True))
    return found, pa.array(inverse.reshape(-1))


def spread(values: Sequence[Any], kind: pa.DataType, rows: pa.Array) -> pa.Array:
    """The column whose row ``i`` is ``values[rows[i]]``."""
    return pa.array(values, kind).take(rows)


def _mask(flags: pa.Array) -> np.ndarray:
    return np.asarray(flags.to_numpy(zero_copy_only=False), bool)
