"""Held-out parts of a corpus: dev and test carved off deterministically, by pair or by sentence.

Why a module of its own: how the held-out parts are drawn decides what a test score means. A random split of
*pairs* is enough for the built-in tasks; real corpora repeat sentences (Tatoeba has seven German translations
of "I'm tired."), and a test source seen in training measures memory, so ``held_out="sentences"`` keeps every
dev and test sentence, on either side, out of training (docs/models.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .corpus import CorpusError, ParallelCorpus, PathLike


@dataclass(frozen=True)
class Splits:
    """Disjoint train/dev/test parts of one corpus, as made by ``split``."""

    train: ParallelCorpus
    dev: ParallelCorpus
    test: ParallelCorpus

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "dev": len(self.dev), "test": len(self.test)}


def _fit_sizes(n: int, dev_size: int, test_size: int) -> tuple[int, int]:
    """Shrink dev/test proportionally so at least one pair is left for training."""
    room = n - 1
    if dev_size + test_size <= room:
        return dev_size, test_size
    total = dev_size + test_size
    dev = max(1 if dev_size else 0, dev_size * room // total)
    test = max(1 if test_size else 0, test_size * room // total)
    while dev + test > room:  # the max(1, ...) floors can overshoot by one
        if dev >= test:
            dev -= 1
        else:
            test -= 1
    return dev, test


def split(corpus: ParallelCorpus, *, dev_size: int, test_size: int, seed: int,
          held_out: str = "pairs") -> Splits:
    """Shuffle with ``seed`` and carve off ``dev_size`` then ``test_size`` pairs; the rest is train.

    ``held_out`` says what must not leak from dev/test into train:

    * ``"pairs"``: no pair is in two splits (enough for the built-in tasks, whose target is a function of
      the source);
    * ``"sentences"``: no *sentence* of a dev or test pair, source or target, compared lower-cased, occurs
      anywhere in another split. Real corpora need this: Tatoeba lists "I'm tired." with seven German
      translations, and a test pair whose source was seen in training measures memory, not translation.
      Pairs that share a sentence are linked into groups (union-find), and whole groups are drawn.

    Deterministic: the same corpus and seed give the same splits on every machine (numpy's PCG64).
    Within each split the pairs keep their corpus order, so the written files are easy to compare
    with the source. A corpus too small for the requested sizes gets proportionally smaller dev/test
    sets (at least one training pair is always kept); fewer than 3 pairs cannot be split.
    """
    n = len(corpus)
    if dev_size < 0 or test_size < 0:
        raise ValueError(f"dev_size and test_size must be >= 0, got {dev_size} and {test_size}")
    if held_out not in ("pairs", "sentences"):
        raise ValueError(f"held_out must be 'pairs' or 'sentences', got {held_out!r}")
    if n < 3:
        raise CorpusError(f"corpus too small to split: {n} pair(s), need at least 3")
    dev_n, test_n = _fit_sizes(n, dev_size, test_size)
    rng = np.random.default_rng(seed)
    if held_out == "pairs":
        order = rng.permutation(n)
        dev_idx, test_idx = order[:dev_n].tolist(), order[dev_n: dev_n + test_n].tolist()
    else:
        dev_idx, test_idx = _draw_groups(sentence_groups(corpus), rng, [dev_n, test_n])
    taken = set(dev_idx) | set(test_idx)
    train_idx = [i for i in range(n) if i not in taken]
    return Splits(corpus.select(train_idx), corpus.select(sorted(dev_idx)), corpus.select(sorted(test_idx)))


def sentence_groups(corpus: ParallelCorpus) -> list[list[int]]:
    """Pair indices grouped so that two pairs sharing a source or a target sentence (lower-cased) are in
    the same group: the connected components of the "shares a sentence" graph, found by union-find."""
    parent = list(range(len(corpus)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for side in (corpus.src, corpus.tgt):
        first: dict[str, int] = {}
        for i, sentence in enumerate(side):
            j = first.setdefault(sentence.lower(), i)
            if j != i:
                ri, rj = find(i), find(j)
                if ri != rj:
                    parent[ri] = rj
    groups: dict[int, list[int]] = {}
    for i in range(len(corpus)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def _draw_groups(groups: list[list[int]], rng: np.random.Generator, sizes: list[int]) -> list[list[int]]:
    """Fill each of ``sizes`` with whole groups taken in a random order; a group larger than what is left to
    fill is passed over (it stays in train), so every part gets exactly its size when enough groups exist."""
    parts: list[list[int]] = [[] for _ in sizes]
    k = 0
    for g in rng.permutation(len(groups)).tolist():
        while k < len(sizes) and len(parts[k]) >= sizes[k]:
            k += 1
        if k == len(sizes):
            break
        group = groups[g]
        if len(parts[k]) + len(group) <= sizes[k]:
            parts[k].extend(group)
    return parts


def leaked_sentences(train: ParallelCorpus, held: ParallelCorpus) -> int:
    """How many pairs of ``held`` share a source or target sentence (lower-cased) with ``train``."""
    src, tgt = {s.lower() for s in train.src}, {t.lower() for t in train.tgt}
    return sum(s.lower() in src or t.lower() in tgt for s, t in zip(held.src, held.tgt, strict=True))


def without_sentences_of(train: ParallelCorpus, *held: ParallelCorpus) -> tuple[ParallelCorpus, int]:
    """``train`` without the pairs that share a source or target sentence (lower-cased) with any of ``held``
    (given dev/test files); returns the kept corpus and how many pairs were removed."""
    src = {s.lower() for part in held for s in part.src}
    tgt = {t.lower() for part in held for t in part.tgt}
    keep = [i for i, (s, t) in enumerate(zip(train.src, train.tgt, strict=True))
            if s.lower() not in src and t.lower() not in tgt]
    return train.select(keep), len(train) - len(keep)


def _write_lines(path: Path, lines: list[str]) -> None:
    text = "\n".join(lines)
    if text.count("\n") != len(lines) - 1 or "\r" in text:
        raise CorpusError(f"{path}: a sentence contains a line break; run clean() before writing",
                          path=path)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text + "\n" if lines else "")


def write_splits(splits: Splits, out_dir: PathLike) -> list[Path]:
    """Write ``{train,dev,test}.{src,tgt}`` (and ``.align`` when known) as UTF-8, one sentence per
    line; returns the paths written. ``read_parallel`` reads each split back."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in ("train", "dev", "test"):
        part: ParallelCorpus = getattr(splits, name)
        files = {"src": part.src, "tgt": part.tgt}
        if part.align is not None:
            files["align"] = part.align
        for ext, lines in files.items():
            path = out / f"{name}.{ext}"
            _write_lines(path, lines)
            written.append(path)
    return written
