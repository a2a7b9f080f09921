"""First results first: when a class presses Enter together, every student's translation before anyone's extras.

Why: Streamlit runs each session's script in a thread of one process, so the Python part of 30 page runs shares
one GIL. Started in the same second, the runs take turns and all finish late together: on a 2-core machine the
median student waited 4.5 s for a translation that takes a tenth of a second alone (docs/benchmarks.md,
"Classroom load"). So a page marks two parts:

* ``first_result``: what its student waits for (the page header, the sentence, the search, the translation).
  At most ``slots("first")`` sessions run it at once, in the order they came, so the early ones finish early
  instead of everyone finishing at the end.
* ``extras``: the rest (the search tree, tables, what-ifs, labs). They wait while any session of this process is
  still waiting for its first result, then run at most ``slots("extras")`` at a time, so pages complete one after
  another.

Every wait is bounded (``WAIT_S``): a long or stuck session delays the others by seconds, never forever. A lone
student never waits: nothing else is pending. Slots are per process; replicas (docs/deploy.md) each have their own.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from nmt_core.device import physical_cores

#: The longest a page waits, in seconds: for a first-result slot, for other sessions' first results, for an
#: extras slot. Past it the page runs anyway.
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


_first_results = threading.Condition()
_waiting = 0  # sessions of this process that have not shown their first result yet
_slots = {part: threading.BoundedSemaphore(slots(part)) for part in _ENV}
_in_extras = threading.local()


def waiting() -> int:
    """Sessions of this process still making (or queued to make) their first result."""
    return _waiting


@contextmanager
def first_result() -> Iterator[None]:
    """The part of a page its student waits for: in one of ``slots("first")`` slots, and while any session is
    inside or queued, every session's extras wait."""
    global _waiting
    with _first_results:
        _waiting += 1
    slot = _slots["first"].acquire(timeout=WAIT_S["first"])
    try:
        yield
    finally:
        if slot:
            _slots["first"].release()
        with _first_results:
            _waiting -= 1
            if not _waiting:
                _first_results.notify_all()


@contextmanager
def extras() -> Iterator[None]:
    """The rest of a page: after the class's pending first results, in one of ``slots("extras")`` slots. Says so
    on the page while it waits. A nested ``extras`` runs in its caller's slot."""
    if getattr(_in_extras, "active", False):
        yield
        return
    note = None
    slot = not _waiting and _slots["extras"].acquire(blocking=False)
    if not slot:
        note = st.empty()
        note.caption("Other students' translations go first: the rest of this page follows in a moment.")
        _wait_for_first_results(WAIT_S["first results"])
        slot = _slots["extras"].acquire(timeout=WAIT_S["extras"])
        note.empty()
    _in_extras.active = True
    try:
        yield
    finally:
        _in_extras.active = False
        if slot:
            _slots["extras"].release()


def _wait_for_first_results(limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    with _first_results:
        while _waiting and (left := deadline - time.monotonic()) > 0:
            _first_results.wait(left)
