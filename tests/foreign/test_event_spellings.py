"""Health-check and plain event files in the spellings people use, and ``--map``.

Each test writes its files and recounts what they must give in plain Python, independently
of the readers: rows, results, rejects and the line accounting.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from gpurel.errors import InputError
from gpurel.ingest import detect
from gpurel.sources import gcm, gcm_columns, plain_events
from gpurel.sources.base import ReadOptions, ReadResult

OPTIONS = ReadOptions(cluster="c1", tz="UTC")
SPELLINGS = {
    "time": ["time", "timestamp", "ts", "@timestamp", "datetime"],
    "node": ["node", "host", "hostname", "nodename"],
    "check": ["check", "health_check", "name", "test"],
    "result": ["result", "status", "state"],
    "message": ["message", "msg", "_msg", "detail"],
}
# result as written -> as stored
RESULTS = {
    "OK": "ok", "PASS": "ok", "WARN": "warn", "FAIL": "fail", "ERROR": "fail",
    "0": "ok", "1": "warn", "2": "fail", "3": "warn", "true": "ok", "false": "fail",
}  # fmt: skip
DESCRIBE = partial(gcm._describe, OPTIONS.taxonomy)


def accounted(result: ReadResult) -> bool:
    """Every line became a row, a reject or a skipped line."""
    return result.lines + result.expanded == result.records + result.rejects.num_rows + (
        result.skipped
    )


def _spelling(i: int) -> dict[str, str]:
    """The i-th combination of spellings (every spelling of every field comes up by i = 4)."""
    return {field: names[i % len(names)] for field, names in SPELLINGS.items()}


def _records(n: int) -> list[dict[str, str]]:
    words = list(RESULTS)
    return [
        {
            "time": f"2024-05-01T{k % 24:02d}:00:00Z",
            "node": f"gpu{k:03d}",
            "check": "check_ib",
            "result": words[k % len(words)],
            "message": f"message {k}",
        }
        for k in range(n)
    ]


def _csv(path: Path, names: dict[str, str], records: list[dict[str, str]]) -> Path:
    header = [names[f].upper() if f == "node" else names[f] for f in SPELLINGS]
    lines = [",".join(header)] + [",".join(r[f] for f in SPELLINGS) for r in records]
    path.write_text("\n".join(lines) + "\n")
    return path


def _jsonl(path: Path, names: dict[str, str], records: Sequence[Mapping[str, object]]) -> Path:
    path.write_text("".join(json.dumps({names[f]: r[f] for f in r}) + "\n" for r in records))
    return path


@pytest.mark.parametrize("i", range(5))
@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_plain_events_in_every_spelling(tmp_path: Path, i: int, kind: str) -> None:
    names, records = _spelling(i), _records(22)
    write = _csv if kind == "csv" else _jsonl
    path = write(tmp_path / f"events.{kind}", names, records)
    reader = detect(path)
    gcm_key = kind == "jsonl" and names["check"] == "health_check"  # GCM's own key: its reader
    assert reader.name == ("gcm" if gcm_key else f"events-{kind}")
    result = reader.read(path, OPTIONS)
    rows = result.tables["node_events"].to_pylist()
    assert [(r["node"], r["result"], r["message"]) for r in rows] == [
        (r["node"], RESULTS[r["result"]], r["message"]) for r in records
    ]
    assert [r["time"].hour for r in rows] == list(range(22))
    assert result.rejects.num_rows == 0 and accounted(result)
    assert result.lines == len(records) + (kind == "csv")
    first = {"time": "start_time", "check": "health_check", "message": "_msg"} if gcm_key else {}
    other = [f"{names[f]} as {f}" for f in SPELLINGS if names[f] != first.get(f, f)]
    note = " ".join(result.notes).lower()  # the CSV spells node in capitals
    assert all(o in note for o in other) and (bool(other) == bool(result.notes))


def test_json_booleans_are_results(tmp_path: Path) -> None:
    records: list[dict[str, object]] = [
        {"ts": 1714557600 + k, "host": f"n{k}", "test": "gpu_burn", "status": k % 2 == 0}
        for k in range(6)
    ]
    names = {"ts": "ts", "host": "host", "test": "test", "status": "status"}
    result = plain_events.read_jsonl(_jsonl(tmp_path / "e.jsonl", names, records), OPTIONS)
    assert [r["result"] for r in result.tables["node_events"].to_pylist()] == [
        "ok" if k % 2 == 0 else "fail" for k in range(6)
    ]


def test_the_first_spelling_wins_and_the_others_stay_aside(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text(
        "time,timestamp,node,name,check,result\n2024-05-01T10:00:00Z,x,n1,joe,ib,fail\n"
    )
    (row,) = plain_events.read_csv(path, OPTIONS).tables["node_events"].to_pylist()
    assert (row["check"], row["time"].hour) == ("ib", 10)


def test_map_names_any_column(tmp_path: Path) -> None:
    path = tmp_path / "probes.csv"
    path.write_text(
        "when,machine,probe,outcome,text\n"
        "2024-05-01T10:00:00Z,gpu001,ib,FAIL,port down\n"
        "2024-05-01T11:00:00Z,gpu002,ib,maybe,?\n"
    )
    with pytest.raises(InputError, match=r"lacks time, node, check, result .*--map time=COLUMN"):
        plain_events.read_csv(path, OPTIONS)
    pairs = (("time", "when"), ("node", "Machine"), ("check", "probe"), ("result", "outcome"))
    options = ReadOptions(cluster="c1", tz="UTC", field_map=(*pairs, ("message", "text")))
    result = plain_events.read_csv(path, options)
    (row,) = result.tables["node_events"].to_pylist()
    assert (row["node"], row["result"], row["message"]) == ("gpu001", "fail", "port down")
    (reject,) = result.rejects.to_pylist()
    assert (reject["line"], reject["field"]) == (3, "result") and accounted(result)
    assert "when as time" in result.notes[0]
    wrong = ReadOptions(field_map=(*pairs, ("message", "note")))
    with pytest.raises(InputError, match="no column for --map message=note"):
        plain_events.read_csv(path, wrong)


def test_map_in_json_lines_reads_only_that_key(tmp_path: Path) -> None:
    lines = [
        {"time": "2024-05-01T10:00:00Z", "node": "a", "probe": "ib", "result": "fail"},
        {"time": "2024-05-01T10:00:00Z", "node": "b", "check": "ib", "result": "fail"},
    ]
    path = tmp_path / "e.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    result = plain_events.read_jsonl(path, ReadOptions(field_map=(("check", "probe"),)))
    assert [r["node"] for r in result.tables["node_events"].to_pylist()] == ["a"]
    assert [(r["line"], r["field"]) for r in result.rejects.to_pylist()] == [(2, "check")]


def test_a_csv_field_over_the_csv_modules_limit_is_one_reject(tmp_path: Path) -> None:
    good = "2024-05-01T10:00:00Z,gpu001,ib,fail,"
    path = tmp_path / "e.csv"
    path.write_text(
        f"time,node,check,result,message\n{good}ok\n{good}{'x' * 200_000}\n{good}after\n"
    )
    result = plain_events.read_csv(path, OPTIONS)
    assert [r["message"] for r in result.tables["node_events"].to_pylist()] == ["ok", "after"]
    (reject,) = result.rejects.to_pylist()
    assert reject["line"] == 3 and "field limit" in reject["reason"]
    assert result.lines == 4 and accounted(result)


# --- GCM health-check records ----------------------------------------------------------------


def _gcm(k: int, **names: str) -> dict[str, object]:
    record: dict[str, object] = {
        "node": f"gpu{k:03d}",
        "cluster": "rsc1",
        "health_check": "check pci",
        "type": "nagios",
        "result": k % 4,
        "_msg": "PCIe Issues Detected" if k % 4 == 2 else "",
        "job_id": 0,
        "start_time": 1714557600.0 + k,
        "end_time": 1714557601.0 + k,
    }
    return {names.get(key, key): value for key, value in record.items()}


def _same_as_per_line(path: Path, options: ReadOptions = OPTIONS) -> ReadResult:
    fast, slow = gcm.read(path, options), gcm._read_slow(path, options)
    assert fast.tables["node_events"].to_pylist() == slow.tables["node_events"].to_pylist()
    assert fast.rejects.to_pylist() == slow.rejects.to_pylist()
    assert fast.notes == slow.notes
    return fast


@pytest.mark.parametrize(
    "names",
    [
        {"start_time": "timestamp", "node": "host", "result": "status", "_msg": "message"},
        {"start_time": "@timestamp", "node": "hostname", "result": "state", "_msg": "detail"},
        {"start_time": "ts", "node": "nodename", "_msg": "msg"},
    ],
)
def test_gcm_records_in_other_spellings(tmp_path: Path, names: dict[str, str]) -> None:
    path = tmp_path / "health.jsonl"
    path.write_text("".join(json.dumps(_gcm(k, **names)) + "\n" for k in range(8)))
    assert detect(path).name == "gcm"
    result = _same_as_per_line(path)
    rows = result.tables["node_events"].to_pylist()
    stored = {0: "ok", 1: "warn", 2: "fail", 3: "warn"}
    assert [(r["node"], r["result"]) for r in rows] == [
        (f"gpu{k:03d}", stored[k % 4]) for k in range(8)
    ]
    assert [r["time"] for r in rows] == [
        datetime.fromtimestamp(1714557600 + k, UTC) for k in range(8)
    ]
    assert [r["message"] for r in rows].count("PCIe Issues Detected") == 2
    assert result.rejects.num_rows == 0 and accounted(result)
    assert all(f"{new} as" in result.notes[0] for new in names.values())


def test_gcm_words_and_booleans_as_results(tmp_path: Path) -> None:
    words = ["OK", "PASS", "WARN", "FAIL", "ERROR", True, False, "critical"]
    path = tmp_path / "health.jsonl"
    path.write_text(
        "".join(json.dumps({**_gcm(k), "result": w}) + "\n" for k, w in enumerate(words))
    )
    result = _same_as_per_line(path)
    assert [r["result"] for r in result.tables["node_events"].to_pylist()] == [
        "ok", "ok", "warn", "fail", "fail", "ok", "fail", "fail"
    ]  # fmt: skip


def test_gcm_own_spelling_takes_the_block_path_and_map_keeps_it() -> None:
    data = "".join(json.dumps(_gcm(k)) + "\n" for k in range(10)).encode()
    plain = gcm_columns.node_events(data, "c", DESCRIBE, "gcm")
    assert plain is not None and plain.num_rows == 10
    renamed = data.replace(b'"health_check"', b'"probe"')
    keys = {**gcm_columns.GCM_NAMES, "health_check": ("probe",)}
    mapped = gcm_columns.node_events(renamed, "c", DESCRIBE, "gcm", keys)
    assert mapped is not None and mapped.to_pylist() == plain.to_pylist()
    aliased = data.replace(b'"_msg"', b'"detail"')
    names = {**gcm_columns.GCM_NAMES, "_msg": ("_msg", "detail")}
    assert gcm_columns.node_events(aliased, "c", DESCRIBE, "gcm", names) is None


def test_gcm_map(tmp_path: Path) -> None:
    path = tmp_path / "health.jsonl"
    path.write_text("".join(json.dumps(_gcm(k, health_check="probe")) + "\n" for k in range(5)))
    options = ReadOptions(cluster="c1", tz="UTC", field_map=(("check", "probe"),))
    result = _same_as_per_line(path, options)
    assert {r["check"] for r in result.tables["node_events"].to_pylist()} == {"check pci"}
    assert result.notes == ("read probe as check",)
    unmapped = gcm.read(path, OPTIONS)
    assert unmapped.rejects.num_rows == 5 and accounted(unmapped)
    assert {r["field"] for r in unmapped.rejects.to_pylist()} == {"health_check"}


def test_gcm_empty_list_is_a_reject(tmp_path: Path) -> None:
    lines = [json.dumps(_gcm(0)), "[]", json.dumps([_gcm(1), _gcm(2)]), "", "[ ]"]
    path = tmp_path / "health.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = _same_as_per_line(path)
    # recount: line 1 one row, line 3 two rows (one expanded), line 4 blank, lines 2 and 5 rejected
    assert result.records == 3 and result.expanded == 1 and result.skipped == 1
    assert [(r["line"], r["reason"]) for r in result.rejects.to_pylist()] == [
        (2, "an empty list holds no health-check record"),
        (5, "an empty list holds no health-check record"),
    ]
    assert result.lines == 5 and accounted(result)
