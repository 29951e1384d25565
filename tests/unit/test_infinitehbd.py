"""The StepFun InfiniteHBD fault trace: pairing, inventory, and the real trace (golden)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reader_fuzz import read_quietly

from gpurel.errors import InputError
from gpurel.sources import infinitehbd
from gpurel.sources.base import ReadOptions

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"
TRACE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "infinitehbd_stepfun"
DAY0 = datetime(2024, 3, 30, tzinfo=UTC)
GENUINELY_UNKNOWN = {"Unknown Error", "Suspect Machine Offline", "Temporarily Offline"}


def test_sniff() -> None:
    assert infinitehbd.sniff((FIXTURES / "infinitehbd_small.json").read_text())
    assert not infinitehbd.sniff('{"jobs": []}')
    assert not infinitehbd.sniff((FIXTURES / "gcm.jsonl").read_text())


def test_pairing_and_rejects() -> None:
    result = infinitehbd.read(FIXTURES / "infinitehbd_small.json", ReadOptions(cluster="hbd"))
    rows = result.tables["node_events"].to_pylist()
    assert [(r["node"], r["check"]) for r in rows] == [
        ("n-a", "GPU: GPU Lost"),
        ("n-a", "Fan: Redundancy Lost"),
        ("n-c", "Other Failures: Unknown Error"),
    ]
    lost, fan, unknown = rows
    assert lost["time"] == DAY0 + timedelta(days=1.5)
    assert lost["end_time"] == DAY0 + timedelta(days=2.25)
    assert (lost["category"], lost["severity"], lost["source"]) == (
        "gpu_unavailable",
        "high",
        "trace:infinitehbd",
    )
    assert lost["message"] == "Hardware Failure / GPU / GPU Lost"
    assert (fan["category"], fan["end_time"]) == ("thermal", None)
    assert (unknown["category"], unknown["domain"]) == ("unknown", "system_software")
    assert unknown["end_time"] == DAY0 + timedelta(days=5)
    rejects = result.rejects.to_pylist()
    assert sorted((r["line"], r["field"]) for r in rejects) == [
        (3, "event_type"),
        (6, "event_time"),
    ]


def test_inventory_fills_up_with_unseen_nodes() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    options = ReadOptions(inventory_nodes=5, inventory_days=10, trace_start=start, gpus_per_node=4)
    nodes = infinitehbd.read(FIXTURES / "infinitehbd_small.json", options).tables["nodes"]
    assert nodes.column("node").to_pylist() == [
        "n-a",
        "n-c",
        "infinitehbd-unseen-001",
        "infinitehbd-unseen-002",
        "infinitehbd-unseen-003",
    ]
    assert set(nodes.column("in_service_start").to_pylist()) == {start}
    assert set(nodes.column("in_service_end").to_pylist()) == {start + timedelta(days=10)}
    assert set(nodes.column("gpus").to_pylist()) == {4}


def test_truncated_json_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "fault_trace.json"
    path.write_text((FIXTURES / "infinitehbd_small.json").read_text()[:300])
    with pytest.raises(InputError, match=r"line .* column .*char"):
        infinitehbd.read(path, ReadOptions())


def test_golden_real_trace() -> None:
    result = infinitehbd.read(TRACE / "fault_trace.json", ReadOptions())
    events = result.tables["node_events"].to_pylist()
    assert len(events) == 584
    assert all(e["end_time"] is not None and e["end_time"] >= e["time"] for e in events)
    assert len({e["node"] for e in events}) == 231
    assert result.rejects.num_rows == 0
    nodes = result.tables["nodes"]
    assert nodes.num_rows == 400
    assert set(nodes.column("in_service_end").to_pylist()) == {DAY0 + timedelta(days=348)}
    assert min(e["time"] for e in events) == DAY0 + timedelta(days=3.8955)
    unknown = Counter(e["check"].split(": ", 1)[1] for e in events if e["category"] == "unknown")
    assert set(unknown) == GENUINELY_UNKNOWN
    stats = json.loads((TRACE / "fault_statistics.json").read_text())
    assert Counter(e["message"].split(" / ")[0] for e in events) == {
        level: counts["LevelTotal"] for level, counts in stats.items()
    }


_EVENT = st.fixed_dictionaries(
    {},
    optional={
        "node_id": st.sampled_from(["a", "b", ""]) | st.integers() | st.none(),
        "event_time": st.floats(allow_nan=True, allow_infinity=True)
        | st.integers(-(10**12), 10**12)
        | st.text(max_size=3),
        "event_type": st.sampled_from(["fault_start", "fault_end", "x"]),
        "fault_type": st.fixed_dictionaries(
            {},
            optional={
                "Level": st.sampled_from(["Hardware Failure", "Other Failure"]) | st.integers(),
                "Class": st.text(max_size=5) | st.lists(st.integers()),
                "Desc": st.sampled_from(["GPU Lost", "Unknown Error"]),
            },
        )
        | st.text(max_size=3),
    },
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_EVENT | st.integers() | st.none(), max_size=12), st.integers(0, 40))
def test_fuzz_never_raises_outside_the_error_family(items: list, cut: int) -> None:
    text = json.dumps(items)
    text = text[: len(text) - cut]
    infinitehbd.sniff(text)
    read_quietly(infinitehbd.read, text, ReadOptions(), "fault_trace.json")
