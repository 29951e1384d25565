"""The shipped taxonomy data: every entry valid, the paper's key mappings, user overrides."""

from __future__ import annotations

import json
import re
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from gpurel.taxonomy import default, load

DATA = resources.files("gpurel.taxonomy") / "data"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
HBD_STATS = SHARED / "infinitehbd_stepfun" / "fault_statistics.json"
SIMULATOR_CHECKS = (
    "ib_link", "filesystem_mount", "gpu_memory", "pcie", "gpu_unavailable", "nvlink",
    "gsp_timeout", "driver", "block_device", "ipmi_critical", "cpu_memory", "host_service",
    "power", "thermal", "frontend_network",
)  # fmt: skip
GENUINELY_UNKNOWN = {"Unknown Error", "Suspect Machine Offline", "Temporarily Offline"}


def _doc(name: str) -> dict:
    return tomllib.loads((DATA / name).read_text("utf-8"))


def _entry_category(value: str | dict) -> str:
    return value if isinstance(value, str) else value["category"]


@pytest.mark.parametrize("name", ["checks.toml", "xids.toml", "reasons.toml"])
def test_every_file_has_version_and_cites_sources(name: str) -> None:
    text = (DATA / name).read_text("utf-8")
    assert text.startswith("#") and "Sources:" in text
    assert isinstance(_doc(name)["version"], int)


def test_every_entry_names_an_existing_category() -> None:
    categories = set(_doc("categories.toml")["categories"])
    entries = [
        *_doc("checks.toml")["checks"].values(),
        *_doc("xids.toml")["xids"].values(),
        *_doc("reasons.toml")["reasons"],
    ]
    assert entries
    assert {_entry_category(e) for e in entries} <= categories


def test_reason_patterns_compile() -> None:
    for reason in _doc("reasons.toml")["reasons"]:
        re.compile(reason["pattern"], re.IGNORECASE)


def test_simulator_checks_map_to_their_own_category() -> None:
    taxonomy = default()
    for name in SIMULATOR_CHECKS:
        assert taxonomy.classify_check(name).category == name


def test_paper_key_mappings() -> None:
    taxonomy = default()
    assert taxonomy.classify_xid(79) == taxonomy.classify_check("gpu_unavailable")
    assert taxonomy.classify_xid(79).severity == "high"
    assert taxonomy.classify_xid(13).category == "user"
    assert taxonomy.classify_xid(48).category == "gpu_memory"
    assert taxonomy.classify_xid(119).category == "gsp_timeout"
    assert taxonomy.classify_xid(74).category == "nvlink"
    assert taxonomy.classify_xid(999).category == "gpu_error"
    assert taxonomy.classify_check("check_fs_mount").category == "filesystem_mount"
    assert taxonomy.classify_check("check pci").category == "pcie"
    assert taxonomy.classify_check("nvidia smi row_remap_failed").severity == "high"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Not responding", "node_unresponsive"),
        ("NVRM: Xid (PCI:0000:10:1c): 79, pid=1, GPU has fallen off the bus.", "gpu_unavailable"),
        ("XID error: 13", "user"),
        ("GPU has fallen off the bus", "gpu_unavailable"),
        ("uncorrectable ECC error", "gpu_memory"),
        ("mlx5_0 link down", "ib_link"),
        ("eth0 link down", "frontend_network"),
        ("PCI link width x8, expected x16", "pcie"),
        ("nvidia-smi timeout", "gpu_unavailable"),
        ("Kernel Panic", "os_kernel"),
        ("Read-only file system", "filesystem_mount"),
        ("gres/gpu count reported lower than configured (7 < 8)", "gpu_unavailable"),
        ("Kill task failed", "os_kernel"),
        ("something nobody has seen", "unknown"),
    ],
)
def test_reason_patterns(text: str, category: str) -> None:
    assert default().classify_reason(text).category == category


def test_every_infinitehbd_description_has_a_cause() -> None:
    stats = json.loads(HBD_STATS.read_text("utf-8"))
    taxonomy = default()
    for level, classes in stats.items():
        for cls, descs in classes.items():
            if cls == "LevelTotal":
                continue
            for desc in descs:
                if desc == "ClassTotal":
                    continue
                found = taxonomy.classify_reason(f"{level}: {cls}: {desc}").category
                assert (found == "unknown") == (desc in GENUINELY_UNKNOWN), (cls, desc, found)


def test_user_extension_overrides_shipped_mappings(tmp_path: Path) -> None:
    extra = tmp_path / "site.toml"
    extra.write_text(
        'version = 7\n[checks]\ncheck_fs_mount = { category = "host_service", severity = "info" }\n'
        '[xids]\n79 = "pcie"\n'
        '[[reasons]]\npattern = "not responding"\ncategory = "ib_link"\n',
        "utf-8",
    )
    taxonomy = load(extra)
    assert taxonomy.classify_check("check_fs_mount").category == "host_service"
    assert taxonomy.classify_check("check_fs_mount").severity == "info"
    assert taxonomy.classify_xid(79).category == "pcie"
    assert taxonomy.classify_reason("Not responding").category == "ib_link"
    assert taxonomy.versions[str(extra)] == 7
    assert default().classify_xid(79).category == "gpu_unavailable"


def test_gpurels_own_lemon_drains_are_no_failure() -> None:
    """A drain gpurel applied comes back through sacctmgr events: it must not count as an
    outage of the node it drained (that would feed its own lemon signals)."""
    from gpurel.slurm_drain import REASON_PREFIX

    found = default().classify_reason(f"{REASON_PREFIX}xid_count 3, out_count 4")
    assert found.severity == "info"
