"""A lexical shortlist: the few thousand target pieces a batch of sentences can plausibly need.

Why: in a beam step of the shipped models most of the arithmetic is the output layer (hidden 256 x 8,000
pieces), plus a log-softmax and a top-k over all 8,000. Production recurrent NMT (Marian, the browser
translation models, OpenNMT's WNMT 2018 system) scores only a *shortlist*: the most frequent target pieces
plus, for each source piece in the batch, the target pieces that most often translate it. The shortlist is
built once from the training data and stored in the checkpoint (``payload["shortlist"]``).

How the lists are built (``build_shortlist``), from the training pairs as piece ids:
  1. ``frequent``: the F most frequent target pieces.
  2. for every source piece s, the M target pieces t with the highest Dice coefficient
     2 c(s, t) / (c(s) + c(t)), where c counts *sentence pairs* (Dice, not p(t | s), so that "the" does not
     top every list: the frequent pieces are already in step 1).
  3. coverage: a training pair whose reference still has a piece outside (frequent + its source pieces'
     lists) adds that piece to the list of the pair's source piece with the highest Dice for it. After this
     pass every training reference is inside its own shortlist (tests/test_fast_mode.py checks exactly
     that), so on the data the model learned from the shortlist removes nothing the reference needs.

Storage is CSR (``offsets`` into ``targets``), a few hundred KB for an 8k vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .tokenizer import BOS_ID, EOS_ID, PAD_ID, UNK_ID

SPECIALS = (PAD_ID, UNK_ID, BOS_ID, EOS_ID)  # always in a shortlist, at positions 0..3 (the search relies on it)
#: Bounds on a stored shortlist (a checkpoint is untrusted input): list sizes and entries per source piece.
MAX_FREQUENT, MAX_PER_SOURCE, MAX_ENTRIES = 50_000, 1_000, 50_000_000


class ShortlistError(ValueError):
    """A stored shortlist cannot be used; one line for the user."""


@dataclass(frozen=True)
class Shortlist:
    """Target candidates for source pieces. ``targets[offsets[s]:offsets[s + 1]]`` are source piece s's."""

    frequent: np.ndarray  # (F,) int64 target ids, most frequent first
    offsets: np.ndarray  # (V_src + 1,) int64
    targets: np.ndarray  # (nnz,) int64 target ids
    tgt_vocab_size: int
    settings: dict[str, Any]  # frequent, per_source, pairs, added_for_coverage

    def for_sources(self, src: torch.Tensor | Sequence[Sequence[int]], extra: Sequence[int] = ()) -> torch.Tensor:
        """The sorted target ids a batch may produce: the specials (first, so they keep their ids as
        positions 0..3), the frequent pieces, every source piece's list and ``extra`` (forced pieces)."""
        rows = src.tolist() if isinstance(src, torch.Tensor) else src
        seen = {int(i) for row in rows for i in row} - {PAD_ID, BOS_ID, EOS_ID}
        parts = [np.asarray(SPECIALS, dtype=np.int64), self.frequent, np.asarray(list(extra), dtype=np.int64)]
        parts += [self.targets[self.offsets[s]:self.offsets[s + 1]] for s in seen if 0 <= s < len(self.offsets) - 1]
        return torch.from_numpy(np.unique(np.concatenate(parts)))

    def to_payload(self) -> dict[str, Any]:
        """Plain tensors and values: readable with ``torch.load(weights_only=True)``."""
        small = torch.int16 if self.tgt_vocab_size <= 2**15 else torch.int32  # 250k entries: 0.5 MB, not 2 MB
        return {"frequent": torch.from_numpy(self.frequent).to(small),
                "offsets": torch.from_numpy(self.offsets).to(torch.int32),
                "targets": torch.from_numpy(self.targets).to(small), "tgt_vocab_size": int(self.tgt_vocab_size),
                "settings": dict(self.settings)}

    @classmethod
    def from_payload(cls, stored: Any, src_vocab_size: int, tgt_vocab_size: int) -> Shortlist:
        """Check a stored shortlist against the model before trusting it (ids in range, offsets monotone,
        sizes bounded); a bad one raises ShortlistError with the reason."""
        if not isinstance(stored, dict):
            raise ShortlistError("the checkpoint's shortlist is not a mapping")
        tensors = [stored.get(k) for k in ("frequent", "offsets", "targets")]
        if not all(isinstance(t, torch.Tensor) and t.dim() == 1 and not t.is_floating_point()
                   and not t.is_complex() and t.dtype != torch.bool for t in tensors):
            raise ShortlistError("the checkpoint's shortlist needs frequent/offsets/targets as 1-d integer tensors")
        if not isinstance(stored.get("settings", {}), dict):
            raise ShortlistError("the checkpoint's shortlist settings are not a mapping")
        frequent, offsets, targets = (t.long().numpy() for t in tensors)
        if type(stored.get("tgt_vocab_size")) is not int or stored["tgt_vocab_size"] != tgt_vocab_size:
            raise ShortlistError(f"the shortlist was built for {stored.get('tgt_vocab_size')} target pieces, "
                                 f"the model has {tgt_vocab_size}")
        if offsets.shape != (src_vocab_size + 1,) or offsets[0] != 0 or np.any(np.diff(offsets) < 0) \
                or offsets[-1] != len(targets):
            raise ShortlistError("the shortlist's offsets do not fit the source vocabulary")
        if len(frequent) > MAX_FREQUENT or len(targets) > MAX_ENTRIES:
            raise ShortlistError(f"the shortlist is too large ({len(frequent)} frequent, {len(targets)} entries)")
        for name, ids in (("frequent", frequent), ("targets", targets)):
            if len(ids) and (ids.min() < 0 or ids.max() >= tgt_vocab_size):
                raise ShortlistError(f"the shortlist's {name} hold ids outside 0..{tgt_vocab_size - 1}")
        return cls(frequent, offsets, targets, tgt_vocab_size, dict(stored.get("settings") or {}))


def _cooccurrence(src: list[list[int]], tgt: list[list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique (source piece, target piece) pairs over sentence pairs with their counts: (s, t, count)."""
    codes = []
    for s_ids, t_ids in zip(src, tgt):
        s_u, t_u = np.unique(np.asarray(s_ids, dtype=np.int64)), np.unique(np.asarray(t_ids, dtype=np.int64))
        codes.append((s_u[:, None] * (1 << 32) + t_u[None, :]).ravel())
    pairs, counts = np.unique(np.concatenate(codes) if codes else np.zeros(0, np.int64), return_counts=True)
    return pairs >> 32, pairs & ((1 << 32) - 1), counts


def _sentence_counts(seqs: list[list[int]], vocab: int) -> np.ndarray:
    """c(x): in how many sentences each piece occurs."""
    counts = np.zeros(vocab, dtype=np.int64)
    for ids in seqs:
        counts[np.unique(np.asarray(ids, dtype=np.int64))] += 1
    return counts


def build_shortlist(src: list[list[int]], tgt: list[list[int]], src_vocab_size: int, tgt_vocab_size: int, *,
                    frequent: int = 200, per_source: int = 10) -> Shortlist:
    """The shortlist of the module docstring from training pairs given as piece ids (no </s>)."""
    if not 0 <= frequent <= MAX_FREQUENT or not 0 <= per_source <= MAX_PER_SOURCE:
        raise ValueError(f"need 0 <= frequent <= {MAX_FREQUENT} and 0 <= per_source <= {MAX_PER_SOURCE}")
    token_counts = np.bincount(np.concatenate([np.asarray(t, np.int64) for t in tgt] or [np.zeros(0, np.int64)]),
                               minlength=tgt_vocab_size)
    top = np.argsort(-token_counts, kind="stable")[:frequent]
    top = top[token_counts[top] > 0]
    s, t, c = _cooccurrence(src, tgt)
    c_src, c_tgt = _sentence_counts(src, src_vocab_size), _sentence_counts(tgt, tgt_vocab_size)
    dice = 2.0 * c / (c_src[s] + c_tgt[t])
    order = np.lexsort((-dice, s))  # by source piece, best Dice first
    s, t, dice = s[order], t[order], dice[order]
    starts = np.searchsorted(s, np.arange(src_vocab_size))
    rank = np.arange(len(s)) - starts[s]
    lists = [set() for _ in range(src_vocab_size)]
    for si, ti in zip(s[rank < per_source].tolist(), t[rank < per_source].tolist()):
        lists[si].add(ti)
    codes = s * (1 << 32) + t
    code_order = np.argsort(codes)
    sorted_codes, sorted_dice = codes[code_order], dice[code_order]

    def pair_dice(si: int, ti: int) -> float:
        at = int(np.searchsorted(sorted_codes, si * (1 << 32) + ti))
        return float(sorted_dice[at]) if at < len(sorted_codes) and sorted_codes[at] == si * (1 << 32) + ti else 0.0

    added = _cover_training_pairs(src, tgt, lists, set(top.tolist()), pair_dice)
    offsets = np.zeros(src_vocab_size + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(x) for x in lists])
    targets = np.asarray([ti for x in lists for ti in sorted(x)], dtype=np.int64)
    settings = {"frequent": int(frequent), "per_source": int(per_source), "pairs": len(src),
                "added_for_coverage": added, "score": "dice"}
    return Shortlist(top.astype(np.int64), offsets, targets, tgt_vocab_size, settings)


def _cover_training_pairs(src: list[list[int]], tgt: list[list[int]], lists: list[set[int]], frequent: set[int],
                          dice: Callable[[int, int], float]) -> int:
    """Step 3 of the module docstring: add each still-missing reference piece to the list of the pair's
    source piece with the highest Dice for it. Returns how many entries were added."""
    added = 0
    for s_ids, t_ids in zip(src, tgt):
        sources = set(s_ids) - {PAD_ID, BOS_ID, EOS_ID}
        covered = frequent.union(*(lists[x] for x in sources)) if sources else frequent
        for ti in set(t_ids) - covered - set(SPECIALS):
            if not sources:
                break  # an empty source has no list to extend (the pair could not be translated anyway)
            best = max(sorted(sources), key=lambda x: dice(x, ti))
            lists[best].add(ti)
            added += 1
    return added


def shortlist_from_text(tokenizers: Any, src_vocab_size: int, tgt_vocab_size: int, src: list[str], tgt: list[str],
                        **sizes: int) -> Shortlist:
    """``build_shortlist`` on sentence pairs as text, tokenised with the model's own tokenizers (a ``TokenizerPair``):
    what the ``shortlist`` command and the bench both need."""
    return build_shortlist([tokenizers.src.encode(s) for s in src], [tokenizers.tgt.encode(t) for t in tgt],
                           src_vocab_size, tgt_vocab_size, **sizes)
