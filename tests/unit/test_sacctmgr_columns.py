"""The sacctmgr events reader converts whole columns of blocks of lines: the same rows,
rejects and counts as reading each line on its own (the oracle below), whatever the lines."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st

from gpurel.sources import line_blocks, slurm_events
from gpurel.sources.base import ReadOptions
from gpurel.sources.event_rows import BadValue, TextLines, optional_time, parse_time, zone

OPTIONS = ReadOptions(cluster="c0", tz="Europe/Paris")
HEADERS = [
    "Cluster|NodeName|TimeStart|TimeEnd|State|Reason|User",
    "Cluster|NodeName|TimeStart|TimeEnd|State|Reason|User|",
    "NodeName|Event|EventRaw|Start|End|Reason|",
    "Time Start|Node_Name|Reason|State",
    "TimeStart|NodeName",
]
VALUES = {
    "cluster": ["rsc1", "", " rsc2 "],
    "nodename": ["gpu001", "gpu[001-003]", " gpu002 ", "", "gpu[1-", "gpu00é"],
    "timestart": [
        "2024-05-01T10:00:00",
        "2024-03-31T02:30:00",  # in the spring gap
        "2024-10-27T02:30:00",  # in the repeated hour
        "2024-05-01T10:00:00Z",
        "2024-05-01 10:00:00",
        "1714557600",
        "2024-02-30T10:00:00",
        "Unknown",
        "",
        " 2024-05-01T10:00:00",
    ],
    "timeend": ["Unknown", "2024-05-01T12:30:00", "", "later", "2024-05-01T12:30:00.5+02:00"],
    "state": ["DOWN*", "IDLE+DRAIN", "MAINT", "", "drng"],
    "reason": [
        "NHC: check_fs_mount:  /scratch not mounted",
        "Not responding",
        "GPU lost | see ticket 7",
        '"quoted, reason"',
        "",
        "Xid 79 ünïcode",
    ],
    "user": ["root(0)", "", "slurm "],
    "event": ["Node", "Cluster", " cluster "],
    "eventraw": ["0", "1", " 1"],
}
ODD_LINES = ["", "   ", "\u3000", "# comment", "a|b", "||||||||||", "\r", "rsc1|gpu001\r"]
LINE = st.one_of(
    st.fixed_dictionaries({k: st.sampled_from(v) for k, v in VALUES.items()}),
    st.sampled_from(ODD_LINES),
)
_SAME = {"start": "timestart", "end": "timeend"}
_RENAMES = {"nodename": "node", "timestart": "start", "timeend": "end", "eventraw": "event_raw"}


def _render(header: str, line: dict[str, str] | str, crlf: bool) -> str:
    if isinstance(line, str):
        return line
    names = header.removesuffix("|").split("|")
    keys = [slurm_events.header_key(name) for name in names]
    text = "|".join(line[_SAME.get(key, key)] for key in keys)
    return text + ("|" if header.endswith("|") else "") + ("\r" if crlf else "")


def _row(record: dict[str, str]) -> list[dict[str, Any]]:
    """One line's rows, checked in the reader's order; a BadValue when it is rejected."""
    tz = zone(OPTIONS.tz)
    node = record.get("node", "").strip()
    if not node or record.get("event", "").strip().lower() == "cluster":
        raise BadValue("NodeName", "cluster event, not a node event")
    if record.get("event_raw") == "1":
        raise BadValue("NodeName", "cluster event, not a node event")
    start = parse_time(record["start"], tz, "TimeStart")
    end = optional_time(record.get("end"), tz, "TimeEnd")
    reason = slurm_events.node_reason(
        OPTIONS.taxonomy, record.get("reason", "").strip(), record.get("state", "")
    )
    cluster = record.get("cluster", "").strip() or OPTIONS.cluster
    names = slurm_events.node_names(node, "NodeName")
    return [reason.event(cluster, name, start, end).row() for name in names]


def _oracle(text: str) -> tuple[list[dict[str, Any]], list[tuple], tuple[int, int, int]]:
    lines = TextLines(text)
    numbered = iter(lines)
    _, header = next(numbered)
    trailing = slurm_events.ends_with(header, "|")
    names = header.rstrip().removesuffix("|").split("|")
    columns = [_RENAMES.get(slurm_events.header_key(n), slurm_events.header_key(n)) for n in names]
    free = columns.index("reason") if "reason" in columns else None
    rows: list[dict[str, Any]] = []
    rejects = []
    for number, line in numbered:
        try:
            parts = slurm_events.split_fields(line, "|", len(columns), free, trailing)
            found = _row(dict(zip(columns, parts, strict=True)))
        except BadValue as exc:
            rejects.append((number, exc.field, exc.reason, line))
            continue
        rows.extend(found)
        lines.expand(len(found))
    lines.skip()
    return rows, rejects, (lines.total, lines.skipped, lines.expanded)


def _read(text: str, block_bytes: int) -> tuple[list[dict[str, Any]], list[tuple], tuple]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.txt"
        path.write_bytes(text.encode())
        with mock.patch.object(line_blocks, "BLOCK_BYTES", block_bytes):
            result = slurm_events.read(path, OPTIONS)
    rejects = [(r["line"], r["field"], r["reason"], r["raw"]) for r in result.rejects.to_pylist()]
    counts = (result.lines, result.skipped, result.expanded)
    return result.tables["node_events"].to_pylist(), rejects, counts


@given(
    header=st.sampled_from(HEADERS),
    lines=st.lists(LINE, max_size=30),
    crlf=st.booleans(),
    lead=st.sampled_from(["", "\n", "\ufeff", " \n\n"]),
    block_bytes=st.sampled_from([32, 200, 1 << 20]),
)
def test_columns_equal_the_line_by_line_reading(
    header: str, lines: list[dict[str, str] | str], crlf: bool, lead: str, block_bytes: int
) -> None:
    body = [_render(header, line, crlf) for line in lines]
    text = lead + "\n".join([header, *body]) + "\n"
    assert _read(text, block_bytes) == _oracle(text)


def test_line_numbers_run_on_across_blocks(tmp_path: Path) -> None:
    header = HEADERS[0]
    good = "rsc1|gpu[001-002]|2024-05-01T10:00:00|Unknown|DOWN|Not responding|root"
    text = "\n".join([header, *[good] * 5000, "rsc1|gpu001|never|Unknown|DOWN|x|root"]) + "\n"
    rows, rejects, counts = _read(text, 4096)
    assert (len(rows), counts) == (10000, (5002, 1, 5000))
    assert rejects == [(5002, "TimeStart", "not a time: 'never'", text.splitlines()[-1])]
