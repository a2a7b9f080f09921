"""What decoding returns: hypotheses (with their texts, scores and attention), the n-best result of a beam
search with its trace, a given translation scored token by token, and the search-error/model-error verdict.

Frozen dataclasses of numpy arrays: everything downstream (the app, the CLI, notebooks) reads them and never
touches tensors. Conventions: a hypothesis's ``tokens`` end with </s> when it finished that way (one cut at
the length cap has none); its length for the length penalty is ``len(tokens)``, the number of log-probabilities
summed. Row t of an attention matrix is the attention used to predict ``tokens[t]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .beam_trace import BeamTrace, json_floats
from .tokenizer import EOS_ID


@dataclass(frozen=True, eq=False)
class Hypothesis:
    """One complete output of a search (or one sample)."""

    tokens: tuple[int, ...]  # generated ids, ending with </s> unless cut at the length cap
    token_logprobs: np.ndarray  # (T,) log p(y_t | y_<t, x) under the model (forced tokens included)
    logprob: float  # sum of token_logprobs
    score: float  # logprob / length_penalty(T): what the search ranks by
    attention: np.ndarray | None  # (T, S) row t = attention while predicting tokens[t]; None without attention
    node: int = -1  # this hypothesis's node id in the trace (-1 for samples)
    pieces: tuple[str, ...] | None = None  # target pieces of ``tokens`` when a tokenizer was given
    text: str | None = None  # detokenised output (filled by the Translator)

    @property
    def eos(self) -> bool:
        """True when the hypothesis ended with </s>, False when the length cap cut it."""
        return bool(self.tokens) and self.tokens[-1] == EOS_ID

    @property
    def output_ids(self) -> list[int]:
        """The translation's ids, without the final </s>."""
        return list(self.tokens[:-1] if self.eos else self.tokens)

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "tokens": list(self.tokens),
                "pieces": None if self.pieces is None else list(self.pieces), "text": self.text,
                "logprob": float(self.logprob), "score": float(self.score),
                "token_logprobs": json_floats(self.token_logprobs)}


@dataclass(frozen=True, eq=False)
class BeamResult:
    """Beam search output for one sentence: the n-best list (best first) and the trace (None when the search was
    asked for text only: ``trace=False``)."""

    hypotheses: list[Hypothesis]
    trace: BeamTrace | None
    src_pieces: tuple[str, ...] | None = None  # filled by the Translator, for chart labels
    # target pieces the output layer scored: the batch's shortlist with what a prefix or a what-if forces into it
    # (fast mode), None for the whole vocabulary
    scored_pieces: int | None = None

    @property
    def best(self) -> Hypothesis:
        if not self.hypotheses:
            raise ValueError("the search found no complete hypothesis (were all tokens blocked?)")
        return self.hypotheses[0]

    def nbest_frame(self) -> pd.DataFrame:
        """One row per returned hypothesis: rank, text, score, logprob, length, eos."""
        return pd.DataFrame([{"rank": r, "text": h.text, "score": h.score, "logprob": h.logprob,
                              "length": len(h.tokens), "eos": h.eos, "node": h.node}
                             for r, h in enumerate(self.hypotheses, start=1)])

    def attention_frame(self, rank: int = 1) -> pd.DataFrame:
        """The attention matrix of the ``rank``-th hypothesis as a long frame (for viz): target
        position, source position, weight, and the pieces when known."""
        hyp = self.hypotheses[rank - 1]
        if hyp.attention is None:
            raise ValueError("this model has no attention")
        t, s = hyp.attention.shape
        frame = pd.DataFrame({"tgt_pos": np.repeat(np.arange(t), s), "src_pos": np.tile(np.arange(s), t),
                              "weight": hyp.attention.reshape(-1)})
        if hyp.pieces is not None:
            frame["tgt_piece"] = np.repeat(np.array(hyp.pieces, dtype=object), s)
        if self.src_pieces is not None:
            frame["src_piece"] = np.tile(np.array(self.src_pieces, dtype=object), t)
        return frame


@dataclass(frozen=True, eq=False)
class TokenScores:
    """A given translation scored token by token under the model (teacher forcing)."""

    tokens: tuple[int, ...]  # the scored target ids, ending with </s>
    token_logprobs: np.ndarray  # (T,)
    logprob: float
    score: float  # logprob / length_penalty(T), comparable with a search's scores in the same mode
    ranks: np.ndarray  # (T,) 1 = this token was the model's top choice given the gold prefix
    top_tokens: tuple[int, ...]  # (T,) the model's top choice at each step given the gold prefix
    top_logprobs: np.ndarray  # (T,)
    attention: np.ndarray | None  # (T, S)
    pieces: tuple[str, ...] | None = None
    top_pieces: tuple[str, ...] | None = None

    @property
    def differs(self) -> np.ndarray:
        """(T,) True where the model's own choice (greedy on the gold prefix) is another token."""
        return self.ranks > 1

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"pos": np.arange(len(self.tokens)), "token": self.tokens,
                             "piece": list(self.pieces) if self.pieces is not None else None,
                             "token_logprob": self.token_logprobs, "rank": self.ranks,
                             "top_token": self.top_tokens,
                             "top_piece": list(self.top_pieces) if self.top_pieces is not None else None,
                             "top_logprob": self.top_logprobs, "differs": self.differs})


@dataclass(frozen=True, eq=False)
class Diagnosis:
    """Search error or model error? Compares a reference's score with the search's best, in the
    search's own scoring (same length penalty)."""

    verdict: str  # "agree" | "search error" | "model error"
    reference: TokenScores
    best: Hypothesis
    explanation: str


def diagnose(reference: TokenScores, best: Hypothesis) -> Diagnosis:
    """agree: the search returned the reference. search error: the model scores the reference
    higher than what the search returned, so a wider (or exact) search would have found something
    at least as good. model error: the model itself prefers the search's output."""
    ref_ids = [t for t in reference.tokens if t != EOS_ID]
    if ref_ids == best.output_ids and best.eos:
        return Diagnosis("agree", reference, best, "the search returned the reference")
    if reference.score > best.score:
        return Diagnosis("search error", reference, best,
                         f"the model scores the reference {reference.score:.3f} > {best.score:.3f} for the "
                         "search's output: the search missed a better-scoring translation")
    return Diagnosis("model error", reference, best,
                     f"the model scores its own output {best.score:.3f} >= {reference.score:.3f} for the "
                     "reference: even an exact search would not return the reference")
