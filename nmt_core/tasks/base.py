"""What every synthetic task shares: its description (``TaskInfo``) and unique-pair sampling.

Kept apart from ``tasks/__init__.py`` so task modules can import it without a circular import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..corpus import ParallelCorpus

# One draw: (source, target, alignment or None), or None to reject the draw (e.g. too long).
Draw = Callable[[], tuple[str, str, str | None] | None]


@dataclass(frozen=True)
class TaskInfo:
    """How the app describes a task and which defaults it offers."""

    name: str
    description: str
    source_lang: str
    target_lang: str
    examples: list[str]                  # source sentences that make a good demo
    has_alignment: bool                  # generate() fills ParallelCorpus.align
    recommended_tokenizer: str           # "word" | "char"
    options: dict[str, int] = field(default_factory=dict)  # option name -> default value


def check_size(size: int) -> None:
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")


def sample_unique(draw: Draw, size: int, *, with_alignment: bool, max_tries: int | None = None,
                  what: str = "task") -> ParallelCorpus:
    """Call ``draw`` until ``size`` pairs with distinct sources are collected (first draw wins).

    Rejection sampling keeps the distribution of the generator (minus repeats) and stays
    deterministic, because ``draw`` consumes one seeded random stream. ``max_tries`` bounds the work
    when the options allow fewer distinct sources than requested.
    """
    check_size(size)
    tries = max_tries if max_tries is not None else 50 * size + 1000
    seen: set[str] = set()
    src: list[str] = []
    tgt: list[str] = []
    align: list[str] = []
    for _ in range(tries):
        pair = draw()
        if pair is None or pair[0] in seen:
            continue
        seen.add(pair[0])
        src.append(pair[0])
        tgt.append(pair[1])
        align.append(pair[2] or "")
        if len(src) == size:
            return ParallelCorpus(src, tgt, align if with_alignment else None)
    raise ValueError(f"{what}: found only {len(src)} distinct sources in {tries} draws, {size} requested; "
                     f"ask for fewer pairs or widen the options")


def pharaoh(links: list[tuple[int, int]]) -> str:
    """``[(0, 0), (1, 2)]`` -> ``"0-0 1-2"``, sorted by source then target position."""
    return " ".join(f"{i}-{j}" for i, j in sorted(set(links)))
