"""The shared step of the readers' fuzz tests."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from gpurel.errors import GpurelError
from gpurel.sources.base import ReadOptions, ReadResult


def texts_of(fragments: list[str]) -> st.SearchStrategy[str]:
    """Texts pieced together from fragments of a format and random bits."""
    return st.lists(st.sampled_from(fragments) | st.text(max_size=8), max_size=40).map("".join)


def read_quietly(
    read: Callable[[Path, ReadOptions], Any], text: str, options: ReadOptions, name: str
) -> None:
    """Write ``text`` to a file ``name`` and read it: only gpurel's own errors may escape, and
    what is read accounts for every line (records + rejects + skipped = lines + expanded)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(text, "utf-8", errors="surrogatepass")
        with contextlib.suppress(GpurelError):
            result = read(path, options)
            if isinstance(result, ReadResult):
                found = result.records + result.rejects.num_rows + result.skipped
                assert found == result.lines + result.expanded, (found, result.lines, text)
