"""Every command, every option with a value it cannot take: exit 2, the option named, no
traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_gpurel
from gpurel.cli.app import COMMANDS, load

FIXTURE = Path(__file__).parents[1] / "fixtures" / "events" / "events.csv"

BAD = {
    "--format": "nope", "--tz": "Mars/Olympus", "--delimiter": "ab", "--nodes": "x",
    "--days": "x", "--trace-start": "yesterday", "--year": "x", "--map": "time",
    "--gpus-per-node": "0", "--engine": "nope", "--before": "10x", "--after": "-1",
    "--rf-min-gpus": "x", "--merge-gap": "soon", "--project": "1,x", "--top": "x",
    "--gap": "1 hour", "--min-hours": "-2", "--ckpt": "10x", "--restart": "x",
    "--write": "x", "--design-write": "x", "--reference-rf": "0", "--window": "x",
    "--as-of": "yesterday", "--lemon-merge-gap": "x", "--min-single-jobs": "0",
    "--method": "vote", "--percentile": "2", "--z": "-1", "--min-signals": "0", "--cap": "x",
    "--tolerance": "x", "--crash-loops": "0", "--gpus": "1,x", "--rf": "x", "--queue": "x",
    "--length": "x", "--runs": "x", "--seed": "x", "--weibull": "x", "--queue-dist": "poisson",
    "--target": "x", "--solve": "everything", "--horizon": "x", "--large-gpus": "x",
    "--backtest-as-of": "yesterday", "--preset": "rsc9", "--scale": "x", "--set": "nonsense",
    "--compare": "nonsense", "--since": "yesterday", "--until": "yesterday", "--chunk": "x",
    "--overlap": "x", "--retries": "x", "--backoff": "x", "--sacct-timeout": "x",
    "--max-drain": "0", "--undrain-after": "x", "--interval": "x", "--port": "x",
}  # fmt: skip
# what each command needs besides the bad option (a valid value of its required options)
NEEDS = {
    "ingest": [str(FIXTURE)],
    "ettr": ["--gpus", "1024", "--rf", "6.5"],
    "mttf": ["--gpus", "1024", "--rf", "6.5"],
}


def _cases() -> list[tuple[str, str, bool]]:
    cases = []
    commands = {name: load(name) for name in COMMANDS}
    commands |= {f"collect {n}": c for n, c in commands.pop("collect").commands.items()}  # type: ignore[attr-defined]
    for name, command in sorted(commands.items()):
        flags = [p.opts[0] for p in command.params if p.param_type_name == "option"]
        cases += [(name, flag, "--warehouse" in flags) for flag in flags if flag in BAD]
    return cases


@pytest.mark.parametrize(("command", "flag", "stored"), _cases())
def test_a_bad_value_exits_2_naming_its_option(
    tmp_path: Path, command: str, flag: str, stored: bool
) -> None:
    needs = NEEDS.get(command, [])
    if flag in needs:  # the bad value replaces the good one
        at = needs.index(flag)
        needs = needs[:at] + needs[at + 2 :]
    warehouse = ["--warehouse", str(tmp_path / "w.duckdb")] if stored else []
    args = [*command.split(), *needs, flag, BAD[flag], *warehouse]
    result = run_gpurel(*args)
    output = result.output
    assert "Traceback" not in output
    assert result.exit_code == 2, (args, output, result.exception)
    assert flag in output or flag.lstrip("-") in output, output
