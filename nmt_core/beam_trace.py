"""The trace of a beam search: every hypothesis prefix the search kept, and how it got there.

The search fills this frozen dataclass of numpy arrays (the hypotheses themselves are in ``hypotheses.py``);
everything downstream (the app's charts, the CLI's ``--trace`` file, notebooks) reads it and never touches
tensors. The trace is columnar:
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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FORMAT = "nmt-studio-beam-trace"
FORMAT_VERSION = 1
#: What ``BeamTrace.node_states`` can say about a node at a given step.
NODE_STATES = ("alive", "finished", "kept", "pruned", "later")


def json_floats(a: np.ndarray) -> list[float | None]:
    """JSON has no -inf/NaN: write them as null."""
    return [float(x) if np.isfinite(x) else None for x in np.asarray(a, dtype=np.float64)]


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
                    "token_logprob": json_floats(r.token_logprob[i:i + 1])[0],
                    "logprob": json_floats(r.logprob[i:i + 1])[0], "score": json_floats(r.score[i:i + 1])[0]})
        token_lp, logprob, score = json_floats(self.token_logprob), json_floats(self.logprob), json_floats(self.score)
        for i in range(len(self)):
            node = {"id": i, "step": int(self.step[i]), "beam": int(self.beam[i]),
                    "parent": None if self.parent[i] < 0 else int(self.parent[i]), "token": int(self.token[i]),
                    "piece": None if self.pieces is None else self.pieces[i], "token_logprob": token_lp[i],
                    "logprob": logprob[i], "score": score[i], "finished": bool(self.finished[i])}
            if self.attention is not None:
                node["attention"] = None if i == 0 else json_floats(self.attention[i])
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


def write_traces(path: str | Path, checkpoint: str | Path, sources: list[str], results: list) -> None:
    """One JSON file with the trace of every input of a run of ``translate``/``evaluate --trace``
    (``nmt-studio-beam-traces``, docs/beam-trace.md): the source, the n-best texts and each ``BeamResult``'s trace."""
    doc = {"format": "nmt-studio-beam-traces", "version": 1, "checkpoint": str(checkpoint),
           "inputs": [{"index": i, "source": src, "translations": [h.text for h in r.hypotheses],
                       "trace": r.trace.to_dict()} for i, (src, r) in enumerate(zip(sources, results))]}
    Path(path).write_text(json.dumps(doc, ensure_ascii=False, allow_nan=False), encoding="utf-8")
