"""Simulator configuration: presets, documented parameters, --set overrides."""

from __future__ import annotations

import dataclasses

import pytest

from gpurel.errors import ConfigError
from gpurel.sim.config import (
    PRESETS,
    SimConfig,
    describe,
    parse_assignments,
    preset,
    with_overrides,
)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_are_valid(name: str) -> None:
    config = preset(name)
    assert config.validate() is config
    assert config.cluster == name


def test_unknown_preset() -> None:
    with pytest.raises(ConfigError, match="rsc1"):
        preset("rsc9")


def test_every_parameter_is_documented_with_a_source() -> None:
    rows = describe()
    assert {r["name"] for r in rows} == {f.name for f in dataclasses.fields(SimConfig)}
    for row in rows:
        assert row["doc"], row["name"]
        assert row["source"].split(":")[0].split(" ")[0] in (
            "paper",
            "calibrated",
            "assumption",
            "what-if",
            "any",
        ), row


def test_overrides_parse_durations_numbers_and_rates() -> None:
    config = with_overrides(
        preset("rsc1"),
        parse_assignments(["u0=2m", "lemon_rate_multiplier=1", "nodes=100", "rate.ib_link=0.5"]),
    )
    assert config.u0 == 120
    assert config.lemon_rate_multiplier == 1.0
    assert config.nodes == 100
    assert next(f.rate for f in config.faults if f.category == "ib_link") == 0.5


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("nope=1", "unknown parameter"),
        ("faults=1", "only scalar"),
        ("rate.warp_drive=1", "unknown fault category"),
        ("nodes=many", "nodes=many"),
        ("lemon_rate_multiplier=0.5", "lemon_rate_multiplier"),
        ("novalue", "KEY=VALUE"),
    ],
)
def test_bad_overrides(item: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        with_overrides(preset("rsc1"), parse_assignments([item]))


def test_scale_caps_job_size() -> None:
    small = dataclasses.replace(preset("rsc1"), scale=0.1)
    assert small.effective_nodes == 200
    assert small.max_job_gpus == 512
    assert preset("rsc1").max_job_gpus == 4096
