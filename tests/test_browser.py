"""End to end in a real Chromium: translate, watch the beam, read attention, gates and gradients, train.

Runs the studio with ``streamlit run`` on a free port (its own checkpoints and runs folders, see
``conftest_app``) and drives Debian's /usr/bin/chromium through Playwright. Screenshots go to artifacts/.
Without Chromium the test is skipped, except under CI (``CI`` set), where it fails: CI must not go green
by skipping the only test that looks at the real page.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest_app import build_studio_env, kill_runs

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROME_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def _need_browser() -> None:
    problem = None
    if not Path(CHROMIUM).exists():
        problem = f"{CHROMIUM} is missing (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "playwright is not installed"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"browser test cannot run under CI: {problem}")
        pytest.skip(problem)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def studio_url(tmp_path_factory):
    _need_browser()
    folder = tmp_path_factory.mktemp("browser-studio")
    env = {**os.environ, **build_studio_env(folder), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    port = _free_port()
    log = open(folder / "streamlit.log", "wb")  # noqa: SIM115  (held by the server for the whole module)
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.address", "127.0.0.1", "--server.port", str(port),
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            pytest.fail(f"streamlit did not start: {(folder / 'streamlit.log').read_text()[-2000:]}")
        time.sleep(0.3)
    yield url
    kill_runs(folder / "runs")
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=15)
    log.close()


@pytest.fixture
def page(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # the first page load imports torch and loads the model
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM,
                                                    headless=True, args=CHROME_ARGS,
                                                    viewport={"width": 1400, "height": 1600})
        page = ctx.pages[0] if ctx.pages else ctx.new_page()
        page.set_default_timeout(60_000)
        yield page
        ctx.close()


def settle(page) -> None:
    """Wait until the script has run: give the rerun a moment to start, then wait for idle."""
    time.sleep(0.4)
    page.wait_for_selector(IDLE)


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]').first.inner_text()


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def test_translate_inspect_and_train(studio_url, page):
    from playwright.sync_api import expect

    log("start")
    page.goto(f"{studio_url}/Translate")
    expect(page.get_by_role("heading", name="Translate & beam search")).to_be_visible()
    settle(page)
    box = page.get_by_label("Sentence to translate")
    box.fill("the big red car is in the garden")
    box.press("Control+Enter")
    settle(page)
    expect(page.locator('[data-testid="stCode"]').first).not_to_be_empty()
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    expect(charts.first.locator("svg, canvas").first).to_be_visible()  # the beam tree drew
    expect(page.get_by_text("Attention while writing hypothesis #1")).to_be_visible()
    expect(charts.nth(1)).to_be_visible()  # beam tree + attention heatmap
    no_exception(page)
    assert "s=the+big+red+car+is+in+the+garden" in page.url  # the view is in the link (default values are not)
    shot(page, "translate")
    log("translated")

    # step the beam: Play walks the search from step 0, one step per tick; Pause stops it part-way
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Search step").locator("input")
    last = int(slider.get_attribute("max"))
    assert int(slider.input_value()) == last  # a new search is shown whole
    page.get_by_role("button", name="Play").click()
    try:
        expect(page.get_by_role("button", name="Pause")).to_be_visible(timeout=15_000)
    except AssertionError:  # seen once in ~25 full-suite runs under load: the click changed nothing; a user clicks
        log("Play did not start; clicking it once more")  # again, and so does the test (twice would fail)
        page.get_by_role("button", name="Play").click()
        expect(page.get_by_role("button", name="Pause")).to_be_visible()
    expect(slider).to_have_value("2")
    page.get_by_role("button", name="Pause").click()
    settle(page)
    assert 2 <= int(slider.input_value()) < last
    no_exception(page)
    log("played")
    page.locator('[data-testid="stVegaLiteChart"]').first.screenshot(path=str(ARTIFACTS / "beam-tree.png"))

    # a shared link reproduces the view; locked=1 hides the controls
    page.goto(f"{studio_url}/Translate?s=the+red+car&beam_size=2&n=2&locked=1")
    expect(page.get_by_text("Sentence: the red car")).to_be_visible()
    settle(page)
    assert page.get_by_label("Sentence to translate").count() == 0
    no_exception(page)
    log("locked link")

    page.goto(f"{studio_url}/Gates?s=the+small+dogs+eat+the+green+apples")
    expect(page.get_by_role("heading", name="Gates")).to_be_visible()
    settle(page)
    expect(page.locator(".katex").first).to_be_visible()
    expect(page.locator('[data-testid="stVegaLiteChart"]:visible').nth(2)).to_be_visible()  # heatmap, unit, saturation
    no_exception(page)
    shot(page, "gates")
    log("gates")

    page.get_by_role("link", name="Gradient flow").click()
    expect(page.get_by_role("heading", name="Gradient flow")).to_be_visible()
    settle(page)
    assert page.get_by_label("Sentence to translate").input_value() == "the small dogs eat the green apples"
    expect(page.locator('[data-testid="stVegaLiteChart"]').nth(1)).to_be_visible()
    no_exception(page)
    shot(page, "gradients")

    log("inspection pages done")
    _train(page, studio_url)


def _train(page, studio_url: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{studio_url}/Train")
    expect(page.get_by_role("heading", name="New training run")).to_be_visible()
    settle(page)
    for label, value in [("Run name", "browser-run"), ("Sentence pairs to generate", "300"),
                         ("Held-out dev sentences", "30"), ("Embedding size", "8"), ("Hidden size", "8"),
                         ("Steps", "100000"), ("Validate every (steps)", "40"), ("Batch size", "16")]:
        page.get_by_label(label, exact=True).fill(value)  # committed when the next field takes the focus
    page.get_by_label("Run name", exact=True).click()
    settle(page)
    log("form filled")
    page.get_by_role("button", name="Start training").click()
    progress = page.locator('[data-testid="stProgress"]')
    expect(progress).to_contain_text("browser-run", timeout=30_000)

    def step() -> int:
        match = re.search(r"step (\d+)/", progress.inner_text())
        return int(match.group(1)) if match else -1

    deadline = time.time() + 90
    while step() <= 0 and time.time() < deadline:
        time.sleep(1)
    first = step()
    log(f"training at step {first}")
    assert first > 0, progress.inner_text()
    expect(page.locator('[data-testid="stVegaLiteChart"]').first).to_be_visible()
    while step() <= first and time.time() < deadline:
        time.sleep(1)
    assert step() > first, "the progress did not move"  # the curves are redrawn from the same metrics
    no_exception(page)
    shot(page, "train")
    page.get_by_role("button", name="Stop (saves first)").click()
    expect(progress).to_contain_text("stopped", timeout=60_000)
    log("stopped")
    no_exception(page)


TWELVE_WORDS = "the small dogs eat the green apples and the big cats drink water"


@pytest.mark.parametrize("width", [1024, 1920])
def test_the_beam_tree_fits_and_labels_follow_the_sentence(studio_url, page, width):
    """A 12-word sentence at k=12: the search tree is drawn inside its column (never cut off: it fits the
    column's width), and a new sentence leaves no label of the old one in the hypothesis picker."""
    from playwright.sync_api import expect

    page.set_viewport_size({"width": width, "height": 1200})
    page.goto(f"{studio_url}/Translate?s={TWELVE_WORDS.replace(' ', '+')}&beam_size=12&n=5")
    expect(page.get_by_role("heading", name="The search tree")).to_be_visible()
    settle(page)
    no_exception(page)
    column = page.locator('[data-testid="stMainBlockContainer"]').bounding_box()
    tree = page.locator('[data-testid="stVegaLiteChart"]').first
    tree.scroll_into_view_if_needed()
    drawn = tree.locator("canvas, svg").first.bounding_box()
    assert drawn["x"] >= column["x"] - 1 and drawn["x"] + drawn["width"] <= column["x"] + column["width"] + 1, \
        (drawn, column)
    assert drawn["x"] + drawn["width"] <= width
    shot(page, f"beam-tree-{width}")
    picker = page.get_by_label("Show the attention of hypothesis")
    old_best = page.locator('[data-testid="stCode"]').first.inner_text().strip()
    page.get_by_label("Sentence to translate").fill("she is tired")
    page.get_by_label("Sentence to translate").press("Control+Enter")
    settle(page)
    new_best = page.locator('[data-testid="stCode"]').first.inner_text().strip()
    assert new_best != old_best
    expect(page.get_by_text(f"#1: {new_best}", exact=True)).to_be_visible()
    expect(picker).to_have_value("#1")
    assert old_best not in page.locator('[data-testid="stMain"]').inner_text()  # no label of the old sentence


def test_a_shared_link_keeps_its_values_in_the_address(studio_url, page):
    """A link's value equal to the widget's own default (the slider's minimum, a toggle off) must stay in the
    address, or a reload or a re-shared link silently gives the page's default; a value brought inside its bounds
    shows a warning and reaches the address at the next click."""
    page.goto(f"{studio_url}/Translate?beam_size=1&s=the+red+car")
    page.wait_for_selector("h1")
    settle(page)
    no_exception(page)
    assert "beam_size=1" in page.url
    page.goto(f"{studio_url}/Translate?beam_size=99999&s=the+red+car")
    page.wait_for_selector("h1")
    settle(page)
    warning = page.locator('[data-testid="stAlertContentWarning"]').first.inner_text()
    assert "99999 is outside 1..12; using 12" in warning
    box = page.locator("textarea").first
    box.fill("the blue car")
    box.press("Control+Enter")
    settle(page)
    no_exception(page)
    assert "beam_size=12" in page.url
