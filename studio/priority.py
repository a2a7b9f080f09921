"""First results first: when a class presses Enter together, every student's translation before anyone's extras.

Why: Streamlit runs each session's script in a thread of one process, so the Python part of 30 page runs shares
one GIL. Started in the same second, the runs take turns and all finish late together: on a 2-core machine the
median student waited 4.5 s for a translation that takes a tenth of a second alone (docs/benchmarks.md,
"Classroom load"). So a page marks two parts:

* ``first_result``: what its student waits for (the page header, the sentence, the search, the translation).
  At most ``slots("first")`` sessions run it at once, roughly in the order they came, so the early ones finish
  early instead of everyone finishing at the end.
* ``extras``: the rest (the search tree, tables, what-ifs, labs). They wait while any session of this process is
  still waiting for its first result, then run at most ``slots("extras")`` at a time, so pages complete one after
  another.

Every wait is bounded (``WAIT_S``; past a bound the page runs without a slot): a long or stuck session delays the
others by seconds, never forever. A page whose extras wait says so (``NOTE``), and a rerun or stop its student
asks for meanwhile takes effect at once. A lone student never waits: nothing else is pending. Slots are per
process; replicas (docs/deploy.md) each have their own.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from nmt_core.device import physical_cores

#: The longest a page waits, in seconds: for a first-result slot, for other sessions' first results, for an
#: extras slot. Past each the page goes on anyway (without the slot).
WAIT_S = {"first": 5.0, "first results": 5.0, "extras": 30.0}
_ENV = {"first": "NMT_STUDIO_FIRST_SLOTS", "extras": "NMT_STUDIO_EXTRA_SLOTS"}


def slots(part: str) -> int:
    """How many sessions may run ``part`` ("first" or "extras") at once: the environment variable of ``_ENV``
    (1–64), else this process's CPU cores (measured on 2 cores: docs/benchmarks.md, "Classroom load")."""
    raw = os.environ.get(_ENV[part])
    if raw is None:
        return physical_cores()
    if not raw.strip().isdigit() or not 1 <= int(raw) <= 64:
        raise ValueError(f"{_ENV[part]} must be a whole number from 1 to 64, not {raw!r}")
    return int(raw)


_progress = threading.Condition()  # notified when the last first result is shown and when an extras slot frees
_waiting = 0  # sessions of this process that have not shown their first result yet
_slots = {part: threading.BoundedSemaphore(slots(part)) for part in _ENV}
_this_thread = threading.local()  # which part this script thread is in
#: What a page shows while its extras wait, refreshed every ``_TICK_S``: each refresh is a Streamlit call, where a
#: rerun or stop the student asked for meanwhile takes effect at once.
NOTE = "A busy class: other students' pages go first. The rest of this one follows in a moment."
_TICK_S = 0.25


def waiting() -> int:
    """Sessions of this process still making (or queued to make) their first result."""
    return _waiting


@contextmanager
def first_result() -> Iterator[None]:
    """The part of a page its student waits for: in one of ``slots("first")`` slots, and while any session is
    inside or queued, every session's extras wait. Its own wait shows nothing (the page has not started), so a
    rerun asked for meanwhile waits for it: at most ``WAIT_S["first"]``."""
    global _waiting
    with _progress:
        _waiting += 1
    slot = False
    try:
        slot = _slots["first"].acquire(timeout=WAIT_S["first"])
        _this_thread.part = "first"
        yield
    finally:
        _this_thread.part = None
        if slot:
            _slots["first"].release()
        with _progress:
            _waiting -= 1
            if not _waiting:
                _progress.notify_all()


@contextmanager
def extras() -> Iterator[None]:
    """The rest of a page: after the class's pending first results, in one of ``slots("extras")`` slots, with
    ``NOTE`` on the page while it waits. Inside another ``extras`` or a ``first_result`` of the same script it
    runs at once, as part of that."""
    if getattr(_this_thread, "part", None) is not None:
        yield
        return
    note = st.empty()  # always, so the elements after it keep their places whether or not it waited
    slot = False
    try:
        slot = not _waiting and _slots["extras"].acquire(blocking=False)
        if not slot:
            _wait(lambda: not _waiting, WAIT_S["first results"], note)
            slot = _wait(lambda: _slots["extras"].acquire(blocking=False), WAIT_S["extras"], note)
            note.empty()
        _this_thread.part = "extras"
        yield
    finally:
        _this_thread.part = None
        if slot:
            _slots["extras"].release()
            with _progress:  # wake the pages waiting for a slot now, not at their next tick
                _progress.notify_all()


def _wait(done: Callable[[], bool], limit_s: float, note: Any) -> bool:
    """Until ``done()`` or ``limit_s``, refreshing ``note`` every tick (where a rerun or stop takes effect); returns
    whether ``done()`` came true."""
    deadline = time.monotonic() + limit_s
    while not done():
        if time.monotonic() >= deadline:
            return False
        note.caption(NOTE)
        with _progress:
            _progress.wait(min(_TICK_S, max(0.0, deadline - time.monotonic())))
    return True
