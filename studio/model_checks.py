"""Whether each checkpoint the studio lists can be loaded: checked once per version of the file, for the whole
server.

Why its own module, and why single-flight: every page lists the models on every rerun, so the answer must be
cached; and when a class opens the studio at once, 30 sessions ask about the same files in the same instant. An
``lru_cache`` alone lets every one of them miss and check every file again (measured: 30 first page loads took
25-28 s, docs/benchmarks.md, "Classroom load"). Here the first session to ask about a file checks it and the
others wait for that one answer; a session asking about another file, or about an answer already known, does
not wait.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

from nmt_core.checkpoint import CheckpointError, validate_checkpoint

_KEPT = 256  # answers kept: files listed by one server (shipped models, runs, uploads), with room to spare
_answers: dict[tuple[str, float, int], Future] = {}
_guard = threading.Lock()  # held only to look up or add an entry, never during a check


def problem(path: str, mtime: float, size: int) -> str | None:
    """Why the checkpoint at ``path`` (this ``mtime`` and ``size``) cannot be loaded, or None: the core's full
    validation (``validate_checkpoint``: fields, config bounds, tokenizers, every weight's name and shape)."""
    key = (path, mtime, size)
    with _guard:
        answer = _answers.get(key)
        mine = answer is None
        if mine:
            if len(_answers) >= _KEPT:  # forget the oldest answers (dicts keep insertion order)
                for old in list(_answers)[: _KEPT // 4]:
                    _answers.pop(old)
            answer = _answers[key] = Future()
    if mine:
        try:
            validate_checkpoint(path)
            answer.set_result(None)
        except CheckpointError as err:
            answer.set_result(str(err))
        except BaseException as err:  # not an answer about the file: let the next caller try again
            with _guard:
                _answers.pop(key, None)
            answer.set_exception(err)
    return answer.result()


def forget() -> None:
    """Drop every answer (tests)."""
    with _guard:
        _answers.clear()
