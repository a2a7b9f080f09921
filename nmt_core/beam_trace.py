"""What a search returns: hypotheses and the trace of how the search found them.

The search fills these frozen dataclasses of numpy arrays; everything downstream (the app's charts,
the CLI's ``--trace`` file, notebooks) reads them and never touches tensors. The trace is columnar:
one entry per *node*, a hypothesis prefix the search kept at some step, with its parent node, so the
whole search tree is ``(id, parent)`` pairs (the backpointers HF's refactored ``_beam_search`` carries
as ``beam_indices``). ``docs/beam-trace.md`` documents the JSON form users download.

Conventions: a hypothesis's ``tokens`` end with </s> when it finished that way (a hypothesis cut at
the length cap has no </s>); its length for the length penalty is ``len(tokens)``, the number of
log-probabilities summed. Row t of an attention matrix is the attention used to predict ``tokens[t]``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .tokenizer import EOS_ID

FORMAT = "nmt-studio-beam-trace"
FORMAT_VERSION = 1
LENGTH_PENALTIES = ("none", "norm", "gnmt")
#: What ``BeamTrace.node_states`` can say about a node at a given step.
NODE_STATES = ("alive", "finished", "kept", "pruned", "later")


def length_penalty(lengths: Any, mode: str, alpha: float = 0.6) -> Any:
    """The divisor of a hypothesis's log-prob: 1 (none), len (norm), ((5+len)/6)^alpha (gnmt, Wu et al.
    2016). Works on ints, numpy arrays and tensors; ``lengths`` count </s> when present."""
    if mode == "none":
        return lengths * 0 + 1.0
    if mode == "norm":
        return lengths * 1.0
    if mode == "gnmt":
        return ((5.0 + lengths) / 6.0) ** alpha
    raise ValueError(f"length penalty must be one of {LENGTH_PENALTIES}, got {mode!r}")


def _floats(a: np.ndarray) -> list[float | None]:
    """JSON has no -inf/NaN: write them as null."""
    return [float(x) if np.isfinite(x) else None for x in np.asarray(a, dtype=np.float64)]


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
                "token_logprobs": _floats(self.token_logprobs)}


@dataclass(frozen=True, eq=False)
class RejectedContinuations:
    """With ``record=True``: for each expanded node, its best continuations the search did not keep."""

    parent: np.ndarray  # (M,) node id that was expanded
    token: np.ndarray  # (M,)
    token_logprob: np.ndarray  # (M,)
    logprob: np.ndarray  # (M,) cumulative log-prob the continuation would have had
    score: np.ndarray  # (M,) its penalised score
    pieces: tuple[str, ...] | None = None


@dataclass(frozen=True, eq=False)
class BeamTrace:
    """The search tree, one entry per node. Node 0 is the root (<s>, step 0, parent -1).

    Always present: id (= position), step, beam slot, parent, token, token log-prob, cumulative
    log-prob, penalised score, finished flag. Only with ``record=True``: ``attention`` (N, S), each
    node's attention row (the root's row is NaN), and ``rejected`` continuations.
    """

    settings: dict[str, Any]  # beam_size, nbest, length_penalty, alpha, max_len, record, top_n_rejected
    source: tuple[int, ...]  # source ids as encoded (with the final </s>)
    step: np.ndarray  # (N,) 0 for the root, t for a node whose last token is y_t
    beam: np.ndarray  # (N,) slot in the beam (for finished-by-</s> nodes: the parent's slot); -1 root
    parent: np.ndarray  # (N,) parent node id, -1 for the root
    token: np.ndarray  # (N,)
    token_logprob: np.ndarray  # (N,)
    logprob: np.ndarray  # (N,) cumulative log-prob of the prefix ending at this node
    score: np.ndarray  # (N,) logprob / length_penalty(step)
    finished: np.ndarray  # (N,) bool: ended with </s> or reached the length cap
    hypotheses: tuple[int, ...]  # node ids of the returned n-best, best first
    stop_step: int  # the last step the search ran for this sentence
    stop_reason: str  # "bound" | "max length" | "no live hypotheses"
    pieces: tuple[str, ...] | None = None  # (N,) piece of each node's token
    source_pieces: tuple[str, ...] | None = None
    attention: np.ndarray | None = None  # (N, S), record=True only
    rejected: RejectedContinuations | None = None  # record=True only

    def __len__(self) -> int:
        return len(self.parent)

    def path_to(self, node: int) -> list[int]:
        """Node ids from the root to ``node`` (following parents)."""
        path = [int(node)]
        while self.parent[path[-1]] >= 0:
            path.append(int(self.parent[path[-1]]))
        return path[::-1]

    def tokens_to(self, node: int) -> list[int]:
        """The token ids generated on the way to ``node`` (the root's <s> excluded)."""
        return [int(self.token[i]) for i in self.path_to(node)[1:]]

    def hypothesis_path(self, rank: int) -> list[int]:
        """Node ids from the root to the ``rank``-th returned hypothesis (1 = best)."""
        if not 1 <= rank <= len(self.hypotheses):
            raise ValueError(f"rank must be between 1 and {len(self.hypotheses)}, got {rank}")
        return self.path_to(self.hypotheses[rank - 1])

    def nbest_rank_through(self) -> np.ndarray:
        """(N,) for every node, the best rank among the returned hypotheses whose path runs through it
        (1 = it lies on the path to the best hypothesis), 0 where no returned hypothesis passes."""
        ranks = np.zeros(len(self), dtype=np.int64)
        for rank in range(len(self.hypotheses), 0, -1):  # better ranks overwrite worse ones on shared prefixes
            ranks[self.hypothesis_path(rank)] = rank
        return ranks

    def node_states(self, step: int) -> np.ndarray:
        """(N,) what each node is once the search has run ``step`` steps, one of ``NODE_STATES``:

        alive     a prefix of length ``step`` still in the beam (unfinished)
        finished  a completed hypothesis (</s> or the length cap) created at or before ``step``
        kept      an earlier prefix with an alive or finished descendant: the search still builds on it
        pruned    created at or before ``step``, but every continuation has fallen out of the beam
        later     created after ``step`` (the search has not reached it yet)
        """
        born = self.step <= step
        alive = born & (self.step == step) & ~self.finished
        finished = born & self.finished
        leads_on = alive | finished
        for t in range(int(step), 0, -1):  # children are one step deeper than their parent
            leads_on[self.parent[leads_on & (self.step == t)]] = True
        states = np.full(len(self), "later", dtype=object)
        states[born] = "pruned"
        states[born & leads_on] = "kept"
        states[finished] = "finished"
        states[alive] = "alive"
        return states

    def to_frame(self) -> pd.DataFrame:
        """One row per node: id, step, beam, parent, token, piece, token_logprob, logprob, score,
        finished, nbest_rank (1 = best returned hypothesis, <NA> otherwise)."""
        rank = pd.array([pd.NA] * len(self), dtype="Int64")
        for r, node in enumerate(self.hypotheses, start=1):
            rank[node] = r
        return pd.DataFrame({
            "id": np.arange(len(self)), "step": self.step, "beam": self.beam, "parent": self.parent,
            "token": self.token, "piece": list(self.pieces) if self.pieces is not None else None,
            "token_logprob": self.token_logprob, "logprob": self.logprob, "score": self.score,
            "finished": self.finished, "nbest_rank": rank,
        })

    def rejected_frame(self) -> pd.DataFrame:
        """One row per rejected continuation (empty unless recorded): parent, rank among the
        parent's rejected continuations, token, piece, token_logprob, logprob, score, step."""
        columns = ["parent", "rank", "step", "token", "piece", "token_logprob", "logprob", "score"]
        rej = self.rejected
        if rej is None or len(rej.parent) == 0:
            return pd.DataFrame(columns=columns)
        frame = pd.DataFrame({"parent": rej.parent, "token": rej.token,
                              "piece": list(rej.pieces) if rej.pieces is not None else None,
                              "token_logprob": rej.token_logprob, "logprob": rej.logprob, "score": rej.score})
        frame["rank"] = frame.groupby("parent").cumcount() + 1
        frame["step"] = self.step[rej.parent] + 1
        return frame[columns]

    def to_dict(self) -> dict[str, Any]:
        """The JSON document described in docs/beam-trace.md (plain lists, -inf written as null)."""
        nodes = []
        rejected: dict[int, list[dict[str, Any]]] = {}
        if self.rejected is not None:
            r = self.rejected
            for i, parent in enumerate(r.parent.tolist()):
                rejected.setdefault(parent, []).append({
                    "token": int(r.token[i]), "piece": None if r.pieces is None else r.pieces[i],
                    "token_logprob": _floats(r.token_logprob[i:i + 1])[0],
                    "logprob": _floats(r.logprob[i:i + 1])[0], "score": _floats(r.score[i:i + 1])[0]})
        token_lp, logprob, score = _floats(self.token_logprob), _floats(self.logprob), _floats(self.score)
        for i in range(len(self)):
            node = {"id": i, "step": int(self.step[i]), "beam": int(self.beam[i]),
                    "parent": None if self.parent[i] < 0 else int(self.parent[i]), "token": int(self.token[i]),
                    "piece": None if self.pieces is None else self.pieces[i], "token_logprob": token_lp[i],
                    "logprob": logprob[i], "score": score[i], "finished": bool(self.finished[i])}
            if self.attention is not None:
                node["attention"] = None if i == 0 else _floats(self.attention[i])
            if self.rejected is not None:
                node["rejected"] = rejected.get(i, [])
            nodes.append(node)
        return {
            "format": FORMAT, "version": FORMAT_VERSION, "settings": dict(self.settings),
            "source": {"ids": list(self.source),
                       "pieces": None if self.source_pieces is None else list(self.source_pieces)},
            "stop": {"step": self.stop_step, "reason": self.stop_reason},
            "hypotheses": [{"rank": r, "node": n, "tokens": self.tokens_to(n), "logprob": logprob[n],
                            "score": score[n]} for r, n in enumerate(self.hypotheses, start=1)],
            "nodes": nodes,
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, allow_nan=False, **kwargs)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> BeamTrace:
        """Rebuild a trace from ``to_dict()`` output (e.g. a downloaded file)."""
        if doc.get("format") != FORMAT:
            raise ValueError(f"not a beam trace (format {doc.get('format')!r}, expected {FORMAT!r})")
        nodes = doc["nodes"]
        col = lambda key, dtype: np.array([n[key] for n in nodes], dtype=dtype)  # noqa: E731
        num = lambda xs: np.array([-np.inf if x is None else x for x in xs], dtype=np.float64)  # noqa: E731
        pieces = [n["piece"] for n in nodes]
        attention = rejected = None
        if nodes and "attention" in nodes[0]:
            width = len(doc["source"]["ids"])
            attention = np.array([[np.nan] * width if n["attention"] is None else num(n["attention"])
                                  for n in nodes], dtype=np.float64).reshape(len(nodes), width)
        if nodes and "rejected" in nodes[0]:
            flat = [(n["id"], r) for n in nodes for r in n["rejected"]]
            rej_pieces = [r["piece"] for _, r in flat]
            rejected = RejectedContinuations(
                np.array([p for p, _ in flat], dtype=np.int64), np.array([r["token"] for _, r in flat], dtype=np.int64),
                num([r["token_logprob"] for _, r in flat]), num([r["logprob"] for _, r in flat]),
                num([r["score"] for _, r in flat]), None if None in rej_pieces else tuple(rej_pieces))
        src_pieces = doc["source"].get("pieces")
        return cls(
            settings=dict(doc["settings"]), source=tuple(doc["source"]["ids"]), step=col("step", np.int64),
            beam=col("beam", np.int64), parent=np.array([-1 if n["parent"] is None else n["parent"] for n in nodes],
                                                        dtype=np.int64),
            token=col("token", np.int64), token_logprob=num([n["token_logprob"] for n in nodes]),
            logprob=num([n["logprob"] for n in nodes]), score=num([n["score"] for n in nodes]),
            finished=col("finished", bool), hypotheses=tuple(h["node"] for h in doc["hypotheses"]),
            stop_step=int(doc["stop"]["step"]), stop_reason=str(doc["stop"]["reason"]),
            pieces=None if None in pieces else tuple(pieces),
            source_pieces=None if src_pieces is None else tuple(src_pieces), attention=attention, rejected=rejected)


@dataclass(frozen=True, eq=False)
class BeamResult:
    """Beam search output for one sentence: the n-best list (best first) and the trace."""

    hypotheses: list[Hypothesis]
    trace: BeamTrace
    src_pieces: tuple[str, ...] | None = None  # filled by the Translator, for chart labels

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
