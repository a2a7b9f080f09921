"""The explainers in a real Chromium: one hover lights up the linked views on the studio's page, and an exported
lesson file works from disk with the network off (charts drawn, hover linked, beam search and cell playable).

Same rules as ``test_browser.py`` (whose server and page fixtures this module reuses): skipped without Chromium,
failed under CI.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from test_browser import CHROME_ARGS, CHROMIUM, _need_browser, no_exception, page, settle, shot, studio_url

pytestmark = pytest.mark.browser
__all__ = ["page", "studio_url"]  # fixtures, imported to be shared

ROOT = Path(__file__).resolve().parents[1]
VERMILLION = np.array([0xD5, 0x5E, 0x00])  # the target selection's outline (viz.linked.TARGET_COLOUR)


def vermillion(png: bytes) -> np.ndarray:
    """Where a screenshot is vermillion (a boolean mask)."""
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return np.abs(pixels - VERMILLION).sum(axis=2) < 40


def test_hovering_a_translated_word_outlines_it_in_every_linked_view(studio_url, page):
    """Sweep the pointer along the translation strip until a token is hit: the vermillion that appears (the
    strips and the beam tree's best path are vermillion already) forms four separate bands of the figure: the
    token's strip cell, its attention and salience rows, its decoder-state row and its beam-tree node."""
    page.set_viewport_size({"width": 1400, "height": 2200})
    page.goto(f"{studio_url}/Linked_views?s=the+red+car+is+fast")
    settle(page)
    no_exception(page)
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    before = vermillion(chart.screenshot())
    new = None
    for y in range(int(box["y"]) + 110, int(box["y"]) + 220, 8):  # the translation strip, under the source's
        for x in range(int(box["x"]) + 90, int(box["x"]) + 400, 16):
            page.mouse.move(x, y)
            page.wait_for_timeout(40)
            appeared = vermillion(chart.screenshot()) & ~before
            if appeared.sum() > 500:
                new = appeared
                break
        if new is not None:
            break
    assert new is not None, "no hover position outlined anything"
    shot(page, "linked-views-hover")
    rows = np.where(new.any(axis=1))[0]
    bands = 1 + int((np.diff(rows) > 20).sum())  # separate vertical runs of newly outlined rows
    assert bands >= 4, f"the hover outlined {bands} bands of the figure"


@pytest.fixture(scope="module")
def lesson_file(tmp_path_factory) -> Path:
    from nmt_core.lesson import lesson_html, make_lesson
    from nmt_core.translator import Translator

    _need_browser()
    out = tmp_path_factory.mktemp("lesson") / "lesson.html"
    translator = Translator.from_path(ROOT / "checkpoints" / "toy-en-es.pt", "cpu")
    out.write_text(lesson_html(make_lesson(translator, "the red car is fast", ig_steps=4)), encoding="utf-8")
    return out


def test_an_exported_lesson_works_from_disk_with_the_network_off(lesson_file):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROME_ARGS)
        context = browser.new_context(offline=True, viewport={"width": 1400, "height": 1000})
        requests, errors = [], []
        context.on("request", lambda r: requests.append(r.url))
        lesson = context.new_page()
        lesson.on("pageerror", lambda e: errors.append(str(e)))
        lesson.goto(lesson_file.as_uri())
        lesson.wait_for_function("window.lessonViews && Object.keys(window.lessonViews).length >= 4", timeout=60_000)
        assert sorted(lesson.evaluate("Object.keys(window.lessonViews)")) == ["attribution", "beam", "coverage",
                                                                              "linked"]
        assert lesson.evaluate("document.querySelectorAll('#linked svg path, #linked svg text').length") > 100
        # hover "coche" in the translation strip: the target selection holds it and every view outlines it
        word = lesson.locator("#linked svg text", has_text="coche").first
        area = word.bounding_box()
        lesson.mouse.move(area["x"] + area["width"] / 2, area["y"] + area["height"] / 2)
        lesson.wait_for_timeout(300)
        assert lesson.evaluate("window.lessonViews.linked.data('target_store').length") == 1
        outlined = lesson.evaluate("document.querySelectorAll('#linked path[stroke=\"#D55E00\"]').length")
        assert outlined >= 5, outlined
        lesson.screenshot(path=str(lesson_file.with_suffix(".png")))
        # the beam search plays: from step 0 (a different drawing from the whole tree it opens on) to the last
        last = int(lesson.locator("#beam input[type=range]").get_attribute("max"))
        drawn = "document.querySelector('#beam svg').innerHTML"
        whole = lesson.evaluate(drawn)
        lesson.locator("button.play[data-view=beam]").click()
        lesson.wait_for_function("window.lessonViews.beam.signal('beam_step') <= 1", timeout=10_000)
        assert lesson.evaluate(drawn) != whole
        lesson.wait_for_function(f"window.lessonViews.beam.signal('beam_step') === {last}", timeout=30_000)
        assert lesson.evaluate(drawn) == whole
        # the cell player (its own script inside an iframe) steps forward
        cell = lesson.frame_locator("iframe[title='cell player']")
        shown = cell.locator(".frame:visible").first.inner_text()
        cell.locator("#next").click()
        assert cell.locator(".frame:visible").first.inner_text() != shown
        assert not errors, errors
        assert [u for u in requests if not u.startswith("file:")] == []
        browser.close()
