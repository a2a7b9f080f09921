"""The decoding step that greedy search, beam search, the reference beam search, sampling and scoring share.

Why one module: a log-probability shown on the Translate page must mean the same thing whichever mode
produced it. Every mode calls ``next_token_logprobs`` (the model's own ``Seq2Seq.decode_step`` followed by a
log-softmax), bans tokens the same way (<pad> and <s> always, plus forced-prefix and user constraints, set to
-inf *after* the log-softmax with no renormalisation) and caps the output length by the same rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .model import DecoderState, EncoderOutput, Intervention, Seq2Seq
from .tokenizer import BOS_ID, EOS_ID, PAD_ID

NEG_INF = float("-inf")
LENGTH_PENALTIES = ("none", "norm", "gnmt")

Prefix = Sequence[int] | Sequence[Sequence[int] | None] | None
Constraints = Mapping[int, Mapping[str, Any]] | Sequence[Mapping[int, Mapping[str, Any]] | None] | None


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


def max_output_lengths(src_lengths: Tensor, ratio: float, extra: int = 5) -> Tensor:
    """Per-sentence cap on output length: ratio * source length + extra."""
    return (src_lengths.float() * ratio).long() + extra


def output_limits(src_lengths: Tensor, max_ratio: float, max_len: int | None = None,
                  min_len: Sequence[int] | None = None) -> Tensor:
    """(B,) CPU caps: ratio rule, optionally clamped to ``max_len``, never below ``min_len`` (a forced
    prefix plus one token must fit)."""
    limits = max_output_lengths(src_lengths.cpu(), max_ratio)
    if max_len is not None:
        limits = limits.clamp(max=max_len)
    if min_len is not None:
        limits = torch.maximum(limits, torch.as_tensor(list(min_len), dtype=torch.long))
    return limits.clamp(min=1)


def _per_sentence(value: Any, batch: int, shared: bool, what: str) -> list:
    if value is None:
        return [None] * batch
    if shared:
        return [value] * batch
    if len(value) != batch:
        raise ValueError(f"{what}: got {len(value)} entries for {batch} sentences")
    return list(value)


def normalise_prefix(prefix: Prefix, batch: int) -> list[list[int]]:
    """A shared prefix (list of ids) or one per sentence (list of lists / None) -> one list per sentence."""
    if prefix is None:
        return [[] for _ in range(batch)]
    items = list(prefix)
    shared = not items or isinstance(items[0], int | np.integer)
    prefixes = [[int(t) for t in (p or [])] for p in _per_sentence(items, batch, shared, "prefix")]
    for p in prefixes:
        if any(t in (PAD_ID, BOS_ID, EOS_ID) for t in p):
            raise ValueError("a forced prefix may not contain <pad>, <s> or </s>")
    return prefixes


class TokenBans:
    """Which tokens each sentence may not emit at each step: <pad> and <s> always; at step t < len(prefix)
    everything but the prefix token; user constraints ``{step: {"force": id}}`` / ``{step: {"block": [ids]}}``
    (steps count from 0 = the first target token), shared or one mapping per sentence."""

    def __init__(self, vocab: int, batch: int, prefixes: list[list[int]], constraints: Constraints,
                 device: torch.device):
        self.base = torch.zeros(vocab, dtype=torch.bool, device=device)
        self.base[[PAD_ID, BOS_ID]] = True
        per = _per_sentence(constraints, batch, isinstance(constraints, Mapping), "constraints")
        rules: dict[int, dict[int, tuple[int | None, list[int]]]] = {}
        for b, (prefix, cons) in enumerate(zip(prefixes, per)):
            for t, tok in enumerate(prefix):
                rules.setdefault(t, {})[b] = (tok, [])
            for t, rule in (cons or {}).items():
                unknown = set(rule) - {"force", "block"}
                if unknown or int(t) < 0:
                    raise ValueError(f"constraint at step {t}: use step >= 0 and keys 'force'/'block', got {rule}")
                force, block = rule.get("force"), [int(i) for i in rule.get("block", [])]
                if force is not None and int(force) in (PAD_ID, BOS_ID):
                    raise ValueError("cannot force <pad> or <s>")
                old_force, old_block = rules.get(int(t), {}).get(b, (None, []))
                rules.setdefault(int(t), {})[b] = (old_force if force is None else int(force), old_block + block)
        for ids in [[f for f, _ in r.values() if f is not None] + [i for _, bl in r.values() for i in bl]
                    for r in rules.values()]:
            if any(not 0 <= i < vocab for i in ids):
                raise ValueError(f"constraint token id out of range 0..{vocab - 1}")
        self.steps: dict[int, Tensor] = {}
        for t, by_sentence in rules.items():
            mask = self.base.repeat(batch, 1)  # (B, V)
            for b, (force, block) in by_sentence.items():
                if force is not None:
                    mask[b] = True
                    mask[b, force] = False
                mask[b, block] = True
            self.steps[t] = mask

        self.base_ids = self.base.nonzero().view(-1)

    def at(self, t: int, rows_per_sentence: int, active: Tensor | None = None) -> Tensor | None:
        """Bans for step t (0-based): None when only the base tokens are banned (``apply`` bans those
        by column), else (B*rows, V), for the sentences in ``active`` only if given."""
        mask = self.steps.get(t)
        if mask is None:
            return None
        if active is not None:
            mask = mask.index_select(0, active)
        return mask.repeat_interleave(rows_per_sentence, dim=0)

    def apply(self, logp: Tensor, banned: Tensor | None) -> Tensor:
        """Set banned log-probs to -inf in place: the base columns (<pad>, <s>) always, plus ``banned``."""
        logp.index_fill_(1, self.base_ids, NEG_INF)
        return logp if banned is None else logp.masked_fill_(banned, NEG_INF)


def logprobs(logits: Tensor) -> Tensor:
    """log_softmax in at least float32 (float64 models stay float64)."""
    return torch.log_softmax(logits if logits.dtype == torch.float64 else logits.float(), dim=-1)


def next_token_logprobs(model: Seq2Seq, y: Tensor, state: DecoderState, enc: EncoderOutput, bans: TokenBans,
                        banned: Tensor | None = None, intervention: Intervention | None = None, trace: bool = False
                        ) -> tuple[Tensor, DecoderState, Tensor | None]:
    """The decoding step every mode shares (greedy, beam, the reference beam, sampling, scoring): one decoder
    step for every row, log p(y_t | y_<t, x). y: (N,) the previous tokens. Returns log-probs (N, V) with banned
    tokens at -inf (``TokenBans.apply``: the base bans plus ``banned``), the new state and the attention
    (N, S) or None. ``trace=True`` runs the replayed cells (needed for gate clamps; same numbers otherwise)."""
    step = model.decode_step(y, state, enc, trace=trace, intervention=intervention)
    logp = bans.apply(logprobs(step.logits), banned)  # (N, V); log_softmax made a fresh tensor: in place
    return logp, step.state, step.attention



class PieceNames:
    """Token id -> piece, cached (None without a tokenizer)."""

    def __init__(self, tokenizer: Any):
        self.tokenizer, self.cache = tokenizer, {}

    def __call__(self, ids: Sequence[int]) -> tuple[str, ...] | None:
        if self.tokenizer is None:
            return None
        out = []
        for i in ids:
            i = int(i)
            if i not in self.cache:
                self.cache[i] = self.tokenizer.id_to_piece(i)
            out.append(self.cache[i])
        return tuple(out)
