"""Teacher-forced scoring of a given translation, token by token, with the search's own step function.

Why here and not in ``model.loss``: the numbers must compare with a beam search's (the same bans, the
same length penalty, per-token ranks and the model's own choice at each step), which is what the
Translate page's "score your own translation" and ``hypotheses.diagnose`` need.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .batching import make_batch
from .decoding import PieceNames, TokenBans, next_token_logprobs
from .decoding import length_penalty as penalty
from .hypotheses import TokenScores
from .model import Intervention, Seq2Seq
from .tokenizer import BOS_ID, EOS_ID


@torch.inference_mode()
def score_translation(model: Seq2Seq, src_ids: Sequence[int], tgt_ids: Sequence[int], *,
                      length_penalty: str = "none", alpha: float = 0.6, intervention: Intervention | None = None,
                      tgt_tokenizer: Any = None) -> TokenScores:
    """Teacher-forced log-prob of a given translation, token by token (the same step function and the
    same bans as the search, so the numbers compare with a search's). ``src_ids``/``tgt_ids`` are piece
    ids as a tokenizer gives them; </s> is appended to both (and scored on the target)."""
    device = next(model.parameters()).device
    src_ids = list(src_ids)[:-1] if list(src_ids)[-1:] == [EOS_ID] else list(src_ids)
    tgt = [int(t) for t in tgt_ids if t != EOS_ID] + [EOS_ID]
    batch = make_batch([src_ids]).to(device)
    enc = model.encode(batch.src, batch.src_lengths)
    state = model.init_state(enc)
    bans = TokenBans(model.cfg.tgt_vocab_size, 1, [[]], None, device)
    lps, attns = [], []
    for y_prev in [BOS_ID] + tgt[:-1]:
        logp, state, attn = next_token_logprobs(model, torch.tensor([y_prev], device=device), state, enc, bans, None,
                                     intervention)
        lps.append(logp[0])
        attns.append(attn)
    logp = torch.stack(lps)  # (T, V)
    gold = torch.tensor(tgt, device=device)
    token_lp = logp.gather(1, gold.unsqueeze(1)).squeeze(1)  # (T,)
    ranks = (logp > token_lp.unsqueeze(1)).sum(dim=1) + 1
    top_lp, top = logp.max(dim=1)
    total = float(token_lp.sum())
    pieces = PieceNames(tgt_tokenizer)
    attention = None if attns[0] is None else torch.cat(attns).cpu().numpy()
    score = total / float(penalty(len(tgt), length_penalty, alpha))
    return TokenScores(tuple(tgt), token_lp.cpu().numpy(), total, score,
                       ranks.cpu().numpy(), tuple(top.tolist()), top_lp.cpu().numpy(), attention,
                       pieces(tgt), pieces(top.tolist()))
