"""Plain CSV and JSON-lines node events."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reader_fuzz import read_quietly

from gpurel.errors import InputError
from gpurel.sources import plain_events
from gpurel.sources.base import ReadOptions

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"
OPTIONS = ReadOptions(cluster="rsc1", tz="Europe/Paris")


def test_readers_and_sniffers() -> None:
    assert [r.name for r in plain_events.READERS] == ["events-csv", "events-jsonl"]
    csv_head = (FIXTURES / "events.csv").read_text()
    jsonl_head = (FIXTURES / "events.jsonl").read_text()
    assert plain_events.sniff_csv(csv_head) and not plain_events.sniff_jsonl(csv_head)
    assert plain_events.sniff_jsonl(jsonl_head) and not plain_events.sniff_csv(jsonl_head)
    assert not plain_events.sniff_jsonl((FIXTURES / "gcm.jsonl").read_text())
    assert not plain_events.sniff_csv("JobID|State|Start|End\n1|FAILED|x|y\n")
    assert not plain_events.sniff_jsonl('{"jobs": []}')


def test_csv() -> None:
    result = plain_events.read_csv(FIXTURES / "events.csv", OPTIONS)
    rows = {r["node"]: r for r in result.tables["node_events"].to_pylist()}
    assert result.format == "events-csv"
    assert set(rows) == {"gpu001", "gpu002", "gpu003", "gpu004"}

    ib = rows["gpu001"]
    assert (ib["category"], ib["result"], ib["source"]) == ("ib_link", "fail", "events")
    assert ib["message"] == "mlx5_0 port 1 down, flapping"
    assert ib["end_time"] == datetime(2024, 5, 1, 11, tzinfo=UTC)

    fs = rows["gpu002"]
    assert fs["time"] == datetime(2024, 5, 1, 10, tzinfo=UTC)  # naive = Europe/Paris (UTC+2)
    assert (fs["cluster"], fs["severity"], fs["result"], fs["job_id"]) == (
        "rsc2",
        "low",
        "warn",
        "77",
    )

    xid = rows["gpu003"]
    assert (xid["xid"], xid["category"], xid["result"]) == (79, "gpu_unavailable", "fail")
    assert xid["time"] == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert (rows["gpu004"]["result"], rows["gpu004"]["category"]) == ("ok", "unknown")
    assert rows["gpu004"]["time"] == datetime(2024, 5, 1, 8, tzinfo=UTC)

    rejects = result.rejects.to_pylist()
    assert [(r["line"], r["field"]) for r in rejects] == [(6, "result"), (7, "node"), (8, None)]


def test_csv_without_required_columns(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("time,node,message\n2024-05-01T10:00:00Z,gpu001,hi\n")
    with pytest.raises(InputError, match="check, result"):
        plain_events.read_csv(path, OPTIONS)


def test_jsonl() -> None:
    result = plain_events.read_jsonl(FIXTURES / "events.jsonl", OPTIONS)
    rows = {r["node"]: r for r in result.tables["node_events"].to_pylist()}
    assert result.format == "events-jsonl"
    assert set(rows) == {"gpu001", "gpu002", "gpu003"}
    assert (rows["gpu001"]["category"], rows["gpu001"]["result"]) == ("nvlink", "fail")
    assert (rows["gpu002"]["result"], rows["gpu002"]["job_id"]) == ("warn", "12")
    assert rows["gpu002"]["time"] == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert rows["gpu003"]["time"] == datetime(2024, 5, 1, 8, tzinfo=UTC)
    rejects = result.rejects.to_pylist()
    assert [(r["line"], r["field"]) for r in rejects] == [
        (5, None),
        (6, "node"),
        (7, "severity"),
        (8, None),
    ]


_CELLS = st.sampled_from(
    ["2024-05-01T10:00:00", "1e400", "-1e300", "nan", "gpu001", "fail", "3", "huge", "79",
     "99999999999", "", '"', "x\ny", ","]
) | st.text(max_size=6)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_CELLS, max_size=11), max_size=8), st.booleans())
def test_fuzz_never_raises_outside_the_error_family(rows: list[list[str]], as_json: bool) -> None:
    names = ["time", "node", "check", "result", "message", "cluster", "end_time", "severity",
             "job_id", "xid", "extra"]  # fmt: skip
    if as_json:
        lines = [
            "{" + ", ".join(f'"{k}": "{v}"' for k, v in zip(names, r, strict=False)) + "}"
            for r in rows
        ]
        text, reader = "\n".join(lines), plain_events.read_jsonl
    else:
        text = "\n".join(",".join(r) for r in [names, *rows])
        reader = plain_events.read_csv
    plain_events.sniff_csv(text)
    plain_events.sniff_jsonl(text)
    read_quietly(reader, text, OPTIONS, "events.txt")
