"""Converters for Slurm value columns."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from gpurel.errors import ConfigError
from gpurel.schema import TIME, JobState
from gpurel.sources import slurm_values as sv


def _strings(*values: str | None) -> pa.Array:
    return pa.array(values, pa.string())


def _utc(year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_times_convert_local_to_utc_and_null_the_placeholders() -> None:
    values = _strings("2023-08-31T12:29:47", "Unknown", "None", "", None, "N/A")
    times, bad = sv.parse_times(values, "Europe/Amsterdam")
    assert times.type == TIME
    assert times.to_pylist() == [_utc(2023, 8, 31, 10, 29, 47), None, None, None, None, None]
    assert bad.to_pylist() == [False] * 6


@pytest.mark.parametrize(
    "text",
    [
        "2023-02-30T00:00:00",  # strptime alone would roll this over to March 2nd
        "2023-01-01T23:59:60",
        "2023-13-01T00:00:00",
        "2023-01-01T24:00:00",
        "2023-8-1T1:2:3",
        "0001-01-01T00:00:00",
        "2023-01-01 10:00:00",
        "Tue 14:05",
        "garbage",
    ],
)
def test_times_flag_impossible_or_misshapen_values(text: str) -> None:
    times, bad = sv.parse_times(_strings(text), "UTC")
    assert times.to_pylist() == [None]
    assert bad.to_pylist() == [True]


def test_times_across_dst_take_earliest_and_shift_forward() -> None:
    values = _strings("2024-03-31T02:30:00", "2024-10-27T02:30:00")  # gap, then repeated hour
    times, _ = sv.parse_times(values, "Europe/Amsterdam")
    assert times.to_pylist() == [_utc(2024, 3, 31, 1, 0), _utc(2024, 10, 27, 0, 30)]


def test_times_with_a_fixed_offset() -> None:
    times, _ = sv.parse_times(_strings("2024-01-01T12:00:00"), "-05:00")
    assert times.to_pylist() == [_utc(2024, 1, 1, 17, 0)]


def test_durations() -> None:
    values = _strings(
        "1-02:03:04", "02:03:04", "05:10", "23:08.358", "2-12", "1-00:30", "60", "UNLIMITED",
        "Partition_Limit", "INVALID", "", None, "forever", "1:2:3:4",
    )  # fmt: skip
    seconds, bad = sv.parse_durations(values)
    assert seconds.to_pylist() == [
        93784, 7384, 310, 1388, 216000, 88200, 60, None, None, None, None, None, None, None,
    ]  # fmt: skip
    assert bad.to_pylist() == [False] * 12 + [True, True]


def test_time_limit_bare_numbers_are_minutes() -> None:
    seconds, _ = sv.parse_durations(_strings("60", "1-00:00:00", "30:00"), bare_unit=60)
    assert seconds.to_pylist() == [3600, 86400, 1800]


def test_ints() -> None:
    ints, bad = sv.parse_ints(_strings("1", "", None, "x", "-1", "12345678901"))
    assert ints.to_pylist() == [1, None, None, None, None, None]
    assert bad.to_pylist() == [False, False, False, True, True, True]


def test_exit_codes() -> None:
    codes, signals, bad = sv.parse_exit_codes(_strings("0:0", "1:0", "0:9", "", None, "x:1", "1"))
    assert codes.to_pylist() == [0, 1, 0, None, None, None, None]
    assert signals.to_pylist() == [0, 0, 9, None, None, None, None]
    assert bad.to_pylist() == [False] * 5 + [True, True]


@pytest.mark.parametrize(
    ("text", "state", "by"),
    [
        ("CANCELLED by 10304007", JobState.CANCELLED, "10304007"),
        ("CANCELLED by alice", JobState.CANCELLED, "alice"),
        ("CANCELLED+", JobState.CANCELLED, None),
        ("CANCELLED by 103+", JobState.CANCELLED, None),
        ("OUT_OF_ME+", JobState.OUT_OF_MEMORY, None),
        ("NODE_FA+", JobState.NODE_FAIL, None),
        ("REQUEUE+", JobState.REQUEUED, None),
        ("RUNNING", JobState.RUNNING, None),
        ("PREEMPTED", JobState.PREEMPTED, None),
        ("REQUEUED", JobState.REQUEUED, None),
        ("NODE_FAIL", JobState.NODE_FAIL, None),
        ("BOOT_FAIL", JobState.BOOT_FAIL, None),
        ("DEADLINE", JobState.DEADLINE, None),
        ("TIMEOUT", JobState.TIMEOUT, None),
        ("COMPLETING", JobState.RUNNING, None),
        ("REQUEUE_HOLD", JobState.REQUEUED, None),
        ("failed", JobState.FAILED, None),
    ],
)
def test_canonical_state(text: str, state: JobState, by: str | None) -> None:
    assert sv.canonical_state(text) == (state, by)


@pytest.mark.parametrize("text", ["", "EXPLODED", "+", "C+", "CANCELLED by", "RUN NING"])
def test_unknown_states(text: str) -> None:
    assert sv.canonical_state(text) is None


def test_parse_states_column() -> None:
    state, by, bad = sv.parse_states(_strings("CANCELLED by 0", "RUNNING", "", None, "nope"))
    assert state.to_pylist() == ["CANCELLED", "RUNNING", None, None, None]
    assert by.to_pylist() == ["0", None, None, None, None]
    assert bad.to_pylist() == [False, False, True, False, True]


def test_state_of_json_list_prefers_the_base_state() -> None:
    assert sv.state_of_list(["COMPLETING", "FAILED"]) == JobState.FAILED
    assert sv.state_of_list(["REQUEUED"]) == JobState.REQUEUED
    assert sv.state_of_list(["WHAT"]) is None


def test_tres_gpu_counts_in_all_spellings() -> None:
    values = _strings(
        "billing=8,cpu=8,gres/gpu:v100=1,gres/gpu=1,mem=50G,node=1",  # both: untyped wins
        "cpu=16,gres/gpu:a100=2,gres/gpu:v100=1,node=2",  # typed only: summed
        "cpu=4,gres/gpu=8,node=1",
        "cpu=4,gres/gpumem=10G,mem=4G,node=1",
        "",  # never ran
        None,
        "cpu=x",
        "junk",
        "gres/gpu=99999999999",
    )
    gpus, bad = sv.parse_tres_counts(values, "gpu")
    assert gpus.to_pylist() == [1, 3, 8, 0, 0, None, None, None, None]
    assert bad.to_pylist() == [False] * 6 + [True, True, True]
    cpus, _ = sv.parse_tres_counts(values, "cpu")
    assert cpus.to_pylist()[:5] == [8, 16, 4, 4, 0]
    nodes, _ = sv.parse_tres_counts(values, "node")
    assert nodes.to_pylist()[:4] == [1, 2, 1, 1]


def test_nodelists() -> None:
    nodes, bad = sv.parse_nodelists(_strings("gpu[001-002]", "None assigned", "", None, "n[3-1"))
    assert nodes.to_pylist() == [["gpu001", "gpu002"], [], [], None, None]
    assert bad.to_pylist() == [False, False, False, False, True]


def test_local_zone_follows_tz(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/Chicago")
    assert sv.local_zone() == "America/Chicago"
    monkeypatch.setenv("TZ", ":/usr/share/zoneinfo/Asia/Tokyo")
    assert sv.local_zone() == "Asia/Tokyo"


def test_local_zone_without_tz_is_a_zone_or_offset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TZ", raising=False)
    assert sv.resolve_zone(sv.local_zone())


def test_resolve_zone() -> None:
    assert sv.resolve_zone("Europe/Berlin") == "Europe/Berlin"
    assert sv.resolve_zone("+05:30") == "+05:30"
    with pytest.raises(ConfigError, match="unknown time zone"):
        sv.resolve_zone("Mars/Olympus")


def test_times_reject_a_second_that_strptime_would_roll_over() -> None:
    times, bad = sv.parse_times(_strings("2023-01-01T10:59:60", "2024-02-29T10:59:59"), "UTC")
    assert times.to_pylist() == [None, _utc(2024, 2, 29, 10, 59, 59)]
    assert bad.to_pylist() == [True, False]


def test_converters_read_sliced_and_large_string_arrays() -> None:
    values = _strings("x", "2024-01-01T00:00:00", None, "1-00:00:01").slice(1)
    assert sv.parse_times(values, "UTC")[0].to_pylist() == [_utc(2024, 1, 1, 0, 0), None, None]
    assert sv.parse_durations(values)[0].to_pylist() == [None, None, 86401]
    large = pa.array(["2024-01-01T00:00:00", "05:10"], pa.large_string())
    assert sv.parse_times(large, "UTC")[0].to_pylist() == [_utc(2024, 1, 1, 0, 0), None]
    assert sv.parse_durations(large)[0].to_pylist() == [None, 310]
