"""Absent is not zero: a warehouse with accounting only, one with node events only, and one
whose data is hostile. Every output (terminal, JSON, HTML, Markdown) shows each figure measured
or "not measured" with the reason: never a 0, ∞ or 1.0 for "no data", never a header-only table.
Expected counts are recounted here in plain Python."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from canonical_rows import canonical_table
from markdown_it import MarkdownIt
from rich.console import Console
from typer.testing import CliRunner

from gpurel.absent import Absent
from gpurel.analysis.summary import Analysis, NodeDispersion, analyze, to_json
from gpurel.cli import render
from gpurel.cli.app import app
from gpurel.report import render_html, render_markdown
from gpurel.report.sections import blocks
from gpurel.warehouse import Warehouse

T0 = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday
NO_EVENTS = "no node events ingested"
NO_CAUSES = "no node events ingested and no attempt ended NODE_FAIL"
RLO = "\u202e"  # right-to-left override


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def attempt(job_id: str, start: float, hours: float, state: str, gpus: int, **kw: Any) -> dict:
    nodes = kw.pop("nodes", [f"n{i:02d}" for i in range(max(gpus // 8, 1))])
    return {
        "cluster": "c1",
        "job_id": job_id,
        "name": f"train-{job_id}",
        "user": "ada",
        "submit_time": h(start),
        "start_time": h(start),
        "end_time": h(start + hours),
        "state": state,
        "n_nodes": len(nodes),
        "n_gpus": gpus,
        "nodes": nodes,
        "source": "test",
    } | kw


def failing(node: str, hours: float, check: str = "gpu_memory", **kw: Any) -> dict[str, Any]:
    return {
        "cluster": "c1",
        "node": node,
        "time": h(hours),
        "source": "gcm",
        "check": check,
        "category": "gpu_memory",
        "domain": "hardware",
        "severity": "high",
        "result": "fail",
    } | kw


ACCOUNTING = [
    # large jobs that fail without any cause: r_f cannot tell whose failure it was
    *(attempt(f"L{i}", 30 * i, 24, "FAILED" if i % 3 == 0 else "COMPLETED", 256) for i in range(9)),
    *(attempt(f"S{i}", 10 * i, 2, "COMPLETED", 8, nodes=[f"s{i % 4}"]) for i in range(20)),
    attempt("X1", 5, 1, "CANCELLED", 16),
]
# 12 nodes; every episode a failing record more than the 1-hour merge gap from the next
EVENTS = [failing(f"g{i % 12:02d}", 5 * i) for i in range(40)] + [
    failing("g00", 2.2 + 5 * k)
    for k in range(30)  # g00: a lemon with 30 more episodes
]


def _analysis(jobs: list[dict], events: list[dict]) -> Analysis:
    store = Warehouse.in_memory()
    try:
        if jobs:
            store.write("jobs", canonical_table("jobs", jobs))
        if events:
            store.write("node_events", canonical_table("node_events", events))
        return analyze(store)
    finally:
        store.close()


@pytest.fixture(scope="module")
def accounting_only() -> Analysis:
    return _analysis(ACCOUNTING, [])


@pytest.fixture(scope="module")
def events_only() -> Analysis:
    return _analysis([], EVENTS)


def _terminal(a: Analysis, monkeypatch: pytest.MonkeyPatch) -> str:
    wide = Console(width=200, color_system=None)
    monkeypatch.setattr(render, "console", wide)
    with wide.capture() as captured:
        render.render(a)
    return captured.get()


def _header_only_terminal_tables(text: str) -> list[int]:
    lines = text.splitlines()
    return [i for i in range(len(lines) - 1) if lines[i][:1] == "┡" and lines[i + 1][:1] == "└"]


def _header_only_markdown_tables(text: str) -> list[str]:
    lines = [*text.splitlines(), ""]
    return [
        lines[i - 1]
        for i in range(1, len(lines) - 1)
        if re.fullmatch(r"\| (?::?-+:? \| )*:?-+:? \|", lines[i]) and not lines[i + 1]
    ]


def _no_invented_figures(
    a: Analysis, monkeypatch: pytest.MonkeyPatch, missing: str
) -> dict[str, Any]:
    """Check every output for stand-ins of "no data" and for the sentence saying what is
    ``missing``; return the JSON document."""
    doc = json.loads(json.dumps(to_json(a), allow_nan=False))
    page, md, text = render_html(a), render_markdown(a), _terminal(a, monkeypatch)
    for out in (page, md, text):
        assert "∞" not in out and "1970" not in out
        assert missing in out.lower()
    assert re.search(r"<tbody>\s*</tbody>", page) is None
    assert _header_only_markdown_tables(md) == []
    assert _header_only_terminal_tables(text) == []
    return doc


def test_accounting_only(accounting_only: Analysis, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = _no_invented_figures(accounting_only, monkeypatch, NO_EVENTS)
    assert "one shared rate fits" not in _terminal(accounting_only, monkeypatch)
    for key in ("episode_summary", "episodes_by_category", "top_nodes", "check_first_seen"):
        assert doc[key] == {"value": None, "absent": NO_EVENTS}
    assert doc["attribution_windows"] == {"value": None, "absent": NO_EVENTS}
    for figure in (
        doc["node_failure_rate"],
        doc["infra_failures"],
        doc["mttf_by_size"],
        doc["mttf_projection"],
        doc["ettr"]["expected"],
        doc["lost_goodput"],
    ):
        assert figure["value"] is None and figure["absent"].startswith(NO_CAUSES)
    dispersion = doc["projection"]["node_dispersion"]
    assert dispersion["value"] is None and dispersion["absent"].startswith("not testable:")
    assert NO_EVENTS in dispersion["absent"]
    # measured ETTR of runs stays measured (every interruption); the infrastructure-only view
    # and the expected ETTR cannot be
    for row in doc["ettr"]["measured_by_bucket"]:
        assert row["ettr_mean"] is not None
        assert row["ettr_infra_mean"] is None and row["ettr_expected"] is None
    # 256-GPU jobs: 9 attempts of 32 nodes × 24 h = 6,912 job node-days, as measured
    assert accounting_only.node_failure_rate.node_days == pytest.approx(9 * 32 * 24 / 24)


def test_accounting_only_key_findings_say_why(accounting_only: Analysis) -> None:
    md = render_markdown(accounting_only)
    findings = md.split("## Key findings")[1].split("\n## ")[0]
    assert "r\\_f, per 1000 node\\-days: not measured" not in findings  # labels stay readable
    assert "Node failure rate r\\_f, per 1000 node-days: not measured**" in findings
    assert "Projected MTTF of large jobs: not measured**" in findings
    assert "Node failure episodes, per 1000 node-days: not measured**. No node events" in findings
    page = render_html(accounting_only)
    assert "Not measured: no node events ingested and no attempt ended NODE_FAIL" in page
    ids = [b.id for b in blocks(accounting_only)]
    assert "node-episodes" not in ids and "over-time" not in ids


def test_node_fail_without_events_measures_r_f() -> None:
    a = _analysis([*ACCOUNTING, attempt("NF", 400, 12, "NODE_FAIL", 256)], [])
    assert not isinstance(a.rf, Absent)
    assert a.rf.failures == 1  # the NODE_FAIL; the FAILED attempts have no cause
    assert not isinstance(a.projection_rf, Absent)
    assert isinstance(a.episode_summary, Absent)


def test_events_only(events_only: Analysis, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = _no_invented_figures(events_only, monkeypatch, "no job accounting")
    summary = {r["scope"]: r for r in doc["episode_summary"]}
    assert summary["all"]["episodes"] == len(EVENTS)  # each record is its own episode
    # the dispersion test runs on episodes per node, node-days in service as exposure
    d = events_only.node_dispersion
    assert isinstance(d, NodeDispersion)
    assert d.tested.startswith("node failure episodes per node")
    per_node: dict[str, int] = {}
    for e in EVENTS:
        per_node[e["node"]] = per_node.get(e["node"], 0) + 1
    assert (d.test.nodes, d.test.failures) == (len(per_node), sum(per_node.values()))
    period = (max(e["time"] for e in EVENTS) - min(e["time"] for e in EVENTS)) / timedelta(days=1)
    assert d.test.node_days == pytest.approx(len(per_node) * period)
    assert not d.test.shared  # g00 fails far more often than the rest
    assert doc["projection"]["node_dispersion"]["tested"] == d.tested
    text = _terminal(events_only, monkeypatch)
    assert "tested: node failure episodes per node" in text


def test_empty_warehouse_measures_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    a = _analysis([], [])
    doc = json.loads(json.dumps(to_json(a), allow_nan=False))
    assert doc["node_days"] == {
        "value": None,
        "absent": "no job accounting or node events ingested",
    }
    assert doc["lost_goodput"] == {"value": None, "absent": "no job accounting ingested"}
    assert "0 node-days" not in _terminal(a, monkeypatch)


def test_goodput_without_jobs_is_absent(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    w = Warehouse.open(path)
    w.write("node_events", canonical_table("node_events", EVENTS))
    w.close()
    runner = CliRunner()
    result = runner.invoke(app, ["goodput", "--json", "-w", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"value": None, "absent": "no job accounting ingested"}
    text = runner.invoke(app, ["goodput", "-w", str(path)], env={"COLUMNS": "200"})
    assert text.exit_code == 0, text.output
    assert "Lost goodput not measured: no job accounting ingested" in text.stdout
    assert "0 GPU-hours" not in text.stdout


def test_mttf_refuses_an_unmeasured_r_f(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    w = Warehouse.open(path)
    w.write("jobs", canonical_table("jobs", ACCOUNTING))
    w.close()
    result = CliRunner().invoke(app, ["mttf", "--gpus", "1024", "-w", str(path)])
    assert result.exit_code != 0
    assert "r_f is not measured: no node events ingested and no attempt" in result.output
    assert "∞" not in result.output


# --- the period shown and Fig. 5's markers ------------------------------------------------------


@pytest.fixture(scope="module")
def warm_up() -> Analysis:
    """30 nodes in service for 30 days from T0; warm-up jobs started 6.7 days before; checks
    "a" and "b" appear in the first week of the events, "c" after 12 days."""
    store = Warehouse.in_memory()
    try:
        nodes = [
            {
                "cluster": "c1",
                "node": f"n{i:02d}",
                "gpus": 8,
                "in_service_start": T0,
                "in_service_end": T0 + timedelta(days=30),
                "source": "test",
            }
            for i in range(30)
        ]
        store.write("nodes", canonical_table("nodes", nodes))
        jobs = [attempt(f"W{i}", -6.7 * 24 + i, 48, "COMPLETED", 8) for i in range(3)]
        store.write("jobs", canonical_table("jobs", jobs))
        events = [failing("n01", 2, "a"), failing("n02", 24 * 5, "b"), failing("n03", 24 * 12, "c")]
        store.write("node_events", canonical_table("node_events", events))
        return analyze(store)
    finally:
        store.close()


def test_the_period_shown_is_the_period_of_the_node_days(warm_up: Analysis) -> None:
    nd = warm_up.node_days
    assert nd is not None and nd.node_days == pytest.approx(30 * 30)
    assert (nd.period.start, nd.period.end) == (T0, T0 + timedelta(days=30))
    assert nd.records is not None and nd.records.start == h(-6.7 * 24)
    facts = dict(blocks(warm_up)[0].facts)
    assert facts["Period"].endswith("(30 days)")
    assert facts["Node-days"] == "900"
    assert facts["Records span"].startswith("2024-02-26 07:12 – 2024-04-03 00:00 UTC (36.7 days)")


def test_new_checks_are_counted_from_the_first_node_event(warm_up: Analysis) -> None:
    seen = warm_up.check_first_seen
    assert not isinstance(seen, Absent)
    assert {r["check"]: r["new"] for r in seen.to_pylist()} == {"a": False, "b": False, "c": True}


# --- hostile strings ----------------------------------------------------------------------------

HOSTILE_MESSAGES = (
    "![pixel](https://evil.example/p.png)",
    "[click me](https://evil.example/x) or <https://evil.example/y>",
    "see www.evil.example and https://evil.example/z",
    "<img src=x onerror=alert(1)> *bold* _em_ `code` | cell &#x202E; $x$ @someone",
    f"gpu{RLO}0lnk.exe",
)
HOSTILE_NAMES = ("[/x]", "[bold red]styled[/bold red]", f"train{RLO}gnp.sh")


@pytest.fixture(scope="module")
def hostile() -> Analysis:
    jobs = [
        attempt(f"H{i}", 10 * i, 3, "FAILED", 8, name=name, nodes=[f"n{i}"])
        for i, name in enumerate(HOSTILE_NAMES)
    ]
    events = [
        failing(f"n{i % 3}", 10 * i + 3, f"check_{i}", message=message)
        for i, message in enumerate(HOSTILE_MESSAGES)
    ]
    return _analysis(jobs, events)


def test_markdown_renders_data_as_text(hostile: Analysis) -> None:
    md = render_markdown(hostile)
    assert "evil.example" in md  # the messages are there, as text
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert "<img" not in html and "<a " not in html and "<em>" not in html
    assert "<strong>bold" not in html and "<code>" not in html
    assert "&#x202E;" not in md.replace("\\&#x202E;", "")  # the entity stays text
    assert "https://" not in md and "www.evil" not in md  # no bare URL to autolink
    assert "\\@someone" in md and "\\$x\\$" in md
    for table in re.findall(r"(?:^\|.*\n)+", md, re.M):  # a | in a cell splits no row
        widths = {len(re.findall(r"(?<!\\)\|", row)) for row in table.splitlines()}
        assert len(widths) == 1, table


def test_bidirectional_controls_are_neutralised_for_people(
    hostile: Analysis, monkeypatch: pytest.MonkeyPatch
) -> None:
    for out in (render_html(hostile), render_markdown(hostile), _terminal(hostile, monkeypatch)):
        assert RLO not in out
        assert "{U+202E}" in out
    doc = to_json(hostile)  # JSON keeps the data as it is ...
    assert RLO in json.dumps(doc, ensure_ascii=False)
    assert RLO not in json.dumps(doc)  # ... and its \\u escape is inert


def test_rich_markup_in_job_names_is_printed_as_text(
    hostile: Analysis, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = _terminal(hostile, monkeypatch)
    assert "[/x]" in text
    assert "[bold red]styled[/bold red]" in text


def test_paths_and_options_with_markup_print_as_text(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    w = Warehouse.open(path)
    w.write("jobs", canonical_table("jobs", ACCOUNTING))
    w.close()
    runner = CliRunner()
    out = tmp_path / "[bold]" / "[/x].md"
    report = runner.invoke(app, ["report", "-w", str(path), "-f", "md", "--out", str(out)])
    assert report.exit_code == 0, report.output
    assert str(out) in "".join(report.stdout.splitlines())  # long paths fold
    assert out.read_text(encoding="utf-8").startswith("# Reliability report: c1\n")
    runs = runner.invoke(app, ["runs", "-w", str(path), "--qos", "[/x]", "--min-hours", "1"])
    assert runs.exit_code == 0, runs.output
    assert "QoS [/x]" in runs.stdout
