"""Meta GCM health-check records."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from reader_fuzz import read_quietly

from gpurel.sources import gcm
from gpurel.sources.base import ReadOptions

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"
OPTIONS = ReadOptions(cluster="fallback", tz="UTC")


def _read():
    return gcm.read(FIXTURES / "gcm.jsonl", OPTIONS)


def test_sniff() -> None:
    assert gcm.sniff((FIXTURES / "gcm.jsonl").read_text())
    assert not gcm.sniff('{"jobs": [{"job_id": 1}]}')
    assert not gcm.sniff((FIXTURES / "events.jsonl").read_text())
    assert not gcm.sniff("")


def test_records() -> None:
    rows = {r["node"]: r for r in _read().tables["node_events"].to_pylist()}
    assert set(rows) == {f"gpu00{i}" for i in range(1, 7)}

    pci = rows["gpu001"]
    assert (pci["check"], pci["category"], pci["result"]) == ("check pci", "pcie", "fail")
    assert pci["time"] == datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=UTC)
    assert pci["end_time"] == datetime(2024, 5, 1, 10, 0, 1, 500000, tzinfo=UTC)
    assert (pci["source"], pci["cluster"], pci["job_id"]) == ("gcm", "rsc1", None)

    assert (rows["gpu002"]["result"], rows["gpu002"]["job_id"]) == ("ok", "4242")
    assert rows["gpu002"]["message"] is None


def test_xid_check_is_classified_by_its_critical_xid() -> None:
    rows = {r["node"]: r for r in _read().tables["node_events"].to_pylist()}
    assert (rows["gpu003"]["xid"], rows["gpu003"]["category"]) == (79, "gpu_unavailable")
    assert rows["gpu004"]["result"] == "warn"  # second record of a stdout-sink list


def test_scuba_record_and_unknown_result() -> None:
    rows = {r["node"]: r for r in _read().tables["node_events"].to_pylist()}
    diag = rows["gpu005"]
    assert (diag["check"], diag["result"]) == ("check dcgmi diag", "warn")
    assert diag["time"] == datetime(2024, 5, 1, 10, 3, 20, tzinfo=UTC)
    assert rows["gpu006"]["cluster"] == "fallback"
    assert rows["gpu006"]["category"] == "ib_link"


def test_rejects() -> None:
    rejects = _read().rejects.to_pylist()
    assert [(r["line"], r["field"]) for r in rejects] == [
        (6, "result"),
        (7, "start_time"),
        (8, None),
    ]
    assert rejects[2]["reason"].startswith("invalid JSON")


_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "node": st.one_of(st.text(max_size=5), st.integers(), st.none(), st.lists(st.integers())),
        "health_check": st.sampled_from(["check pci", "xid errors", ""]) | st.text(max_size=5),
        "result": st.integers(-2, 5) | st.text(max_size=3) | st.floats() | st.booleans(),
        "start_time": st.floats(allow_nan=True) | st.integers() | st.text(max_size=12),
        "end_time": st.floats(allow_infinity=True) | st.integers(-(10**20), 10**20),
        "_msg": st.sampled_from(["XID error: 99999999999", "non-critical XID error: 3"])
        | st.text(max_size=8),
        "job_id": st.integers() | st.text(max_size=3) | st.dictionaries(st.text(), st.text()),
        "int": st.dictionaries(st.text(max_size=3), st.integers()) | st.integers(),
    },
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_FIELDS | st.lists(_FIELDS, max_size=2), max_size=6), st.text(max_size=30))
def test_fuzz_never_raises_outside_the_error_family(records: list, tail: str) -> None:
    text = "\n".join(json.dumps(r) for r in records) + "\n" + tail
    gcm.sniff(text)
    read_quietly(gcm.read, text, OPTIONS, "gcm.jsonl")
