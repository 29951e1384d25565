"""The plain-events readers convert whole columns: the same rows and rejects as reading each
record on its own (the oracle below), whatever mix of good and bad values a file holds."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from gpurel.schema import Severity
from gpurel.sources import plain_events
from gpurel.sources.base import ReadOptions
from gpurel.sources.event_fields import parse_status
from gpurel.sources.event_rows import (
    BadValue,
    classify,
    optional_time,
    parse_time,
    parse_xid,
    zone,
)

OPTIONS = ReadOptions(cluster="c0", tz="Europe/Paris")
COLUMNS = ("time", "node", "check", "result", "message", "cluster", "end_time", "severity", "xid")
VALUES = {
    "time": [
        "2024-05-01T10:00:00Z",
        "2024-05-01T10:00:00.25+05:30",
        "2024-02-30T10:00:00Z",
        "2024-05-01T10:00:00+24:00",
        "2024-03-31 02:30:00",
        "1714557600",
        "yesterday",
        "",
        " 2024-05-01T10:00:00Z",
    ],
    "node": ["gpu001", " gpu002 ", ""],
    "check": ["check_hw_ib", "nvlink", "probe", ""],
    "result": ["fail", "OK", "2", "true", "maybe", ""],
    "message": ["", "Xid 79 fallen off the bus", "ib0 down"],
    "cluster": ["", "c1"],
    "end_time": ["", "unknown", "2024-05-01T11:00:00+02:00", "later"],
    "severity": ["", "HIGH", "low", "loud"],
    "xid": ["", "79", "13", "x1", "99999999999"],
}
RECORDS = st.lists(st.fixed_dictionaries({c: st.sampled_from(v) for c, v in VALUES.items()}))


def _text(record: dict[str, str], key: str) -> str | None:
    return (record.get(key) or "").strip() or None


def _required(record: dict[str, str], key: str) -> str:
    value = _text(record, key)
    if value is None:
        raise BadValue(key, f"missing {key}")
    return value


def _oracle(record: dict[str, str]) -> dict[str, Any]:
    """One record's row, value by value in the order the reader reports the first bad one."""
    tz, taxonomy = zone(OPTIONS.tz), OPTIONS.taxonomy
    check, message = _required(record, "check"), _text(record, "message")
    xid_text = _text(record, "xid")
    xid = None if xid_text is None else parse_xid(xid_text)
    found = taxonomy.classify_xid(xid) if xid is not None else classify(taxonomy, check, message)
    node = _required(record, "node")
    time = parse_time(_required(record, "time"), tz)
    end_time = optional_time(_text(record, "end_time"), tz, "end_time")
    result = parse_status(_required(record, "result"))
    severity_text = _text(record, "severity")
    try:
        severity = None if severity_text is None else Severity(severity_text.lower()).value
    except ValueError as exc:
        raise BadValue("severity", "bad") from exc
    return {
        "cluster": _text(record, "cluster") or OPTIONS.cluster,
        "node": node,
        "time": time,
        "end_time": end_time,
        "check": check,
        "category": found.category,
        "severity": severity or found.severity,
        "result": result,
        "xid": xid,
        "message": message,
    }


def _expected(records: list[dict[str, str]]) -> tuple[list[dict[str, Any]], list[tuple]]:
    rows, rejects = [], []
    for line, record in enumerate(records, start=2):
        try:
            rows.append(_oracle(record))
        except BadValue as exc:
            rejects.append((line, exc.field))
    return rows, rejects


def _read(text: str, name: str) -> tuple[list[dict[str, Any]], list[tuple]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(text)
        reader = plain_events.read_csv if name.endswith(".csv") else plain_events.read_jsonl
        result = reader(path, OPTIONS)
    keep = ("cluster", "node", "time", "end_time", "check", "category", "severity", "result",
            "xid", "message")  # fmt: skip
    rows = [{k: r[k] for k in keep} for r in result.tables["node_events"].to_pylist()]
    return rows, [(r["line"], r["field"]) for r in result.rejects.to_pylist()]


@given(RECORDS)
def test_csv_columns_equal_the_record_by_record_reading(records: list[dict[str, str]]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    assert _read(out.getvalue(), "e.csv") == _expected(records)


@given(RECORDS)
def test_jsonl_columns_equal_the_record_by_record_reading(records: list[dict[str, str]]) -> None:
    text = "{}\n" + "".join(json.dumps(r) + "\n" for r in records)  # line 1: no fields at all
    rows, rejects = _read(text, "e.jsonl")
    expected_rows, expected_rejects = _expected(records)
    assert rows == expected_rows and rejects == [(1, "check"), *expected_rejects]
