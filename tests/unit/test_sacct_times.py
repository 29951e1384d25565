"""Job times a scheduler cannot have written are rejected; the repeated autumn hour is read
with Elapsed; the skipped spring hour maps alike in the sacct and the event readers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from gpurel.sources import sacct_json, sacct_text
from gpurel.sources.base import ReadOptions
from gpurel.sources.event_rows import localize, zone

HEADER = "JobID|State|Submit|Start|End|Elapsed|NodeList|AllocTRES"
AMSTERDAM = ReadOptions(cluster="c", tz="Europe/Amsterdam")


def _read(tmp_path: Path, *rows: str) -> tuple[dict[str, dict], list[dict]]:
    path = tmp_path / "sacct.txt"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    result = sacct_text.read(path, AMSTERDAM)
    jobs = {row["job_id"]: row for row in result.tables["jobs"].to_pylist()}
    return jobs, result.rejects.to_pylist()


def test_a_job_across_the_autumn_change_ends_after_it_starts(tmp_path: Path) -> None:
    # 2024-10-27: 03:00 CEST -> 02:00 CET; 02:30 (first) to 02:10 (second) is 40 minutes
    row = "1|COMPLETED|2024-10-27T02:00:00|2024-10-27T02:30:00|2024-10-27T02:10:00|00:40:00|g1|"
    jobs, rejects = _read(tmp_path, row)
    assert rejects == []
    job = jobs["1"]
    assert job["start_time"] == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)  # 02:30 CEST
    assert job["end_time"] == datetime(2024, 10, 27, 1, 10, tzinfo=UTC)  # 02:10 CET


def test_a_job_started_in_the_second_repeated_hour_keeps_its_elapsed(tmp_path: Path) -> None:
    row = "2|COMPLETED|2024-10-27T02:20:00|2024-10-27T02:20:00|2024-10-27T03:20:00|01:00:00|g1|"
    jobs, rejects = _read(tmp_path, row)
    assert rejects == []
    assert jobs["2"]["start_time"] == datetime(2024, 10, 27, 1, 20, tzinfo=UTC)  # 02:20 CET
    assert jobs["2"]["end_time"] == datetime(2024, 10, 27, 2, 20, tzinfo=UTC)


def test_impossible_times_are_rejected_with_their_field(tmp_path: Path) -> None:
    rows = [
        "3|COMPLETED|2024-05-01T10:00:00|2024-05-01T10:00:00|2100-01-01T00:00:00|02:00:00|g1|",
        "4|FAILED|2024-05-01T10:00:00|2024-05-01T12:00:00|2024-05-01T11:00:00|00:00:00|g1|",
        "5|COMPLETED|2024-05-01T10:00:00|2024-05-01T10:00:00|2024-05-01T11:00:00|03:00:00|g1|",
        "6|COMPLETED|2024-05-01T10:00:00|2024-05-01T10:00:00|2024-05-01T12:00:00|02:00:00|g1|",
    ]
    jobs, rejects = _read(tmp_path, *rows)
    assert list(jobs) == ["6"]
    found = {(r["line"], r["field"], r["reason"].split(":")[0]) for r in rejects}
    assert found == {
        (2, "End", "in the future"),
        (3, "End", "ends before it starts"),
        (4, "Elapsed", "longer than End - Start"),
    }


def test_the_skipped_spring_hour_maps_alike_in_every_reader(tmp_path: Path) -> None:
    # 2024-03-31: 02:00 CET -> 03:00 CEST; 02:30 does not exist: both read it as 03:00 CEST
    row = "7|COMPLETED|2024-03-31T01:30:00|2024-03-31T02:30:00|2024-03-31T04:00:00|00:30:00|g1|"
    jobs, _ = _read(tmp_path, row)
    event_time = localize(datetime(2024, 3, 31, 2, 30), zone("Europe/Amsterdam"))
    assert jobs["7"]["start_time"] == event_time == datetime(2024, 3, 31, 1, 0, tzinfo=UTC)


def test_sacct_json_rejects_a_job_ending_in_2100(tmp_path: Path) -> None:
    fixture = Path(__file__).parents[1] / "fixtures" / "sacct" / "v0040.json"
    document = json.loads(fixture.read_text())
    document["jobs"][0]["time"]["end"] = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp())
    path = tmp_path / "jobs.json"
    path.write_text(json.dumps(document))
    result = sacct_json.read(path, AMSTERDAM)
    kept = result.tables["jobs"]["job_id"].to_pylist()
    first = str(document["jobs"][0]["job_id"])
    assert first not in kept and len(kept) == len(document["jobs"]) - 1
    (reject,) = [r for r in result.rejects.to_pylist() if r["field"] == "end_time"]
    assert reject["line"] == 1 and reject["reason"].startswith("in the future")
