"""sacctmgr show event and sinfo -R readers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from reader_fuzz import read_quietly, texts_of

from gpurel.errors import InputError
from gpurel.sources import sinfo_reasons, slurm_events
from gpurel.sources.base import ReadOptions

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"
UTC_OPTIONS = ReadOptions(cluster="fallback", tz="UTC")


def _rows(result, by: str = "node") -> dict[str, dict]:
    return {row[by]: row for row in result.tables["node_events"].to_pylist()}


def test_sniff_claims_sacctmgr_events_only() -> None:
    assert slurm_events.sniff((FIXTURES / "sacctmgr_events.txt").read_text())
    assert slurm_events.sniff((FIXTURES / "sacctmgr_events_format.txt").read_text())
    assert not slurm_events.sniff("JobID|JobName|Partition|Start|End|State|NodeList\n1|a|b|c|d|e|f")
    assert not slurm_events.sniff('{"jobs": []}')
    assert not slurm_events.sniff((FIXTURES / "sinfo_R.txt").read_text())


def test_default_columns() -> None:
    result = slurm_events.read(FIXTURES / "sacctmgr_events.txt", UTC_OPTIONS)
    rows = _rows(result)
    assert result.format == "slurm-events"
    assert set(rows) == {f"gpu00{i}" for i in (1, 2, 3, 4, 5, 6, 8)}

    nhc = rows["gpu001"]
    assert (nhc["check"], nhc["message"]) == ("check_fs_mount", "/scratch not mounted")
    assert (nhc["category"], nhc["severity"], nhc["result"]) == ("filesystem_mount", "high", "fail")
    assert nhc["time"] == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert nhc["end_time"] == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert (nhc["cluster"], nhc["source"]) == ("rsc1", "slurm_event")

    down = rows["gpu002"]
    assert (down["check"], down["category"], down["severity"]) == (
        "slurm_state:DOWN",
        "node_unresponsive",
        "info",
    )
    assert down["end_time"] is None
    assert rows["gpu003"]["category"] == "gpu_unavailable"
    assert rows["gpu004"]["check"] == "check_hw_ib"
    assert rows["gpu004"]["category"] == "ib_link"
    assert (rows["gpu005"]["category"], rows["gpu005"]["severity"]) == ("os_kernel", "low")
    assert (rows["gpu006"]["category"], rows["gpu006"]["severity"]) == ("unknown", "high")
    assert (rows["gpu008"]["check"], rows["gpu008"]["result"]) == ("slurm_state:MAINT", "warn")


def test_cluster_events_and_bad_rows_are_rejected() -> None:
    rejects = slurm_events.read(FIXTURES / "sacctmgr_events.txt", UTC_OPTIONS).rejects.to_pylist()
    by_line = {r["line"]: r for r in rejects}
    assert set(by_line) == {2, 10}
    assert by_line[2]["reason"] == "cluster event, not a node event"
    assert by_line[10]["field"] == "TimeStart"


def test_format_variant_with_trailing_pipes_and_hostlists() -> None:
    result = slurm_events.read(FIXTURES / "sacctmgr_events_format.txt", UTC_OPTIONS)
    rows = _rows(result)
    assert set(rows) == {"gpu010", "gpu011", "gpu012", "gpu013"}
    assert rows["gpu010"]["message"] == "GPU lost | see ticket 7"
    assert rows["gpu010"]["category"] == "gpu_unavailable"
    assert rows["gpu010"]["cluster"] == "fallback"
    assert (rows["gpu011"]["check"], rows["gpu011"]["result"]) == ("check_ps_service", "fail")
    assert rows["gpu012"]["check"] == "slurm_state:DRAIN"
    assert rows["gpu013"]["category"] == "gpu_memory"
    assert [r["reason"] for r in result.rejects.to_pylist()] == ["cluster event, not a node event"]


def test_local_times_use_the_source_zone() -> None:
    options = ReadOptions(tz="America/Los_Angeles")
    rows = _rows(slurm_events.read(FIXTURES / "sacctmgr_events.txt", options))
    assert rows["gpu001"]["time"] == datetime(2024, 5, 1, 17, tzinfo=UTC)


def test_missing_header_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "events.txt"
    path.write_text("rsc1|gpu001|2024-05-01T10:00:00|Unknown|DOWN|x|root\n")
    with pytest.raises(InputError):
        slurm_events.read(path, UTC_OPTIONS)


@pytest.mark.parametrize(
    ("state", "name"),
    [("DOWN*", "DOWN"), ("IDLE+DRAIN", "DRAIN"), ("drng", "DRAIN"), ("MIXED", "MIXED"), ("", "")],
)
def test_state_name(state: str, name: str) -> None:
    assert slurm_events.state_name(state) == name


def test_sinfo_default_layout() -> None:
    assert sinfo_reasons.sniff((FIXTURES / "sinfo_R.txt").read_text())
    result = sinfo_reasons.read(FIXTURES / "sinfo_R.txt", UTC_OPTIONS)
    rows = _rows(result)
    assert set(rows) == {"gpu001", "gpu002", "gpu003", "gpu005"}
    assert rows["gpu001"]["check"] == "check_fs_mount"
    assert rows["gpu001"]["category"] == "filesystem_mount"
    assert rows["gpu003"]["message"] == "Not responding"
    assert rows["gpu003"]["check"] == "slurm_reason"
    assert rows["gpu005"]["time"] == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert rows["gpu005"]["cluster"] == "fallback"
    assert [r["field"] for r in result.rejects.to_pylist()] == ["TIMESTAMP"]


def test_sinfo_pipe_layout_with_state() -> None:
    rows = _rows(sinfo_reasons.read(FIXTURES / "sinfo_R_pipe.txt", UTC_OPTIONS))
    assert (rows["gpu020"]["check"], rows["gpu020"]["category"]) == ("check_hw_ib", "ib_link")
    assert rows["gpu021"]["check"] == "slurm_state:DOWN"
    assert rows["gpu021"]["category"] == "gpu_unavailable"


def test_sinfo_sniff_rejects_other_formats() -> None:
    assert not sinfo_reasons.sniff((FIXTURES / "sacctmgr_events.txt").read_text())
    assert not sinfo_reasons.sniff("JobID|State\n1|FAILED\n")


_TEXTS = texts_of(
    ["|", "\n", " ", "Cluster|NodeName|TimeStart|TimeEnd|State|Reason|User\n",
     "REASON USER TIMESTAMP NODELIST\n", "gpu[001-00", "gpu001", "]", "2024-05-01T10:00:00",
     "Unknown", "DOWN*", "NHC: check_x:  y", "Cluster", "9999-12-31T23:59:59"]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(_TEXTS)
def test_fuzz_never_raises_outside_the_error_family(text: str) -> None:
    for reader in (slurm_events, sinfo_reasons):
        reader.sniff(text)
        read_quietly(reader.read, text, UTC_OPTIONS, "events.txt")
