"""Beam search for ONE sentence, in the lecture's terms: the readable twin of ``search.beam_search``.

CS224N lecture 6: "on each step of the decoder, keep track of the k most probable partial translations
(hypotheses)"; a hypothesis y_1..y_t has score log P(y_1..y_t | x) = sum of log P(y_i | y_<i, x); a hypothesis
that produces </s> is complete and is set aside; at the end, pick the best complete one (optionally normalised
by length). The batched search does exactly this for many sentences at once, with compaction and records
that hide the algorithm; ``tests/test_search.py`` proves the two return the same hypotheses, scores,
attention and trace. The rules both follow, spelled out:

* the live beam is the k best *unfinished* continuations of the k live hypotheses (cumulative log-prob);
* a </s> continuation is complete, and enters the finished pool only if it ranks among the k best of all
  continuations; at the length cap every live hypothesis is complete too;
* the pool keeps the k best by score = log-prob / length_penalty(length, </s> counted);
* stop when no live hypothesis can still beat the k-th finished one (``search.py`` derives the bound), when
  none is live, or at the cap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .decoding import TokenBans, max_output_lengths, next_token_logprobs
from .decoding import length_penalty as penalty_divisor
from .model import Seq2Seq
from .tokenizer import BOS_ID, EOS_ID


@dataclass
class Hyp:
    tokens: tuple[int, ...]  # y_1 .. y_t (</s> included once complete)
    logprob: float  # log P(y_1 .. y_t | x)
    state: object = None  # the decoder state after y_t (live hypotheses only)
    attention: list = field(default_factory=list)  # one row of attention weights per token


@torch.inference_mode()
def reference_beam_search(model: Seq2Seq, src_ids: list[int], *, beam_size: int = 5, length_penalty: str = "none",
                          alpha: float = 0.6, max_ratio: float = 2.0) -> tuple[list[Hyp], list[dict]]:
    """``src_ids``: the source pieces with </s>. Returns the complete hypotheses, best first, with their
    scores, and the history: per step, the live hypotheses kept and the complete ones produced."""
    k, src = beam_size, torch.tensor([src_ids])
    enc = model.encode(src, torch.tensor([len(src_ids)]))
    max_len = int(max_output_lengths(torch.tensor([len(src_ids)]), max_ratio)[0])
    bans = TokenBans(model.cfg.tgt_vocab_size, 1, [[]], None, src.device)
    lp = lambda n: float(penalty_divisor(n, length_penalty, alpha))  # noqa: E731
    beam, finished, history = [Hyp((), 0.0, model.init_state(enc))], [], []
    for t in range(1, max_len + 1):
        candidates = []  # (cumulative log-prob, hypothesis, next word, state after it, attention row)
        for hyp in beam:
            y = torch.tensor([hyp.tokens[-1] if hyp.tokens else BOS_ID])
            logp, state, attention = next_token_logprobs(model, y, hyp.state, enc, bans)
            row = None if attention is None else attention[0]
            candidates += [(hyp.logprob + float(lp_w), hyp, w, state, row) for w, lp_w in enumerate(logp[0])]
        candidates = sorted((c for c in candidates if c[0] > float("-inf")), key=lambda c: -c[0])
        extend = lambda c: Hyp((*c[1].tokens, c[2]), c[0], c[3], [*c[1].attention, c[4]])  # noqa: E731
        ended = [extend(c) for c in candidates[:k] if c[2] == EOS_ID]
        beam = [extend(c) for c in candidates if c[2] != EOS_ID][:k]
        finished = sorted(finished + ended + (beam if t == max_len else []), key=lambda h: -score(h, lp))[:k]
        history.append({"step": t, "live": [(h.tokens, h.logprob) for h in beam],
                        "ended": [(h.tokens, h.logprob) for h in ended]})
        bound = max((h.logprob for h in beam), default=float("-inf")) / lp(max_len)
        if not beam or t == max_len or (len(finished) == k and bound <= score(finished[-1], lp)):
            break
    return sorted(finished, key=lambda h: -score(h, lp)), history


def score(hyp: Hyp, lp) -> float:
    """The ranking score of a complete hypothesis: log-prob divided by the length penalty of its length."""
    return hyp.logprob / lp(len(hyp.tokens))
