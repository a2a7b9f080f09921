"""recall: output the FIRST symbol of a sequence; the vanishing-gradient lab's long-range dependency.

The source is ``lag + 1`` symbols drawn uniformly from a small alphabet ("a", "b", ...), the target is
the first of them, so the only useful signal sits ``lag`` steps before the end of the input. A plain
RNN encoder's gradient from that signal shrinks roughly geometrically with ``lag``, an LSTM's much less:
raising ``lag`` makes the difference visible. Chance accuracy is ``1 / alphabet_size``.

``recall_arrays`` gives the same kind of data as integer arrays for training loops that skip the
tokenizer; ``generate`` gives distinct text pairs for the ordinary pipeline.
"""

from __future__ import annotations

import string

import numpy as np

from ..corpus import ParallelCorpus
from .base import TaskInfo, check_size

NAME = "recall"
MAX_ALPHABET = 26


def _check(lag: int, alphabet_size: int) -> None:
    if lag < 0:
        raise ValueError(f"lag must be >= 0, got {lag}")
    if not 2 <= alphabet_size <= MAX_ALPHABET:
        raise ValueError(f"alphabet_size must be in 2..{MAX_ALPHABET}, got {alphabet_size}")


def symbols(alphabet_size: int) -> list[str]:
    """The alphabet as tokens: "a", "b", ... (index i <-> symbol i in ``recall_arrays``)."""
    return list(string.ascii_lowercase[:alphabet_size])


def recall_arrays(n: int, lag: int = 10, alphabet_size: int = 8,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``inputs`` int64 (n, lag + 1) uniform in [0, alphabet_size) and ``targets`` int64 (n,) =
    ``inputs[:, 0]``. Rows may repeat (this is for fast lab training, not for a test set)."""
    _check(lag, alphabet_size)
    rng = np.random.default_rng(seed)
    inputs = rng.integers(0, alphabet_size, size=(n, lag + 1), dtype=np.int64)
    return inputs, inputs[:, 0].copy()


def translate(source: str) -> tuple[str, str]:
    """The target and alignment of a recall source: its first token, aligned 0-0."""
    toks = source.split()
    if not toks:
        raise ValueError("empty recall source")
    return toks[0], "0-0"


INFO = TaskInfo(
    name=NAME,
    description="Copy the first of lag + 1 random symbols: a long-range dependency for comparing RNN "
                "and LSTM gradients through time.",
    source_lang="symbols",
    target_lang="symbols",
    examples=["c a f b d h e g a b c", "a b c d e f g h a b c", "h h h h h h h h h h a"],
    has_alignment=True,
    recommended_tokenizer="word",
    options={"lag": 10, "alphabet_size": 8},
)


def generate(size: int, seed: int, *, lag: int = 10, alphabet_size: int = 8) -> ParallelCorpus:
    """``size`` pairs with distinct sources; raises ValueError if fewer than ``size`` exist."""
    check_size(size)
    _check(lag, alphabet_size)
    if alphabet_size ** (lag + 1) < size:
        raise ValueError(f"only {alphabet_size ** (lag + 1)} distinct sequences of {lag + 1} symbols "
                         f"over {alphabet_size}, {size} requested")
    rng = np.random.default_rng(seed)
    alphabet = np.array(symbols(alphabet_size))
    seen: set[str] = set()
    src: list[str] = []
    for _ in range(1000):
        batch = rng.integers(0, alphabet_size, size=(size, lag + 1))
        for row in alphabet[batch].tolist():
            line = " ".join(row)
            if line not in seen:
                seen.add(line)
                src.append(line)
                if len(src) == size:
                    return ParallelCorpus(src, [s[0] for s in src], ["0-0"] * size)
    raise ValueError(f"{NAME}: could not draw {size} distinct sequences; ask for fewer pairs")
