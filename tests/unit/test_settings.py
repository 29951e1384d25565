"""Settings: flags over GPUREL_* variables over gpurel.toml over defaults; bad values named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gpurel.cli.app import app
from gpurel.cli.settings import BY_KEY, SETTINGS, resolve
from gpurel.errors import ConfigError

KEYS = ("attribution.before", "attribution.after", "lemons.window", "runs.min_hours")


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gpurel.toml"
    path.write_text(text)
    return path


def test_each_source_wins_over_the_weaker_ones(tmp_path: Path) -> None:
    config = _config(
        tmp_path, '[attribution]\nbefore = "10s"\nafter = 5\n[lemons]\nwindow = "2d"\n'
    )
    environ = {"GPUREL_ATTRIBUTION_AFTER": "7s", "GPUREL_LEMONS_WINDOW": "3d"}
    values = resolve(KEYS, {"lemons.window": "4d"}, config, environ)
    assert dict(values.values) == {
        "attribution.before": 10.0,
        "attribution.after": 7.0,
        "lemons.window": 4 * 86400.0,
        "runs.min_hours": 24.0,
    }
    assert values.origins["attribution.before"] == f"file {config}"
    assert values.origins["attribution.after"] == "env GPUREL_ATTRIBUTION_AFTER"
    assert values.origins["lemons.window"] == "flag --window"
    assert values.origins["runs.min_hours"] == "default"


def test_the_default_file_is_read_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _config(tmp_path, "[runs]\nmin_hours = 2\n")
    monkeypatch.chdir(tmp_path)
    assert resolve(["runs.min_hours"], {}, None, {})["runs.min_hours"] == 2.0


@pytest.mark.parametrize(
    ("flags", "environ", "text", "named"),
    [
        ({"attribution.before": "10x"}, {}, "", "--before: '10x' is not a duration"),
        ({}, {"GPUREL_LEMONS_WINDOW": "soon"}, "", "GPUREL_LEMONS_WINDOW: 'soon'"),
        ({}, {}, "[runs]\nmin_hours = -1\n", "gpurel.toml: runs.min_hours: '-1' is not"),
        ({}, {}, "[runs]\nmin_hour = 1\n", "unknown setting 'runs.min_hour'"),
        ({}, {}, "[runs\n", "not TOML"),
        ({}, {}, "runs = 3\n", "'runs' must be a table"),
    ],
)
def test_a_bad_value_names_where_it_came_from(
    tmp_path: Path, flags: dict[str, str], environ: dict[str, str], text: str, named: str
) -> None:
    config = _config(tmp_path, text)
    with pytest.raises(ConfigError, match=named.replace("(", r"\(")) as caught:
        resolve(KEYS, flags, config, environ)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.key)
def test_every_default_reads_back_from_its_own_text(setting) -> None:  # type: ignore[no-untyped-def]
    if setting.default is not None:
        shown = setting.kind.show(setting.default)
        assert setting.parse(shown, "test") == setting.default


def test_config_command_shows_each_value_and_its_origin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _config(tmp_path, '[attribution]\nbefore = "10s"\n')
    monkeypatch.setenv("GPUREL_GOODPUT_TOLERANCE", "5s")
    result = CliRunner().invoke(app, ["config", "--json", "--window", "7d"])
    assert result.exit_code == 0, result.output
    rows = {row["key"]: row for row in json.loads(result.stdout)["settings"]}
    assert set(rows) == set(BY_KEY)
    assert (rows["attribution.before"]["value"], rows["attribution.before"]["origin"]) == (
        "10s",
        "file gpurel.toml",
    )
    assert rows["goodput.tolerance"]["origin"] == "env GPUREL_GOODPUT_TOLERANCE"
    assert rows["lemons.window"]["value"] == "1w"
    bad = CliRunner().invoke(app, ["config", "--z", "-1"])
    assert bad.exit_code == 2 and "--z: '-1' is not a number > 0" in bad.output
