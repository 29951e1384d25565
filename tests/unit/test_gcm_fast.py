"""The block reader of GCM records gives exactly the rows and rejects of the per-line one."""

from __future__ import annotations

import json
import tempfile
from functools import partial
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpurel.errors import ConfigError, InputError
from gpurel.sources import gcm, gcm_columns, line_blocks
from gpurel.sources.base import ReadOptions

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = [
    ROOT / "tests" / "fixtures" / "events" / "gcm.jsonl",
    ROOT / "src" / "gpurel" / "demo" / "health.jsonl",
    ROOT / "demo" / "health.jsonl",
]
OPTIONS = ReadOptions(cluster="fallback", tz="Europe/Amsterdam")
DESCRIBE = partial(gcm._describe, OPTIONS.taxonomy)
CHECKS = ["check pci", "xid errors", " check ib ", "link flaps", "nvidia smi row_remap"]
MESSAGES = [
    "",
    "PCIe Issues Detected",
    "XID error: 79, XID causes: HW",
    "non-critical XID error: 13",
]


def _record(i: int) -> dict[str, object]:
    failing = i % 7 == 0
    return {
        "node": f"gpu{i % 13:03d}",
        "cluster": ["rsc1", "", " rsc2 "][i % 3],
        "health_check": CHECKS[i % len(CHECKS)],
        "result": [0, 1, 2, 3][i % 4],
        "_msg": MESSAGES[i % len(MESSAGES)] if failing else "",
        "job_id": [0, 4242, 17][i % 3],
        "start_time": 1714557600.25 + i * 0.3 if i % 11 else 0,
        "end_time": 1714557601 + i,
    }


def assert_same(path: Path, options: ReadOptions = OPTIONS) -> None:
    """gcm.read of ``path`` equals the per-line reader's result, rows and rejects."""
    fast, slow = gcm.read(path, options), gcm._read_slow(path, options)
    events, expected = fast.tables["node_events"], slow.tables["node_events"]
    assert events.schema == expected.schema
    assert events.to_pylist() == expected.to_pylist()
    assert fast.rejects.schema == slow.rejects.schema
    assert fast.rejects.to_pylist() == slow.rejects.to_pylist()


@pytest.mark.parametrize("path", [p for p in FIXTURES if p.exists()], ids=lambda p: p.name)
def test_fixtures(path: Path) -> None:
    assert_same(path)


def test_plain_records_take_the_block_path() -> None:
    data = "".join(json.dumps(_record(i)) + "\n" for i in range(200)).encode()
    table = gcm_columns.node_events(data, "fallback", DESCRIBE, "gcm")
    assert table is not None and table.num_rows == 200


def test_many_blocks_mixing_plain_and_odd_lines(tmp_path: Path) -> None:
    lines = [json.dumps(_record(i)) for i in range(400)]
    lines[50] = json.dumps([_record(1), _record(2)])
    lines[120] = '{"int": {"result": 2, "job_id": 0}, "normal": {"node": "n", "health_check": "x"}}'
    lines[121] = lines[121][:-1] + ', "start_time": "2024-05-01T10:00:00"}'
    lines[200] = "not json"
    lines[201] = ""
    lines[300] = json.dumps({**_record(3), "result": 9})
    path = tmp_path / "gcm.jsonl"
    path.write_text("\r\n".join(lines[:10]) + "\n" + "\n".join(lines[10:]))
    with mock.patch.object(line_blocks, "BLOCK_BYTES", 2000):
        parts = list(gcm.read_batches(path, OPTIONS))
        assert len(parts) > 20
        assert_same(path)
    rejected = gcm.read(path, OPTIONS).rejects.to_pylist()
    assert [(r["line"], r["field"]) for r in rejected] == [
        (121, "start_time"),
        (201, None),
        (301, "result"),
    ]


def test_empty_and_unreadable_files(tmp_path: Path) -> None:
    path = tmp_path / "gcm.jsonl"
    for data in (b"", b"\n\n", b"  \n"):
        path.write_bytes(data)
        assert_same(path)
        assert len(list(gcm.read_batches(path, OPTIONS))) == 1
    for data in (b'{"node": "a"}\n\x00', b'{"node": "\xff"}\n'):
        path.write_bytes(data)
        with pytest.raises(InputError) as fast:
            gcm.read(path, OPTIONS)
        with pytest.raises(InputError) as slow:
            gcm._read_slow(path, OPTIONS)
        assert str(fast.value) == str(slow.value)


_TIMES = (
    st.floats(-1e11, 3e11)
    | st.floats()
    | st.integers(-(10**12), 10**12)
    | st.sampled_from([0, 0.0, -0.0, None, "2024-05-01T10:00:00", "0", "", 1714557600.0000005])
)
_RECORDS = st.fixed_dictionaries(
    {},
    optional={
        "node": st.sampled_from(["gpu001", " gpu002\u2003", "", "\x1cgpu3"]) | st.text(max_size=4),
        "cluster": st.sampled_from(["rsc1", " ", "\x85"]) | st.none(),
        "health_check": st.sampled_from(CHECKS) | st.text(max_size=4) | st.integers(0, 3),
        "result": st.integers(-1, 4) | st.sampled_from(["ok", "2", 2.0, True, None]),
        "_msg": st.sampled_from(MESSAGES) | st.text(max_size=6) | st.none(),
        "job_id": st.sampled_from([0, -0, 42, "0", "", "17", 2.5, None, 2**70]),
        "start_time": _TIMES,
        "end_time": _TIMES,
        "type": st.sampled_from(["nagios", [1, 2], {"a": None}]),
    },
)
_LINES = (
    st.tuples(_RECORDS, st.booleans()).map(lambda r: json.dumps(r[0], ensure_ascii=r[1]))
    | st.lists(_RECORDS, max_size=2).map(json.dumps)
    | st.fixed_dictionaries({"int": _RECORDS, "normal": _RECORDS}).map(json.dumps)
    | st.sampled_from(["", "  ", "{", "[]", "3", "{} {}", '{"node": "a"}\u2028', "\ufeff{}"])
    | st.text(max_size=10)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINES, max_size=30), st.sampled_from(["", "\n"]), st.integers(1, 400))
def test_fuzz_same_as_per_line(lines: list[str], end: str, block: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(line_blocks, "BLOCK_BYTES", block):
        path = Path(tmp) / "gcm.jsonl"
        path.write_text("\n".join(lines) + end, "utf-8", errors="surrogatepass")
        try:
            gcm._read_slow(path, OPTIONS)
        except InputError:
            return  # surrogates: no UTF-8 text, tested above
        assert_same(path)


_PLAIN = st.fixed_dictionaries(
    {
        "node": st.text(min_size=1, max_size=4).filter(str.strip),
        "health_check": st.sampled_from(CHECKS) | st.text(min_size=1, max_size=4).filter(str.strip),
        "result": st.integers(0, 3),
        "start_time": (st.floats(-6e10, 2.5e11) | st.integers(1, 10**11)).filter(bool),
    },
    optional={
        "cluster": st.sampled_from(["rsc1", " ", "\x85x", ""]) | st.none(),
        "_msg": st.sampled_from(MESSAGES) | st.text(max_size=6) | st.none(),
        "job_id": st.integers(-(2**63), 2**63 - 1) | st.sampled_from([0, None]),
        "end_time": st.floats(-6e10, 2.5e11).filter(bool) | st.none(),
    },
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_PLAIN, min_size=1, max_size=20), st.booleans())
def test_fuzz_plain_records_take_the_block_path(records: list[dict], ascii: bool) -> None:
    text = "".join(json.dumps(r, ensure_ascii=ascii) + "\n" for r in records)
    if len(text.splitlines()) != len(records) or "\ufeff" in text:
        return  # odd line breaks and byte-order marks are left to the per-line path
    assert gcm_columns.node_events(text.encode(), "fallback", DESCRIBE, "gcm") is not None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gcm.jsonl"
        path.write_text(text, "utf-8", errors="surrogatepass")
        assert_same(path)


def test_unknown_zone_is_a_config_error_on_the_block_path(tmp_path: Path) -> None:
    path = tmp_path / "gcm.jsonl"
    path.write_text(json.dumps(_record(1)) + "\n")
    with pytest.raises(ConfigError):
        gcm.read(path, ReadOptions(tz="Mars/Olympus"))
