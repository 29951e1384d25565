"""Fixed-shape values read straight from the bytes of an Arrow string array.

Times (``2024-03-01T10:00:00``) and clock durations (``1-02:03:04``) have a fixed shape. Their
last bytes, right-aligned in a (width, rows) matrix, are checked and turned into numbers by a
few numpy operations over whole columns instead of a regular expression per value.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pyarrow as pa

DIGIT = ord("9")  # marks a digit in a shape
_ZERO = np.uint8(ord("0"))


def tail_bytes(values: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The last ``width`` bytes of the strings: row ``i`` of the matrix holds the ``i``-th last
    but ``width - 1`` byte of every string. Also the lengths in bytes (-1 for null).

    Where a string is shorter than ``width``, its column starts with unrelated bytes.
    """
    if values.type != pa.string():
        values = values.cast(pa.string())
    if len(values) == 0:
        return np.zeros((width, 0), np.uint8), np.zeros(0, np.int64)
    _, offsets_buffer, data_buffer = values.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int32, len(values) + 1, values.offset * 4)
    data = np.frombuffer(data_buffer, np.uint8) if data_buffer else np.zeros(1, np.uint8)
    index: np.ndarray = offsets[1:].astype(np.intp) + np.arange(-width, 0)[:, None]
    valid = values.is_valid().to_numpy(zero_copy_only=False)
    return data.take(index, mode="clip"), np.where(valid, np.diff(offsets), -1)


def number(digits: np.ndarray) -> np.ndarray:
    """The decimal numbers spelled by the columns of a (digits, rows) matrix of values 0-9."""
    value = digits[0].astype(np.int64)
    for row in digits[1:]:
        value = value * 10 + row
    return value


def shaped(matrix: np.ndarray, shape: bytes) -> tuple[list[np.ndarray], np.ndarray]:
    """The digit groups of columns shaped like ``shape`` (``9`` marks a digit), and which are.

    ``shaped(m, b"9999-99")`` gives ``[years, months]`` and the columns with a ``-`` between.
    """
    pattern = np.frombuffer(shape, np.uint8)[:, None]
    is_digit = pattern == DIGIT
    values = matrix - _ZERO
    ok = np.logical_and.reduce(np.where(is_digit, values <= 9, matrix == pattern), axis=0)
    bounds = [-1, *np.flatnonzero(~is_digit).tolist(), len(shape)]
    return [number(values[a + 1 : b]) for a, b in pairwise(bounds)], ok


def left_digits(matrix: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The numbers spelled by the last ``count`` bytes of each column, and if they are digits."""
    values = matrix - _ZERO
    inside = np.arange(matrix.shape[0])[:, None] >= matrix.shape[0] - count
    ok = np.logical_and.reduce(np.where(inside, values <= 9, True), axis=0)
    return number(np.where(inside & ok, values, 0)), ok
