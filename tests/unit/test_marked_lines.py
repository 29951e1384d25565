"""MarkedLines: the lines of TextLines that hold a marker, found by a byte search."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from gpurel.sources.event_rows import MarkedLines, TextLines

MARKERS = ("nvrm:", "health check failed")
_FRAGMENTS = ["\n", "\r\n", "\r", " ", "\ufeff", "NVRM:", "nvrm:", "Health Check FAILED",
              "health chec\u212a fa\u0131led", "x", "\u00e9", "\n\n"]  # fmt: skip
_TEXTS = st.lists(st.sampled_from(_FRAGMENTS) | st.text(max_size=4), max_size=30).map("".join)


def _expected(text: str, fold_case: bool) -> tuple[int, list[tuple[int, str]]]:
    flags = re.IGNORECASE if fold_case else 0
    pattern = re.compile("|".join(map(re.escape, MARKERS)), flags)
    lines = TextLines(text)
    marked = [(n, line) for n, line in lines if pattern.search(line)]
    return lines.total, marked


@given(_TEXTS, st.booleans())
def test_same_lines_and_numbers_as_text_lines(text: str, fold_case: bool) -> None:
    data = text.encode()
    lines = MarkedLines(data, [m.encode() for m in MARKERS], fold_case=fold_case)
    total, marked = _expected(text, fold_case)
    found = list(lines)
    if fold_case:  # lines with a letter folding to ASCII are taken too: the readers re-check
        found = [(n, line) for n, line in found if (n, line) in marked]
    else:
        assert len(found) == len(marked)
    assert found == marked
    assert lines.total == total and lines.skipped == total - len(list(lines))


def test_counts_a_last_line_without_newline_and_drops_the_byte_order_mark() -> None:
    lines = MarkedLines("\ufeffNVRM: a\r\nb\n\nc NVRM: d".encode(), [b"NVRM:"])
    assert list(lines) == [(1, "NVRM: a"), (4, "c NVRM: d")]
    assert (lines.total, lines.skipped) == (4, 2)
