"""The report end to end on real inputs: which sections render, determinism, no remote
references, the Markdown summary and the ``gpurel report`` command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markupsafe import escape
from typer.testing import CliRunner

from gpurel import demo
from gpurel.analysis.summary import Analysis, analyze
from gpurel.cli.app import app
from gpurel.errors import ConfigError
from gpurel.ingest import ingest
from gpurel.report import build_report, render_html, render_markdown
from gpurel.report.html import breakable
from gpurel.report.markdown import escape_text as markdown_cell
from gpurel.report.sections import blocks
from gpurel.sources.base import ReadOptions
from gpurel.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
TRACE = REPO.parent / "shared/data/infinitehbd_stepfun/fault_trace.json"
ALL_SECTIONS = [
    "overview",
    "job-states",
    "failure-causes",
    "over-time",
    "job-sizes",
    "mttf",
    "ettr-runs",
    "ettr-design",
    "lost-goodput",
    "node-episodes",
    "lemon-nodes",
    "methods",
]
JOB_FIGURES = (
    "fig3_job_states",
    "fig4_failure_causes",
    "fig6_job_sizes",
    "fig7_mttf_by_size",
    "fig8_lost_goodput",
    "fig9_ettr_by_size",
    "fig10_ettr_design_space",
)
EVENT_FIGURES = ("fig5_weekly_episodes", "fig_node_episodes", "fig11_lemon_signals")
REMOTE = re.compile(
    r"""(?:\b(?:src|href|xlink:href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//)"""
    r"""|@import|url\(\s*["']?\s*(?:https?:)?//""",
    re.IGNORECASE,
)
HOSTILE_SACCT = FIXTURES / "report" / "hostile_sacct.txt"  # job names with markup
HOSTILE_NAMES = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')


def _analysis(paths: list[Path], options: ReadOptions) -> Analysis:
    store = Warehouse.in_memory()
    try:
        outcomes = ingest(store, paths, options)
        assert any(o.ok for o in outcomes)
        return analyze(store)
    finally:
        store.close()


@pytest.fixture(scope="module")
def events_only() -> Analysis:
    """The InfiniteHBD fault trace: node events and an inventory, no jobs."""
    if not TRACE.exists():
        pytest.skip(f"shared data missing: {TRACE}")
    return _analysis([TRACE], ReadOptions(inventory_nodes=400, inventory_days=348))


@pytest.fixture(scope="module")
def demo_analysis() -> Analysis:
    """The built-in demo week: jobs, health checks, failures of every kind."""
    return _analysis(demo.files(), ReadOptions(cluster=demo.CLUSTER, tz="UTC"))


@pytest.fixture(scope="module")
def fixtures_analysis() -> Analysis:
    """Every sacct and events fixture: few jobs, many formats, rejected rows."""
    paths = sorted((FIXTURES / "sacct").iterdir()) + sorted((FIXTURES / "events").iterdir())
    return _analysis(paths, ReadOptions(tz="UTC"))


@pytest.fixture(scope="module")
def hostile() -> Analysis:
    """Two failed jobs whose names are markup."""
    return _analysis([HOSTILE_SACCT], ReadOptions(tz="UTC"))


@pytest.fixture(scope="module")
def empty() -> Analysis:
    return analyze(Warehouse.in_memory())


def _ids(a: Analysis) -> list[str]:
    return [b.id for b in blocks(a)]


def test_events_only_leaves_out_the_job_sections(events_only: Analysis) -> None:
    assert _ids(events_only) == [
        "overview",
        "over-time",
        "node-episodes",
        "lemon-nodes",
        "methods",
    ]
    page = render_html(events_only)
    for name in EVENT_FIGURES:
        assert f'<figure id="{name}">' in page
    for name in JOB_FIGURES:
        assert name not in page
    assert "No job accounting was ingested" in page
    assert "400 (inventory)" in page  # nodes
    assert "3,200 (from the inventory)" in page  # GPUs


def test_jobs_and_events_show_every_section(demo_analysis: Analysis) -> None:
    assert _ids(demo_analysis) == ALL_SECTIONS
    page = render_html(demo_analysis)
    for name in (*JOB_FIGURES, *EVENT_FIGURES):
        assert page.count(f'<figure id="{name}">') == 1
    assert page.count("<svg") == len(JOB_FIGURES) + len(EVENT_FIGURES)
    assert "19.7" in page  # r_f of the demo, per 1000 node-days
    assert "by GPU time" in page and "by attempt count" in page
    assert "The 14 interrupted attempts with the most GPU time" in page
    assert page.index("llm-pretrain") < page.index("vlm-train") < page.index("diffusion-xl")


def test_ettr_sections_at_the_measured_rate(demo_analysis: Analysis) -> None:
    page = render_html(demo_analysis)
    assert "at r_f = 19.7 / 1000 node-days" in page  # Fig. 9's expected line
    assert "the measured r_f = 19.7 per 1000 node-days" in page  # Fig. 10
    assert "an illustrative write time w_cp = 30 s" in page  # the analysis assumes w_cp = 0
    assert "Exact renewal form" in page and "Paper Fig. 9." in page and "Paper Fig. 10." in page
    assert "60 min (assumed)" in page


def test_ettr_without_a_measured_rate(fixtures_analysis: Analysis) -> None:
    """One long run but no large job: measured ETTR alone, the design space at the paper's r_f."""
    assert {"ettr-runs", "ettr-design"} <= set(_ids(fixtures_analysis))
    page = render_html(fixtures_analysis)
    assert "No expected ETTR: r_f is not measured." in page
    assert "the reference r_f = 6.5 per 1000 node-days" in page
    assert "no attempt of a job with more than 128 GPUs ran" in page
    assert fixtures_analysis.ettr_design.space.rf_per_node_day == 6.5 / 1000


def test_job_names_are_escaped_in_the_failure_table(hostile: Analysis) -> None:
    assert hostile.largest_failures["name"].to_pylist() == list(HOSTILE_NAMES)
    page = render_html(hostile)
    for name in HOSTILE_NAMES:
        assert name not in page
        assert f'<td class="text">{escape(name)}</td>' in page
    assert "<script" not in page and "<img" not in page


def test_table_cells_break_only_where_they_may() -> None:
    assert breakable("<b>x_y</b>") == "&lt;b&gt;x_<wbr>y&lt;/b&gt;"
    assert breakable("2024-06-03 03:10", "time") == (
        '<span class="nowrap">2024-06-03</span> <span class="nowrap">03:10</span>'
    )
    assert breakable("1_000 <", "num") == "1_000 &lt;"


def test_markdown_escapes_markup_from_the_data(hostile: Analysis) -> None:
    text = render_markdown(hostile)
    assert "<script" not in text and "<img" not in text
    assert markdown_cell("a|b <i>x</i>") == "a\\|b \\<i\\>x\\</i\\>"


def test_rejected_rows_are_listed_with_their_reason(fixtures_analysis: Analysis) -> None:
    page = render_html(fixtures_analysis)
    assert "Input rows rejected by ingest, and why" in page
    assert "missing node" in page
    assert f"{fixtures_analysis.overview['rejected_rows']:,}" in page


def test_empty_warehouse_renders_overview_and_methods(empty: Analysis) -> None:
    assert _ids(empty) == ["overview", "methods"]
    assert "Key findings" in render_html(empty)
    assert render_markdown(empty).startswith("# Reliability report\n")


@pytest.mark.parametrize("name", ["events_only", "demo_analysis", "fixtures_analysis", "empty"])
def test_no_remote_resources(name: str, request: pytest.FixtureRequest) -> None:
    page = render_html(request.getfixturevalue(name))
    assert REMOTE.search(page) is None
    assert "<script" not in page and "<link" not in page and "<img" not in page


def test_same_input_gives_identical_bytes(demo_analysis: Analysis, tmp_path: Path) -> None:
    first = build_report(demo_analysis, tmp_path / "a.html", tmp_path / "figs_a")
    second = build_report(demo_analysis, tmp_path / "b.html", tmp_path / "figs_b")
    assert first.read_bytes() == second.read_bytes()
    a, b = tmp_path / "figs_a", tmp_path / "figs_b"
    names = sorted(p.name for p in a.iterdir())
    expected = [
        f"{n}.{suffix}" for n in (*JOB_FIGURES, *EVENT_FIGURES) for suffix in ("png", "svg")
    ]
    assert names == sorted(expected)
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_markdown_summary(demo_analysis: Analysis, tmp_path: Path) -> None:
    text = build_report(demo_analysis, tmp_path / "r.md", fmt="md").read_text(encoding="utf-8")
    assert text.startswith("# Reliability report: demo\n")
    assert "## Key findings" in text
    assert "| COMPLETED | 43 | 60.6% |" in text
    assert "<svg" not in text and "\n\n\n" not in text


def test_unknown_format_is_refused(empty: Analysis, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        build_report(empty, tmp_path / "r.pdf", fmt="pdf")


def test_report_command(tmp_path: Path) -> None:
    warehouse = tmp_path / "demo.duckdb"
    assert all(o.ok for o in demo.run(warehouse))
    out, figs = tmp_path / "out" / "report.html", tmp_path / "figs"
    runner = CliRunner()
    result = runner.invoke(
        app, ["report", "-w", str(warehouse), "--out", str(out), "--figures", str(figs)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert (figs / "fig7_mttf_by_size.png").read_bytes().startswith(b"\x89PNG")
    md = runner.invoke(app, ["report", "-w", str(warehouse), "--format", "md", "--cluster", "demo"])
    assert md.exit_code == 0, md.output
    assert md.stdout.startswith("# Reliability report: demo\n")
    bad = runner.invoke(app, ["report", "-w", str(warehouse), "--format", "pdf"])
    assert bad.exit_code == 2
    assert "--format" in bad.stderr
