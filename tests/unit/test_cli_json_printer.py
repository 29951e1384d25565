"""The ``--json`` printer: JSON indented by two whose arrays of numbers stay on one line, equal
to what ``json.dumps`` writes once read back."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from gpurel.cli.app import app
from gpurel.cli.common import json_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

DOC = {
    "gpus": [8, 16, -24, 1.5e-07, 2e20],
    "grid": [[0.25, 0.5], [0.75, None]],
    "names": ["7", "8"],
    "mixed": [1, "two", True],
    "flags": [True, False],
    "empty": [],
    "rows": [{"x": [1, 2], "say": "a\nb, 3,\n4"}],
    "gaps": [None, None],
}


def test_arrays_of_numbers_sit_on_one_line_and_the_rest_is_indented_by_two() -> None:
    text = json_text(DOC)
    assert json.loads(text) == DOC
    lines = text.splitlines()
    for line in [
        '  "gpus": [8, 16, -24, 1.5e-07, 2e+20],',
        "    [0.25, 0.5],",
        "    [0.75, null]",
        '  "empty": [],',
        '      "x": [1, 2],',
        '  "gaps": [null, null]',
    ]:
        assert line in lines, line
    assert '  "names": [' in lines and '    "7",' in lines  # strings stay one a line
    assert '  "mixed": [' in lines and '  "flags": [' in lines
    assert '      "say": "a\\nb, 3,\\n4"' in lines


def test_infinite_numbers_and_a_default_print_as_json_dumps_writes_them() -> None:
    when = datetime(2024, 5, 1, tzinfo=UTC)
    text = json_text({"v": [math.inf, -math.inf, 1], "at": when}, default=str)
    assert text == '{\n  "v": [Infinity, -Infinity, 1],\n  "at": "2024-05-01 00:00:00+00:00"\n}'


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
)


@given(JSON)
def test_the_printed_json_reads_back_as_json_dumps_writes_it(doc: Any) -> None:
    assert json.loads(json_text(doc)) == json.loads(json.dumps(doc))


def test_analyze_json_prints_the_design_grid_a_row_a_line(tmp_path: Path) -> None:
    store = str(tmp_path / "w.duckdb")
    sacct = sorted((FIXTURES / "sacct").iterdir())
    files = [str(f) for f in sacct if "noheader" not in f.name]  # that one needs --fields
    ingested = CliRunner().invoke(
        app, ["ingest", "--json", "-q", "-w", store, "--tz", "UTC", *files]
    )
    assert ingested.exit_code == 0, ingested.output
    assert len(json.loads(ingested.output)["files"]) == len(files)
    args = ["analyze", "--json", "--quiet", "--warehouse", store, "--reference-rf", "3"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    grid = doc["design_space"]["ettr"]
    assert len(grid) > 100 and len(grid[0]) > 100
    lines = result.output.splitlines()
    assert len(lines) < len(json.dumps(doc, indent=2).splitlines()) / 10
    assert len(result.output) < len(json.dumps(doc, indent=2))
    gpus = doc["design_space"]["gpus"]
    assert '    "gpus": ' + json.dumps(gpus) + "," in lines
    assert "      " + json.dumps(grid[0]) + "," in lines
