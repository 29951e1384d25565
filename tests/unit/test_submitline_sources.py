"""SubmitLine in sacct text and the collector's answers, and the JSON fields, fill
``jobs.excluded_nodes``: null where the input cannot say, [] where nothing was excluded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gpurel.collect.slurm import DELIMITER, SACCT_FIELDS, Layout
from gpurel.sources import sacct_json, sacct_text
from gpurel.sources.base import ReadOptions

HEADER = "JobID|State|Submit|Start|End|NodeList|SubmitLine"


def _text(tmp_path: Path, *lines: str) -> dict[str, Any]:
    path = tmp_path / "sacct.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = sacct_text.read(path, ReadOptions(tz="UTC", cluster="c"))
    rows = {r["job_id"]: r["excluded_nodes"] for r in result.tables["jobs"].to_pylist()}
    return {"jobs": rows, "rejects": result.rejects.to_pylist()}


TIMES = "2024-05-01T10:00:00|2024-05-01T10:00:01|2024-05-01T10:05:00"


def test_sacct_text_reads_exclusions_from_submit_line(tmp_path: Path) -> None:
    read = _text(
        tmp_path,
        HEADER,
        f"1|COMPLETED|{TIMES}|gpu03|sbatch -x gpu[01-02] train.sh",
        f"1.batch|COMPLETED|{TIMES}|gpu03|",
        f"2|FAILED|{TIMES}|gpu01|srun -N1 python train.py",
        f"3|COMPLETED|{TIMES}|gpu01|sbatch train.sh",
        f"4|COMPLETED|{TIMES}|gpu01|",
        f"5|COMPLETED|{TIMES}|gpu02|sbatch --exclude=gpu01 --wrap=sleep 1",
    )
    assert read["jobs"] == {
        "1": ["gpu01", "gpu02"],
        "2": [],
        "3": None,  # a script: its #SBATCH lines are not in SubmitLine
        "4": None,
        "5": ["gpu01"],
    }
    assert read["rejects"] == []


def test_sacct_text_without_submit_line_has_null_exclusions(tmp_path: Path) -> None:
    read = _text(tmp_path, "JobID|State|Submit|Start|End", f"1|COMPLETED|{TIMES}")
    assert read["jobs"] == {"1": None}


def test_an_exclude_value_that_is_no_hostlist_is_rejected_naming_the_field(
    tmp_path: Path,
) -> None:
    read = _text(tmp_path, HEADER, f"7|COMPLETED|{TIMES}|gpu01|sbatch -x gpu[01- train.sh")
    assert read["jobs"] == {}
    (reject,) = read["rejects"]
    assert (reject["line"], reject["field"]) == (2, "SubmitLine")
    assert "exclude" in reject["reason"]


def test_collector_asks_for_submit_line_last() -> None:
    assert SACCT_FIELDS[-1] == "SubmitLine"


def test_a_newline_in_the_last_free_field_continues_the_row() -> None:
    d = DELIMITER
    text = f"JobID{d}SubmitLine\n1{d}sbatch --wrap=echo a\necho b\n -x n1\n2{d}srun true\n"
    layout = Layout(d, 2, free_last=True)
    assert layout.flaw(text) is None
    assert layout.joined(text) == (
        f"JobID{d}SubmitLine\n1{d}sbatch --wrap=echo a echo b  -x n1\n2{d}srun true\n"
    )


def test_a_short_row_is_still_a_flaw() -> None:
    d = DELIMITER
    assert Layout(d, 3, free_last=True).flaw(f"a{d}b{d}c\n1{d}x\n") == (
        "line 2 has 2 fields, expected 3"
    )
    # a continuation never swallows a line with delimiters (a row of its own)
    assert Layout(d, 3, free_last=True).flaw(f"1{d}x\n2{d}y{d}z\n") == (
        "line 1 has 2 fields, expected 3"
    )
    assert Layout(d, 2).flaw(f"1{d}a\nb\n") == "line 2 has 1 fields, expected 2"


def _json(tmp_path: Path, **extra: Any) -> list[Any]:
    record = {
        "job_id": 9,
        "state": {"current": ["COMPLETED"]},
        "time": {"submission": 1714557600, "start": 1714557601, "end": 1714557900},
        "nodes": "gpu03",
        **extra,
    }
    path = tmp_path / "sacct.json"
    path.write_text(json.dumps({"jobs": [record]}), encoding="utf-8")
    result = sacct_json.read(path, ReadOptions(cluster="c"))
    assert result.rejects.num_rows == 0, result.rejects.to_pylist()
    return [r["excluded_nodes"] for r in result.tables["jobs"].to_pylist()]


def test_sacct_json_reads_exclusions_from_submit_line(tmp_path: Path) -> None:
    assert _json(tmp_path, submit_line="sbatch -x gpu[01-02] a.sh") == [["gpu01", "gpu02"]]
    assert _json(tmp_path, submit_line="srun hostname") == [[]]
    assert _json(tmp_path, submit_line="sbatch a.sh") == [None]
    assert _json(tmp_path) == [None]  # 0.0.38 and older records have no submit_line


def test_sacct_json_prefers_the_excluded_nodes_field(tmp_path: Path) -> None:
    # excluded_nodes (a hostlist, as Slurm's job JSON prints ExcNodeList) includes what a
    # script's #SBATCH lines excluded, which the submit line cannot show
    found = _json(tmp_path, submit_line="sbatch a.sh", excluded_nodes="gpu[01-02]")
    assert found == [["gpu01", "gpu02"]]
    assert _json(tmp_path, submit_line="sbatch -x gpu01 a.sh", excluded_nodes="") == [[]]


def test_sacct_json_rejects_a_bad_exclusion_naming_its_field(tmp_path: Path) -> None:
    record = {"job_id": 9, "state": {"current": "COMPLETED"}, "excluded_nodes": "gpu[01-"}
    path = tmp_path / "sacct.json"
    path.write_text(json.dumps({"jobs": [record]}), encoding="utf-8")
    result = sacct_json.read(path, ReadOptions(cluster="c"))
    (reject,) = result.rejects.to_pylist()
    assert (reject["line"], reject["field"]) == (1, "excluded_nodes")
