"""Ancestral sampling, for comparison with search: what the model would write if it did not search.

Uses the search's own step (``decoding.next_token_logprobs``), bans and length caps, so sampled log-probs compare with
a beam's. Split from ``search.py`` to keep that module about search.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .decoding import (
    NEG_INF,
    Constraints,
    PieceNames,
    Prefix,
    TokenBans,
    next_token_logprobs,
    normalise_prefix,
    output_limits,
)
from .hypotheses import Hypothesis
from .model import Intervention, Seq2Seq
from .tokenizer import BOS_ID, EOS_ID


def _draw(logp: Tensor, temperature: float, top_k: int, generator: torch.Generator) -> Tensor:
    """One token per row from softmax(logp / temperature), restricted to the top_k tokens if top_k > 0."""
    scores = logp / temperature
    if top_k > 0:
        kth = scores.topk(min(top_k, scores.shape[-1]), dim=-1).values[:, -1:]
        scores = scores.masked_fill(scores < kth, NEG_INF)
    probs = torch.softmax(scores, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


@torch.inference_mode()
def sample(model: Seq2Seq, src: Tensor, src_lengths: Tensor, *, n: int = 1, temperature: float = 1.0,
           top_k: int = 0, seed: int | None = None, max_ratio: float = 2.0, max_len: int | None = None,
           prefix: Prefix = None, constraints: Constraints = None, intervention: Intervention | None = None,
           tgt_tokenizer: Any = None) -> list[list[Hypothesis]]:
    """Ancestral sampling, ``n`` samples per sentence (batched), for comparison with search. Tokens are
    drawn from the tempered, top-k-filtered distribution; ``token_logprobs`` and ``score`` are the
    untempered model's log-probs (score = logprob, no length penalty)."""
    if temperature <= 0 or n < 1 or top_k < 0:
        raise ValueError("need temperature > 0, n >= 1 and top_k >= 0")
    b, device = src.shape[0], src.device
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    prefixes = normalise_prefix(prefix, b)
    bans = TokenBans(model.cfg.tgt_vocab_size, b, prefixes, constraints, device)
    limits = output_limits(src_lengths, max_ratio, max_len, [len(p) + 1 for p in prefixes]).repeat_interleave(n)
    enc = model.encode(src, src_lengths).index_select(torch.arange(b, device=device).repeat_interleave(n))
    state = model.init_state(enc)
    y = torch.full((b * n,), BOS_ID, dtype=torch.long, device=device)
    finished = torch.zeros(b * n, dtype=torch.bool, device=device)
    limits_dev = limits.to(device)
    tokens, token_lp, attention = [], [], []
    for t in range(int(limits.max())):
        logp, state, attn = next_token_logprobs(model, y, state, enc, bans, bans.at(t, n), intervention)
        y = torch.where(finished, EOS_ID, _draw(logp, temperature, top_k, generator))
        tokens.append(y)
        token_lp.append(logp.gather(1, y.unsqueeze(1)).squeeze(1))
        attention.append(attn)
        finished |= (y == EOS_ID) | (t + 1 >= limits_dev)
        if bool(finished.all()):
            break
    toks, lps = torch.stack(tokens, 1).cpu().numpy(), torch.stack(token_lp, 1).cpu().numpy()
    att = None if attention[0] is None else torch.stack(attention, 1).cpu().numpy()
    pieces, out = PieceNames(tgt_tokenizer), []
    for row in range(b * n):
        seq = toks[row, : int(limits[row])].tolist()
        length = seq.index(EOS_ID) + 1 if EOS_ID in seq else len(seq)
        logprob = float(lps[row, :length].sum())
        s_len = int(src_lengths[row // n])
        hyp = Hypothesis(tuple(seq[:length]), lps[row, :length], logprob, logprob,
                         None if att is None else att[row, :length, :s_len], -1, pieces(seq[:length]))
        if row % n == 0:
            out.append([])
        out[-1].append(hyp)
    return out
