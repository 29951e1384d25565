"""The report on lemon nodes and lost goodput: the methods state the rules with the values in
force, and a lemon backtest gets its own section when there is one."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from gpurel import demo
from gpurel.analysis import lemons
from gpurel.analysis.goodput import GoodputRules
from gpurel.analysis.runs import Checkpointing
from gpurel.analysis.summary import Analysis, Settings, analyze, lemon_inputs
from gpurel.ingest import ingest
from gpurel.models.lemon_rule import LemonRule
from gpurel.report import render_html, render_markdown
from gpurel.report.content import Block
from gpurel.report.methods import methods
from gpurel.report.sections import blocks
from gpurel.sources.base import ReadOptions
from gpurel.warehouse import Warehouse

AS_OF = datetime(2024, 6, 8, tzinfo=UTC)  # two days before the demo week ends
TRUTH = {(demo.CLUSTER, "gpu038")}


@pytest.fixture(scope="module")
def tested() -> tuple[Analysis, lemons.Backtest]:
    """The demo week with lemons found up to ``AS_OF`` and backtested after it."""
    store = Warehouse.in_memory()
    try:
        ingest(store, demo.files(), ReadOptions(cluster=demo.CLUSTER, tz="UTC"))
        settings = Settings(lemon=lemons.LemonSettings(as_of=AS_OF))
        a = analyze(store, settings)
        assert a.lemons is not None
        inputs = lemon_inputs(store, settings)
        return a, lemons.backtest(inputs, a.lemons, large_job_gpus=64, truth=TRUTH)
    finally:
        store.close()


def _facts(block: Block) -> dict[str, str]:
    return dict(block.facts)


def test_methods_state_the_default_rules(tested: tuple[Analysis, lemons.Backtest]) -> None:
    facts = _facts(methods(tested[0]))
    assert "min(runtime, Δt_cp / 2 = 30 min) × its GPUs" in facts["Lost goodput, first order"]
    assert (
        "within 60 s of the start of a failed job's requeue" in facts["Lost goodput, second order"]
    )
    assert facts["Crash loops"].startswith("jobs requeued 5 or more times")
    assert facts["Lemon signals"] == "per node: " + ", ".join(lemons.NAMES)
    assert facts["Lemon window"].startswith("the 28 days up to 2024-06-08 00:00 UTC;")
    assert "60 min apart are one outage" in facts["Lemon window"]
    assert "10 single-node attempts" in facts["Lemon window"]
    assert facts["Lemon thresholds"].startswith("median + 3.5 × a robust scale")
    assert "1.4826 × the median absolute deviation" in facts["Lemon thresholds"]
    assert "tickets 2" in facts["Lemon thresholds"]
    assert "single_node_node_failure_rate 0.25" in facts["Lemon thresholds"]
    assert "at least one signal reaches its threshold" in facts["Lemon flags and score"]
    assert "min(value / threshold, 5)" in facts["Lemon flags and score"]


def test_methods_follow_the_settings_in_force(tested: tuple[Analysis, lemons.Backtest]) -> None:
    a = tested[0]
    assert a.lemons is not None
    rule = LemonRule(method="percentile", percentile=0.95, min_signals=2, cap=3.0)
    found = replace(a.lemons, settings=lemons.LemonSettings(window_s=14 * 86_400, rule=rule))
    s = replace(
        a.settings, checkpointing=Checkpointing(ckpt_s=1800.0), goodput_rules=GoodputRules(120, 3)
    )
    facts = _facts(methods(replace(a, lemons=found, settings=s)))
    assert "Δt_cp / 2 = 15 min" in facts["Lost goodput, first order"]
    assert "within 120 s" in facts["Lost goodput, second order"]
    assert facts["Crash loops"].startswith("jobs requeued 3 or more times")
    assert facts["Lemon window"].startswith("the 14 days up to the end of the data;")
    assert facts["Lemon thresholds"].startswith("the 95th percentile of its values")
    assert "at least 2 signals reach their thresholds" in facts["Lemon flags and score"]
    assert "min(value / threshold, 3)" in facts["Lemon flags and score"]


def test_methods_quote_the_lemon_and_goodput_definitions(
    tested: tuple[Analysis, lemons.Backtest],
) -> None:
    details = {d.summary: d.text for d in methods(tested[0]).details}
    assert "First order." in details["Lost goodput"]
    assert "excl_jobid_count" in details["Lemon-node signals"]
    assert "Combination rule" in details["The lemon-node rule"]
    assert "**" not in "".join(details.values()) and "``" not in "".join(details.values())


def test_backtest_section_only_with_a_backtest(tested: tuple[Analysis, lemons.Backtest]) -> None:
    a, b = tested
    ids = [block.id for block in blocks(a, b)]
    assert ids[-2:] == ["lemon-backtest", "methods"]
    assert "lemon-backtest" not in [block.id for block in blocks(a)]
    assert 'id="lemon-backtest"' not in render_html(a)


def test_backtest_section_shows_what_the_backtest_measured(
    tested: tuple[Analysis, lemons.Backtest],
) -> None:
    a, b = tested
    page = render_html(a, backtest=b)
    section = page.split('<section id="lemon-backtest">', 1)[1].split("</section>", 1)[0]
    assert "2024-06-08 00:00 – 2024-06-10 00:00 UTC" in section
    rates = {r["group"]: r for r in b.rates.to_pylist()}
    assert rates["flagged"]["outages"] == 1 and rates["flagged"]["nodes"] == 1
    assert '<td class="text">flagged</td><td class="num">1</td><td class="num">2</td>' in section
    assert "Of the 2 attempts of 64+ GPUs that ended after the as-of time, 0.0% failed" in section
    assert '<td class="text">known lemons</td><td class="num">1</td>' in section
    assert section.count("100.0%") == 2  # precision and recall
    assert "## Lemon backtest" in render_markdown(a, backtest=b)


def test_backtest_section_leaves_out_what_is_missing(
    tested: tuple[Analysis, lemons.Backtest],
) -> None:
    a, b = tested
    empty = replace(b, large_jobs=b.large_jobs | {"attempts": 0}, truth=None)
    block = blocks(a, empty)[-2]
    assert [t.caption.split(" ")[0] for t in block.tables] == ["Outages"]
    assert "No attempt of 64+ GPUs ran and ended after the as-of time." in block.paragraphs
