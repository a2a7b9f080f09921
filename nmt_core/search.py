"""Decoding. (Greedy for now; beam search with its trace lands with the decoding issue.)"""

from __future__ import annotations

import torch
from torch import Tensor

from .model import Seq2Seq
from .tokenizer import BOS_ID, EOS_ID


def max_output_lengths(src_lengths: Tensor, ratio: float, extra: int = 5) -> Tensor:
    """Per-sentence cap on output length: ratio * source length + extra."""
    return (src_lengths.float() * ratio).long() + extra


@torch.no_grad()
def greedy_search(model: Seq2Seq, src: Tensor, src_lengths: Tensor, *, max_ratio: float = 2.0) -> list[list[int]]:
    """Batched argmax decoding. src: (B, S). Returns token ids per sentence, without </s>."""
    enc = model.encode(src, src_lengths)
    state = model.init_state(enc)
    limits = max_output_lengths(src_lengths, max_ratio).to(src.device)  # (B,)
    b = src.shape[0]
    y = torch.full((b,), BOS_ID, dtype=torch.long, device=src.device)
    finished = torch.zeros(b, dtype=torch.bool, device=src.device)
    tokens = []
    for t in range(int(limits.max())):
        step = model.decode_step(y, state, enc)
        state = step.state
        y = step.logits.argmax(dim=-1)
        y = torch.where(finished, torch.full_like(y, EOS_ID), y)
        tokens.append(y)
        finished |= (y == EOS_ID) | (t + 1 >= limits)
        if bool(finished.all()):
            break
    out = torch.stack(tokens, dim=1).tolist() if tokens else [[] for _ in range(b)]
    results = []
    for row, limit in zip(out, limits.tolist()):
        row = row[:limit]
        results.append(row[: row.index(EOS_ID)] if EOS_ID in row else row)
    return results
