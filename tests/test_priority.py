"""First results first (studio/priority.py): extras wait for the class's pending translations, slots bound how
many sessions run each part at once, every wait ends, and a page held back still finishes (AppTest)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from conftest_app import studio_folder
from streamlit.testing.v1 import AppTest

from nmt_core.device import physical_cores
from studio import priority

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fresh_slots(monkeypatch):
    """Slots of known sizes for one test (the module's own are shared by the whole test process)."""

    def make(first: int, extras: int) -> None:
        monkeypatch.setattr(priority, "_slots", {"first": threading.BoundedSemaphore(first),
                                                 "extras": threading.BoundedSemaphore(extras)})
    make(2, 2)
    assert priority.waiting() == 0  # no thread of an earlier test still inside
    return make


def hold(context, entered: threading.Event, release: threading.Event, log: list, name: str) -> threading.Thread:
    """A thread that enters ``context()``, notes when, and stays until ``release`` is set."""

    def body():
        with context():
            log.append((name, time.monotonic()))
            entered.set()
            release.wait(10)
    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread


def test_extras_wait_until_every_first_result_is_shown(fresh_slots):
    log, release = [], threading.Event()
    first_in, extra_in = threading.Event(), threading.Event()
    first = hold(priority.first_result, first_in, release, log, "first")
    assert first_in.wait(5) and priority.waiting() == 1
    extra = hold(priority.extras, extra_in, release, log, "extras")
    assert not extra_in.wait(0.3)  # held back while a translation is pending
    released_at = time.monotonic()
    release.set()
    assert extra_in.wait(5)
    first.join(5)
    extra.join(5)
    assert priority.waiting() == 0 and log[-1][0] == "extras" and log[-1][1] >= released_at


def test_a_lone_student_never_waits(fresh_slots):
    started = time.monotonic()
    with priority.first_result():
        pass
    with priority.extras():
        pass
    assert time.monotonic() - started < 0.1


def test_first_results_take_turns_in_their_slots(fresh_slots):
    fresh_slots(1, 2)
    log, release = [], threading.Event()
    a_in, b_in = threading.Event(), threading.Event()
    a = hold(priority.first_result, a_in, release, log, "a")
    assert a_in.wait(5)
    b = hold(priority.first_result, b_in, release, log, "b")
    assert not b_in.wait(0.3) and priority.waiting() == 2  # queued, and counted: extras wait for it too
    release.set()
    assert b_in.wait(5)
    a.join(5)
    b.join(5)
    assert priority.waiting() == 0


def test_extras_slots_bound_the_pages_finishing_at_once_and_nest(fresh_slots):
    fresh_slots(2, 1)
    log, release = [], threading.Event()
    a_in, b_in = threading.Event(), threading.Event()
    a = hold(priority.extras, a_in, release, log, "a")
    assert a_in.wait(5)
    b = hold(priority.extras, b_in, release, log, "b")
    assert not b_in.wait(0.3)
    release.set()
    assert b_in.wait(5)
    a.join(5)
    b.join(5)
    fresh_slots(2, 1)
    with priority.extras(), priority.extras():  # a helper with its own ``extras`` inside a page's: no deadlock
        pass


def test_every_wait_ends(fresh_slots, monkeypatch):
    monkeypatch.setattr(priority, "WAIT_S", {"first": 0.2, "first results": 0.2, "extras": 0.2})
    fresh_slots(1, 1)
    release = threading.Event()
    first_in, extra_in = threading.Event(), threading.Event()
    stuck_first = hold(priority.first_result, first_in, release, [], "stuck first")
    stuck_extra = hold(priority.extras, extra_in, release, [], "stuck extras")
    assert first_in.wait(5) and extra_in.wait(5)  # extras ran after 0.2 s of waiting
    started = time.monotonic()
    with priority.first_result():  # no first slot: 0.2 s
        pass
    with priority.extras():  # a pending first result, no extras slot: 0.2 s each
        pass
    assert time.monotonic() - started < 2
    release.set()
    stuck_first.join(5)
    stuck_extra.join(5)
    assert priority.waiting() == 0


class Rerun(Exception):
    """What Streamlit raises inside an ``st`` call when the student asked for a rerun meanwhile."""


class PlaceholderThatReruns:
    """A page placeholder whose ``method`` raises ``Rerun``, as Streamlit's calls do while a rerun is pending."""

    method = "caption"

    def caption(self, text):
        if self.method == "caption":
            raise Rerun(text)

    def empty(self):
        if self.method == "empty":
            raise Rerun("after the wait")


@pytest.mark.parametrize("method", ["caption", "empty"])  # during the wait; after it, holding a slot
def test_a_rerun_while_waiting_ends_the_wait_and_frees_every_slot(fresh_slots, monkeypatch, method):
    fresh_slots(2, 1)
    monkeypatch.setattr(PlaceholderThatReruns, "method", method)
    monkeypatch.setattr(priority.st, "empty", PlaceholderThatReruns)
    release, entered = threading.Event(), threading.Event()
    other = hold(priority.first_result, entered, release, [], "another student's translation")
    assert entered.wait(5)
    threading.Timer(0.3, release.set).start()
    started = time.monotonic()
    with pytest.raises(Rerun), priority.extras():
        pass
    assert time.monotonic() - started < 2  # at once, or when the other translation is shown: not after 5 s
    other.join(5)
    assert priority._slots["extras"].acquire(blocking=False)  # not leaked
    priority._slots["extras"].release()
    with priority.extras():  # and this thread is not left marked as inside a part
        assert priority._this_thread.part == "extras"
    assert priority._this_thread.part is None


def test_extras_inside_a_first_result_run_at_once(fresh_slots):
    fresh_slots(1, 1)
    started = time.monotonic()
    with priority.first_result(), priority.extras():  # its own pending first result does not hold it back
        pass
    assert time.monotonic() - started < 0.5


def test_slots_come_from_the_environment_within_bounds(monkeypatch):
    monkeypatch.delenv("NMT_STUDIO_FIRST_SLOTS", raising=False)
    assert priority.slots("first") == physical_cores()
    monkeypatch.setenv("NMT_STUDIO_EXTRA_SLOTS", "3")
    assert priority.slots("extras") == 3
    for bad in ("0", "65", "two", "-1", ""):
        monkeypatch.setenv("NMT_STUDIO_EXTRA_SLOTS", bad)
        with pytest.raises(ValueError, match="NMT_STUDIO_EXTRA_SLOTS must be a whole number from 1 to 64"):
            priority.slots("extras")


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    yield from studio_folder(tmp_path_factory, "priority-studio")


def test_a_translate_page_held_back_still_finishes(studio, monkeypatch):
    monkeypatch.setattr(priority, "WAIT_S", {"first": 1.0, "first results": 1.0, "extras": 1.0})
    release, entered = threading.Event(), threading.Event()
    other_student = hold(priority.first_result, entered, release, [], "another student's translation")
    assert entered.wait(5)
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.run()
        started = time.monotonic()
        at.switch_page("pages/1_Translate.py").run()
        waited = time.monotonic() - started
    finally:
        release.set()
        other_student.join(5)
    assert not at.exception, [e.message for e in at.exception]
    assert at.code[0].value.strip()  # the translation
    assert at.subheader[0].value == "The search tree"  # and the extras, after at most a second of waiting
    assert waited >= 0.9 and priority.NOTE not in [c.value for c in at.caption]  # it waited; the note is gone


def test_the_docs_quote_the_note_the_page_shows():
    first_sentence = priority.NOTE.split(".")[0]
    studio_doc = " ".join((ROOT / "docs" / "studio.md").read_text(encoding="utf-8").split())
    assert f'"{first_sentence}"' in studio_doc
