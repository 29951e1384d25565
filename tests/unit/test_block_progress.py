"""Readers of large files report the bytes they read, block by block (ingest's progress)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpurel.sources import line_blocks


def test_every_byte_is_reported_once_as_blocks_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(line_blocks, "BLOCK_BYTES", 64)
    path = tmp_path / "lines.txt"
    path.write_bytes(b"".join(b"line %d with some text\n" % i for i in range(100)) + b"tail")
    reported: list[int] = []
    found = list(line_blocks.blocks(path, 0, header=False, bytes_read=reported.append))
    assert sum(reported) == path.stat().st_size
    assert len(reported) > 10  # many reports, not one at the end
    assert b"".join(block.data for block in found) == path.read_bytes()
