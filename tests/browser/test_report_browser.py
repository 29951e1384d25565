"""The demo report in real headless Chromium: no errors, no requests, every figure visible,
user-controlled text shown as text; screenshots (the full page, the failures and ETTR
sections) go to tests/artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from markupsafe import escape
from playwright.sync_api import Browser, Dialog, Page, ViewportSize

VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
SCREENSHOT = "report_demo_full.png"
SECTION_SCREENSHOTS = {
    "failure-causes": "report_demo_failures.png",
    "ettr-runs": "report_demo_ettr_runs.png",
    "ettr-design": "report_demo_ettr_design.png",
    "methods": "report_demo_methods.png",
}
FIGURES = [
    "fig3_job_states",
    "fig4_failure_causes",
    "fig5_weekly_episodes",
    "fig6_job_sizes",
    "fig7_mttf_by_size",
    "fig8_lost_goodput",
    "fig9_ettr_by_size",
    "fig10_ettr_design_space",
    "fig11_lemon_signals",
    "fig_node_episodes",
]
LARGEST_FAILURES = "interrupted attempts with the most GPU time"
PHONE: ViewportSize = {"width": 412, "height": 900}
# captions of the tables and figures (folded ones unfolded) wider than the page's column
WIDER_THAN_COLUMN = """() => {
  document.querySelectorAll("details").forEach((d) => { d.open = true; });
  const main = document.querySelector("main");
  const style = getComputedStyle(main);
  const box = main.getBoundingClientRect();
  const left = box.left + parseFloat(style.paddingLeft);
  const right = box.right - parseFloat(style.paddingRight);
  return Array.from(main.querySelectorAll("table, figure"))
    .filter((e) => {
      const r = e.getBoundingClientRect();
      return r.left < left - 0.5 || r.right > right + 0.5;
    })
    .map((e) => (e.querySelector("caption, figcaption") || e).textContent.slice(0, 80));
}"""
SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth - window.innerWidth"


def test_hostile_text_is_escaped_in_the_source(
    demo_report: Path, hostile_texts: tuple[str, ...], hostile_job_names: tuple[str, ...]
) -> None:
    html = demo_report.read_text(encoding="utf-8")
    for text in hostile_texts:
        assert text not in html
        assert str(escape(text)) in html
    failures = html.split(LARGEST_FAILURES, 1)[1].split("</table>", 1)[0]
    for name in hostile_job_names:
        assert f'<td class="text">{escape(name)}</td>' in failures
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()


def _open(browser: Browser, path: Path, seen: dict[str, list[Any]]) -> Page:
    page = browser.new_page(viewport=VIEWPORT)
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: seen["requests"].append(r.url))

    def on_dialog(dialog: Dialog) -> None:
        seen["dialogs"].append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(path.as_uri(), wait_until="load")
    return page


def _assert_figures_visible(page: Page) -> None:
    figures = page.locator("figure svg")
    ids = [page.locator("figure").nth(i).get_attribute("id") for i in range(figures.count())]
    assert sorted(ids) == sorted(FIGURES)
    assert page.locator("figure").count() == len(FIGURES)
    for i in range(figures.count()):
        figure = figures.nth(i)
        figure.scroll_into_view_if_needed()
        box = figure.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 100
        assert figure.is_visible()
        assert box["y"] < VIEWPORT["height"] and box["y"] + box["height"] > 0


def test_report_in_chromium(
    browser: Browser,
    demo_report: Path,
    hostile_texts: tuple[str, ...],
    hostile_job_names: tuple[str, ...],
    artifacts: Path,
) -> None:
    seen: dict[str, list[Any]] = {"errors": [], "requests": [], "dialogs": []}
    page = _open(browser, demo_report, seen)
    try:
        _assert_figures_visible(page)
        page.screenshot(path=str(artifacts / SCREENSHOT), full_page=True)
        for section, name in SECTION_SCREENSHOTS.items():
            page.locator(f"#{section}").screenshot(path=str(artifacts / name))
        for text in hostile_texts:
            assert page.get_by_text(text, exact=True).first.is_visible()
        failures = page.locator("table", has_text=LARGEST_FAILURES)
        for name in hostile_job_names:
            assert failures.get_by_role("cell", name=name, exact=True).is_visible()
        assert page.locator("img, script, b").count() == 0
    finally:
        page.close()
    assert seen["errors"] == []
    assert seen["dialogs"] == []
    assert seen["requests"] == [demo_report.as_uri()]
    for name in (SCREENSHOT, *SECTION_SCREENSHOTS.values()):
        assert (artifacts / name).stat().st_size > 0


def test_tables_and_figures_fit_the_page(browser: Browser, demo_report: Path) -> None:
    """At desktop width every table and figure (long check names, markup in cells) fits the
    page's column; on a phone a wide table scrolls in its own box, never the page."""
    page = browser.new_page(viewport=VIEWPORT)
    try:
        page.goto(demo_report.as_uri(), wait_until="load")
        assert page.locator("table", has_text="Checks by first appearance").count() == 1
        assert page.evaluate(WIDER_THAN_COLUMN) == []
        assert page.evaluate(SIDEWAYS_SCROLL) == 0
        page.set_viewport_size(PHONE)
        assert page.evaluate(SIDEWAYS_SCROLL) == 0
    finally:
        page.close()
