"""Synthetic translation tasks the app can generate on the spot, each with a known right answer.

Every task is deterministic given its seed, gives distinct sources, writes lowercase whitespace
tokens with punctuation as separate tokens, and makes the target a function of the source, so a
model can in principle reach 100 BLEU and every error is the model's.

    from nmt_core import tasks
    corpus = tasks.generate("toy-en-es", size=20_000, seed=0)
    [info.name for info in tasks.list_tasks()]  # ['toy-en-es', 'dates', 'numbers-de', 'recall']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..corpus import ParallelCorpus
from . import dates, numbers_de, recall, toy_en_es
from .base import TaskInfo


@dataclass(frozen=True)
class Task:
    info: TaskInfo
    generate: Callable[..., ParallelCorpus]                   # (size, seed, **options)
    translate: Callable[[str], tuple[str, str]] | None = None  # source -> (target, alignment)


_TASKS: dict[str, Task] = {
    toy_en_es.NAME: Task(toy_en_es.INFO, toy_en_es.generate, toy_en_es.translate),
    dates.NAME: Task(dates.INFO, dates.generate),
    numbers_de.NAME: Task(numbers_de.INFO, numbers_de.generate, numbers_de.translate),
    recall.NAME: Task(recall.INFO, recall.generate, recall.translate),
}


def list_tasks() -> list[TaskInfo]:
    return [t.info for t in _TASKS.values()]


def get_task(name: str) -> Task:
    try:
        return _TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; available: {', '.join(_TASKS)}") from None


def generate(name: str, size: int, seed: int, **options: Any) -> ParallelCorpus:
    """``size`` pairs of task ``name``; ``options`` override the task's defaults (TaskInfo.options)."""
    task = get_task(name)
    unknown = sorted(set(options) - set(task.info.options))
    if unknown:
        raise ValueError(f"task {name!r} has no option(s) {', '.join(unknown)}; "
                         f"options: {', '.join(task.info.options) or 'none'}")
    return task.generate(size, seed, **options)


__all__ = ["Task", "TaskInfo", "generate", "get_task", "list_tasks"]
