"""The demo report in real headless Chromium: no errors, no requests, every figure visible,
user-controlled text shown as text; a full-page screenshot goes to tests/artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from markupsafe import escape
from playwright.sync_api import Browser, Dialog, Page, ViewportSize

VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
SCREENSHOT = "report_demo_full.png"


def test_hostile_text_is_escaped_in_the_source(
    demo_report: Path, hostile_texts: tuple[str, ...]
) -> None:
    html = demo_report.read_text(encoding="utf-8")
    for text in hostile_texts:
        assert text not in html
        assert str(escape(text)) in html
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
    assert figures.count() == page.locator("figure").count() >= 6
    for i in range(figures.count()):
        figure = figures.nth(i)
        figure.scroll_into_view_if_needed()
        box = figure.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 100
        assert figure.is_visible()
        assert box["y"] < VIEWPORT["height"] and box["y"] + box["height"] > 0


def test_report_in_chromium(
    browser: Browser, demo_report: Path, hostile_texts: tuple[str, ...], artifacts: Path
) -> None:
    seen: dict[str, list[Any]] = {"errors": [], "requests": [], "dialogs": []}
    page = _open(browser, demo_report, seen)
    try:
        _assert_figures_visible(page)
        page.screenshot(path=str(artifacts / SCREENSHOT), full_page=True)
        for text in hostile_texts:
            assert page.get_by_text(text, exact=True).first.is_visible()
        assert page.locator("img, script, b").count() == 0
    finally:
        page.close()
    assert seen["errors"] == []
    assert seen["dialogs"] == []
    assert seen["requests"] == [demo_report.as_uri()]
    assert (artifacts / SCREENSHOT).stat().st_size > 0
