"""Attention as soft alignment, and how well it matches gold word alignments.

``attention_matrix`` teacher-forces the model on a target (the reference or any hypothesis) and keeps
each step's weights: row t is the distribution over source positions while predicting target token t.

Alignment quality (Och & Ney 2003, "A systematic comparison of various statistical alignment models"):
with predicted links A, sure gold links S and possible gold links P (S ⊆ P),

    precision = |A ∩ P| / |A|      recall = |A ∩ S| / |S|      AER = 1 − (|A ∩ S| + |A ∩ P|) / (|A| + |S|)

Links are (source word, target word) pairs of 0-based whitespace-token positions, the Pharaoh
``"s-t"`` convention of the built-in tasks' gold alignments.

Pieces vs words: a subword tokenizer may split a word into several pieces, while gold alignments
count whitespace words. ``AttentionResult.word_weights`` therefore *sums* a source word's pieces (the
attention mass a word receives is the mass of its pieces) and *averages* a target word's rows (each row
stays a distribution). ``</s>`` keeps its own row and column; an argmax landing on the source ``</s>``
means "aligned to nothing" (a NULL link) and produces no link.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..corpus import parse_alignment
from ..model import Seq2Seq
from ..tokenizer import TokenizerPair
from .sentence import prepare, teacher_forced, word_groups

Link = tuple[int, int]  # (source position, target position)


@dataclass(frozen=True, eq=False)  # holds arrays: no element-wise __eq__
class AttentionResult:
    """Teacher-forced attention for one pair. S source pieces (+</s>), T target pieces (+</s>)."""

    src_pieces: tuple[str, ...]  # (S,) display labels, last "</s>"
    tgt_pieces: tuple[str, ...]  # (T,) the token predicted at each step, last "</s>"
    weights: np.ndarray  # (T, S) row t = attention while predicting tgt_pieces[t]; rows sum to 1
    log_probs: np.ndarray  # (T,) log p(y_t | y_<t, x) of the target tokens
    src_words: tuple[str, ...]  # whitespace words of the source
    tgt_words: tuple[str, ...]
    src_word_index: tuple[int, ...]  # (S,) word of each source piece, -1 for </s>
    tgt_word_index: tuple[int, ...]  # (T,) word of each target piece, -1 for </s>

    def word_weights(self) -> np.ndarray:
        """(Tw + 1, Sw + 1) word-level attention, last row/column for </s>: source pieces summed,
        target pieces averaged, so every row still sums to 1."""
        src_map = _membership(self.src_word_index, len(self.src_words))  # (S, Sw+1)
        tgt_map = _membership(self.tgt_word_index, len(self.tgt_words))  # (T, Tw+1)
        tgt_map = tgt_map / tgt_map.sum(axis=0, keepdims=True).clip(min=1)
        return tgt_map.T @ self.weights @ src_map

    def alignment(self) -> set[Link]:
        """Word-level argmax links (s, t); a target word whose argmax is the source </s> gets none."""
        ww = self.word_weights()[:-1]  # drop the </s> row: it is not a word
        return {(s, t) for s, t in argmax_alignment(ww) if s < len(self.src_words)}

    def to_frame(self) -> pd.DataFrame:
        """Long format: one row per (target step, source position) with labels and the weight."""
        t_idx, s_idx = np.indices(self.weights.shape)
        return pd.DataFrame({
            "t": t_idx.ravel(), "s": s_idx.ravel(),
            "tgt": np.asarray(self.tgt_pieces, dtype=object)[t_idx.ravel()],
            "src": np.asarray(self.src_pieces, dtype=object)[s_idx.ravel()],
            "weight": self.weights.ravel(),
        })

    def to_dict(self) -> dict:
        return {"src_pieces": list(self.src_pieces), "tgt_pieces": list(self.tgt_pieces),
                "weights": _rounded(self.weights), "log_probs": _rounded(self.log_probs),
                "src_words": list(self.src_words), "tgt_words": list(self.tgt_words),
                "alignment": sorted(self.alignment())}


def attention_matrix(model: Seq2Seq, tokenizers: TokenizerPair, src_text: str, tgt_text: str) -> AttentionResult:
    """Attention weights while the model is teacher-forced on ``tgt_text`` (uses the fused cells)."""
    if model.attention is None:
        raise ValueError("this model has no attention (attention: none): there is no matrix to show")
    prep = prepare(model, tokenizers, src_text, tgt_text)
    with torch.no_grad():
        fwd = teacher_forced(model, prep, trace=False)
    weights = torch.stack([s.attention[0] for s in fwd.steps]).float().cpu().numpy()  # (T, S)
    src_words, src_index = word_groups(prep.src_surface)
    tgt_words, tgt_index = word_groups(prep.tgt_surface)
    return AttentionResult(prep.src_pieces, prep.tgt_pieces, weights, fwd.log_probs.cpu().numpy(),
                           src_words, tgt_words, src_index, tgt_index)


def _membership(word_index: tuple[int, ...], n_words: int) -> np.ndarray:
    """(pieces, n_words + 1) 0/1 matrix; index -1 (</s>) maps to the last column."""
    m = np.zeros((len(word_index), n_words + 1))
    m[np.arange(len(word_index)), [w if w >= 0 else n_words for w in word_index]] = 1.0
    return m


def _rounded(a: np.ndarray, digits: int = 6) -> list:
    return np.round(np.asarray(a, dtype=float), digits).tolist()


# --------------------------------------------------------------------------------------- alignment quality
def argmax_alignment(weights: np.ndarray) -> set[Link]:
    """One link per row: {(argmax_s weights[t], t)}. weights: (T, S)."""
    return {(int(s), t) for t, s in enumerate(np.asarray(weights).argmax(axis=1))}


def _counts(predicted: set[Link], sure: set[Link], possible: set[Link] | None) -> tuple[int, int, int, int]:
    possible = set(sure) | set(possible or ())  # P ⊇ S by definition
    a, s = set(predicted), set(sure)
    return len(a & s), len(a & possible), len(a), len(s)


def aer(predicted: set[Link], sure: set[Link], possible: set[Link] | None = None) -> float:
    """Alignment error rate (Och & Ney 2003); ``possible`` defaults to ``sure``. 0 is perfect.
    NaN when there is nothing to compare (no predicted and no sure links)."""
    a_s, a_p, n_a, n_s = _counts(predicted, sure, possible)
    return float("nan") if n_a + n_s == 0 else 1.0 - (a_s + a_p) / (n_a + n_s)


@dataclass(frozen=True)
class AlignmentScores:
    precision: float  # |A ∩ P| / |A|
    recall: float  # |A ∩ S| / |S|
    aer: float

    def to_dict(self) -> dict:
        return {"precision": self.precision, "recall": self.recall, "aer": self.aer}


def alignment_scores(predicted: set[Link], sure: set[Link], possible: set[Link] | None = None) -> AlignmentScores:
    """Precision, recall and AER of one sentence's links (NaN where a denominator is 0)."""
    return corpus_alignment_scores([(predicted, sure, possible)])


def corpus_alignment_scores(items: Iterable[tuple[set[Link], set[Link], set[Link] | None]]) -> AlignmentScores:
    """Corpus-level scores: counts are summed over sentences before dividing (the standard AER)."""
    a_s = a_p = n_a = n_s = 0
    for predicted, sure, possible in items:
        c = _counts(predicted, sure, possible)
        a_s, a_p, n_a, n_s = a_s + c[0], a_p + c[1], n_a + c[2], n_s + c[3]
    div = lambda x, y: x / y if y else float("nan")  # noqa: E731
    aer_value = float("nan") if n_a + n_s == 0 else 1.0 - (a_s + a_p) / (n_a + n_s)
    return AlignmentScores(div(a_p, n_a), div(a_s, n_s), aer_value)


def alignment_report(model: Seq2Seq, tokenizers: TokenizerPair, src: list[str], tgt: list[str],
                     gold: list[str]) -> tuple[pd.DataFrame, AlignmentScores]:
    """Per-sentence precision/recall/AER of the model's attention against gold Pharaoh alignments
    (teacher-forced on the reference), plus the corpus-level scores."""
    rows, items = [], []
    for s, t, g in zip(src, tgt, gold):
        predicted, sure = attention_matrix(model, tokenizers, s, t).alignment(), set(parse_alignment(g))
        items.append((predicted, sure, None))
        rows.append({"src": s, "tgt": t, **alignment_scores(predicted, sure).to_dict()})
    return pd.DataFrame(rows), corpus_alignment_scores(items)
