"""Decoding: greedy and beam search that returns its own trace (sampling and teacher-forced scoring,
which share this module's step and bans, live in ``sampling.py`` and ``scoring.py``).

Every mode calls the model's one step function, ``Seq2Seq.decode_step`` (never a copy of the decoder).
Log-probabilities are the model's own: a token that may not be emitted (<pad> and <s> always, plus
forced-prefix and user constraints) is set to -inf *after* the log-softmax, with no renormalisation.

Beam search (batched over sentences and beams; the B*k hypotheses are the model's batch rows) is
written as small named steps, after HF's refactored ``_beam_search``:

  1. ``_expand``                 one decoder step for every live hypothesis -> log p(y | prefix)
  2. ``_top_k_continuations``    candidates = cumulative + log p over k*V per sentence; keep the top 2k
  3. ``_reorder``                backpointers pick rows of the decoder state, tokens and attention
  4. ``_update_finished``        </s> continuations ranked in the top k (and, at the length cap, the
                                 live ones) enter the per-sentence pool of the k best finished
  5. ``_is_done``                the stopping rule, exact for the scoring in use (see below)

The live beam always holds the k best unfinished continuations (when that many exist). A hypothesis
is complete when it ends with </s> or reaches the cap ``max_len`` (= ratio * source length + 5 tokens,
or a given cap). Scores: logprob / length_penalty(len), with len counting </s> (``beam_trace.py``).

Stopping rule: a live hypothesis with cumulative log-prob L <= 0 can only lose log-probability, and
its final length m is at most the cap M; the penalty divisor lp(m) grows with m, so its final score
is at most L / lp(M) (for "none", lp = 1 and the bound is L itself). A sentence stops when the k-th
best finished score is >= the largest such bound over its live hypotheses (no live hypothesis can
still beat it), or no live hypothesis is left, or the cap is reached. With k >= the number of all
prefixes nothing is pruned, so the search is exhaustive (tests/test_search.py checks exactly that).
``stopping="heuristic"`` evaluates the bound at the next length, L / lp(t + 1), instead of at the cap:
the rule of most toolkits (HF's ``early_stopping=False``), much faster with a length penalty (the exact
bound at the cap is loose), and occasionally it stops before a longer hypothesis would have won; with
``length_penalty="none"`` the two rules are the same. ``stopping="never"`` runs every sentence to its cap.

A sentence that stops leaves the batch: its rows are dropped from the decoder state, the encoder
output and the pool, so the remaining steps only pay for sentences still searching.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .beam_trace import (
    LENGTH_PENALTIES,
    BeamResult,
    BeamTrace,
    Hypothesis,
    RejectedContinuations,
)
from .beam_trace import length_penalty as penalty
from .model import DecoderState, EncoderOutput, Intervention, Seq2Seq
from .tokenizer import BOS_ID, EOS_ID, PAD_ID

NEG_INF = float("-inf")
STOP_REASONS = ("running", "bound", "max length", "no live hypotheses")
STOPPING_RULES = ("exact", "heuristic", "never")

Prefix = Sequence[int] | Sequence[Sequence[int] | None] | None
Constraints = Mapping[int, Mapping[str, Any]] | Sequence[Mapping[int, Mapping[str, Any]] | None] | None


# --------------------------------------------------------------------------------------- limits and bans
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


def _logprobs(logits: Tensor) -> Tensor:
    """log_softmax in at least float32 (float64 models stay float64)."""
    return torch.log_softmax(logits if logits.dtype == torch.float64 else logits.float(), dim=-1)


def _expand(model: Seq2Seq, y: Tensor, state: DecoderState, enc: EncoderOutput, bans: TokenBans,
            banned: Tensor | None, intervention: Intervention | None) -> tuple[Tensor, DecoderState, Tensor | None]:
    """One decoder step for every row. y: (N,). Returns log-probs (N, V) with banned tokens at -inf
    (``TokenBans.apply``: the base bans plus ``banned``), the new state and the attention (N, S) or None."""
    step = model.decode_step(y, state, enc, intervention=intervention)
    logp = bans.apply(_logprobs(step.logits), banned)  # (N, V); log_softmax made a fresh tensor: in place
    return logp, step.state, step.attention


# --------------------------------------------------------------------------------------- greedy
@torch.inference_mode()
def greedy_search(model: Seq2Seq, src: Tensor, src_lengths: Tensor, *, max_ratio: float = 2.0,
                  max_len: int | None = None, intervention: Intervention | None = None) -> list[list[int]]:
    """Batched argmax decoding (the fast path; ``beam_search(beam_size=1)`` gives the same tokens plus
    a trace). src: (B, S) with </s>. Returns token ids per sentence, without </s>."""
    enc = model.encode(src, src_lengths)
    state = model.init_state(enc)
    limits = output_limits(src_lengths, max_ratio, max_len)
    bans = TokenBans(model.cfg.tgt_vocab_size, src.shape[0], [[]] * src.shape[0], None, src.device)
    b = src.shape[0]
    y = torch.full((b,), BOS_ID, dtype=torch.long, device=src.device)
    finished = torch.zeros(b, dtype=torch.bool, device=src.device)
    limits_dev = limits.to(src.device)
    tokens = []
    for t in range(int(limits.max())):
        logp, state, _ = _expand(model, y, state, enc, bans, None, intervention)
        y = logp.argmax(dim=-1)
        y = torch.where(finished, torch.full_like(y, EOS_ID), y)
        tokens.append(y)
        finished |= (y == EOS_ID) | (t + 1 >= limits_dev)
        if bool(finished.all()):
            break
    out = torch.stack(tokens, dim=1).tolist()
    results = []
    for row, limit in zip(out, limits.tolist()):
        row = row[:limit]
        results.append(row[: row.index(EOS_ID)] if EOS_ID in row else row)
    return results


# --------------------------------------------------------------------------------------- beam search
@dataclass
class _Live:
    """The k live hypotheses of every sentence, flattened to B*k model rows (sentence-major)."""

    scores: Tensor  # (B, k) cumulative log-probs; -inf marks an empty slot
    y: Tensor  # (B*k,) last token
    tokens: Tensor  # (B*k, t) ids so far
    token_lp: Tensor  # (B*k, t)
    attention: Tensor | None  # (B*k, t, S)
    state: DecoderState


@dataclass
class _Finished:
    """The k best finished hypotheses per sentence, best first, padded to the longest cap L."""

    score: Tensor  # (B, k) penalised score; -inf for an empty entry
    logprob: Tensor  # (B, k)
    key: Tensor  # (B, k) trace key: step index * 2k + column (live slot, or k + parent slot for </s>)
    length: Tensor  # (B, k)
    tokens: Tensor  # (B, k, L)
    token_lp: Tensor  # (B, k, L)
    attention: Tensor | None  # (B, k, L, S)


@dataclass
class _Selection:
    scores: Tensor  # (B, k) cumulative log-probs of the new live hypotheses
    parent: Tensor  # (B, k) their slot in the previous beam
    token: Tensor  # (B, k) their last token
    eos_admit: Tensor  # (B, k) bool: slot j's </s> continuation ranks among the sentence's k best


def _top_k_continuations(cand: Tensor) -> _Selection:
    """cand: (B, k, V) cumulative scores of every continuation. The top 2k over k*V hold at most k
    </s> continuations (one per parent), so they always contain the k best unfinished ones."""
    b, k, v = cand.shape
    top_scores, top_idx = cand.view(b, k * v).topk(min(2 * k, k * v), dim=1)  # (B, 2k), best first
    is_eos = top_idx % v == EOS_ID
    admitted = (is_eos & torch.isfinite(top_scores))[:, :k]  # </s> ranked among the k best
    eos_admit = torch.zeros(b, k, dtype=torch.long, device=cand.device)
    eos_admit = eos_admit.scatter_add_(1, top_idx[:, :k] // v, admitted.long()) > 0
    live_scores, pos = top_scores.masked_fill(is_eos, NEG_INF).topk(k, dim=1)  # (B, k)
    live_idx = top_idx.gather(1, pos)
    return _Selection(live_scores, live_idx // v, live_idx % v, eos_admit)


def _reorder(live: _Live, sel: _Selection, logp: Tensor, attn: Tensor | None, state: DecoderState) -> _Live:
    """Follow the backpointers: the same row index reorders the decoder state (h, c, input feed),
    the token history and the attention history, so every hypothesis keeps its own."""
    b, k = sel.parent.shape
    rows = (sel.parent + torch.arange(b, device=sel.parent.device).unsqueeze(1) * k).view(-1)  # (B*k,)
    y = sel.token.view(-1)
    tok_lp = logp[rows, y]  # (B*k,)
    tokens = torch.cat([live.tokens.index_select(0, rows), y.unsqueeze(1)], dim=1)  # (B*k, t+1)
    token_lp = torch.cat([live.token_lp.index_select(0, rows), tok_lp.unsqueeze(1)], dim=1)
    attention = None
    if attn is not None:
        attention = torch.cat([live.attention.index_select(0, rows), attn.index_select(0, rows).unsqueeze(1)], 1)
    return _Live(sel.scores, y, tokens, token_lp, attention, state.index_select(rows))


def _pad_to(x: Tensor, length: int, value: float) -> Tensor:
    """Pad dim 1 of (N, t, ...) to ``length``."""
    if x.shape[1] == length:
        return x
    shape = (x.shape[0], length - x.shape[1], *x.shape[2:])
    return torch.cat([x, x.new_full(shape, value)], dim=1)


def _update_finished(fin: _Finished, prev: _Live, new: _Live, sel: _Selection, cand: Tensor, logp: Tensor,
                     attn: Tensor | None, t: int, at_limit: Tensor | None, mode: str, alpha: float) -> _Finished:
    """Merge this step's finished hypotheses into the pool and keep the k best by penalised score:
    </s> continuations admitted by ``_top_k_continuations`` and, for sentences at their cap, the live ones."""
    b, k, v = cand.shape
    big_l = fin.tokens.shape[2]
    lp = float(penalty(t, mode, alpha))
    arange_k = torch.arange(k, device=cand.device)
    eos_lp = cand[:, :, EOS_ID].masked_fill(~sel.eos_admit, NEG_INF)  # (B, k)
    eos_tokens = torch.cat([prev.tokens, prev.tokens.new_full((b * k, 1), EOS_ID)], dim=1)
    eos_token_lp = torch.cat([prev.token_lp, logp[:, EOS_ID].unsqueeze(1)], dim=1)
    parts = [(eos_lp, (t - 1) * 2 * k + k + arange_k, eos_tokens, eos_token_lp,
              None if attn is None else torch.cat([prev.attention, attn.unsqueeze(1)], dim=1))]
    if at_limit is not None:  # the cap: every live hypothesis is complete
        parts.append((new.scores.masked_fill(~at_limit.unsqueeze(1), NEG_INF), (t - 1) * 2 * k + arange_k,
                      new.tokens, new.token_lp, new.attention))
    logprob = torch.cat([fin.logprob] + [p[0] for p in parts], dim=1)  # (B, k + k*len(parts))
    score = torch.cat([fin.score] + [p[0] / lp for p in parts], dim=1)
    key = torch.cat([fin.key] + [p[1].expand(b, k) for p in parts], dim=1)
    length = torch.cat([fin.length] + [torch.full_like(fin.length, t)] * len(parts), dim=1)
    tokens = torch.cat([fin.tokens] + [_pad_to(p[2], big_l, PAD_ID).view(b, k, big_l) for p in parts], dim=1)
    token_lp = torch.cat([fin.token_lp] + [_pad_to(p[3], big_l, 0.0).view(b, k, big_l) for p in parts], dim=1)
    best_score, pick = score.topk(k, dim=1)  # (B, k)
    gather = lambda x: x.gather(1, pick.view(b, k, *([1] * (x.dim() - 2))).expand(b, k, *x.shape[2:]))  # noqa: E731
    attention = None
    if fin.attention is not None:
        s = fin.attention.shape[-1]
        attention = gather(torch.cat([fin.attention] + [_pad_to(p[4], big_l, 0.0).view(b, k, big_l, s)
                                                        for p in parts], dim=1))
    return _Finished(best_score, gather(logprob), gather(key), gather(length), gather(tokens), gather(token_lp),
                     attention)


def _is_done(live_scores: Tensor, fin: _Finished, limits: Tensor, t: int, mode: str, alpha: float,
             stopping: str) -> Tensor:
    """(B,) stop code: 0 running, 1 bound, 2 max length, 3 no live hypotheses (see the module docstring).
    Bound: max over live of L / lp(cap) (``exact``) or L / lp(t + 1) (``heuristic``) <= the k-th best
    finished score; ``never`` ignores the bound."""
    best_live = live_scores.max(dim=1).values  # (B,)
    code = torch.zeros_like(limits)
    if stopping != "never":
        length = limits.to(live_scores.dtype) if stopping == "exact" else torch.full_like(best_live, t + 1)
        bound = best_live / penalty(length, mode, alpha)
        kth_finished = fin.score[:, -1]  # -inf until k hypotheses have finished
        code = torch.where(torch.isfinite(kth_finished) & (bound <= kth_finished), 1, code)
    code = torch.where(torch.isinf(best_live), 3, code)
    return torch.where(limits <= t, 2, code)


@dataclass
class _StepRecord:
    """What one step adds to the trace, for all sentences. Heavier fields only with record=True."""

    live_parent: Tensor  # (B, k)
    live_token: Tensor  # (B, k)
    live_token_lp: Tensor  # (B, k)
    live_logprob: Tensor  # (B, k)
    eos_token_lp: Tensor  # (B, k)
    eos_logprob: Tensor  # (B, k)
    eos_admit: Tensor  # (B, k)
    attention: Tensor | None = None  # (B, k, S) attention of each parent slot at this step
    rejected_token: Tensor | None = None  # (B, k, W) best continuations per parent slot ...
    rejected_token_lp: Tensor | None = None
    rejected_logprob: Tensor | None = None
    rejected_mask: Tensor | None = None  # ... True where not kept (at most top_n per parent)


def _record_step(sel: _Selection, new: _Live, cand: Tensor, logp: Tensor, attn: Tensor | None, record: bool,
                 top_n: int) -> _StepRecord:
    b, k, v = cand.shape
    # clone() the columns: a view would keep this step's whole (B*k, V) tensors alive until the end
    rec = _StepRecord(sel.parent, sel.token, new.token_lp[:, -1].reshape(b, k).clone(), sel.scores,
                      logp.view(b, k, v)[:, :, EOS_ID].clone(), cand[:, :, EOS_ID].clone(), sel.eos_admit)
    if not record:
        return rec
    if attn is not None:
        rec.attention = attn.view(b, k, -1)
    width = min(v, top_n + k + 1)  # a parent keeps at most k live children and one </s>
    rej_logprob, rej_token = cand.topk(width, dim=2)  # (B, k, W)
    slots = torch.arange(k, device=cand.device).view(1, k, 1, 1)
    kept_live = ((rej_token.unsqueeze(-1) == sel.token.view(b, 1, 1, k)) & (slots == sel.parent.view(b, 1, 1, k))
                 & torch.isfinite(sel.scores).view(b, 1, 1, k)).any(-1)  # (B, k, W)
    kept_eos = (rej_token == EOS_ID) & sel.eos_admit.unsqueeze(-1)
    rejected = ~(kept_live | kept_eos) & torch.isfinite(rej_logprob)
    rec.rejected_mask = rejected & (rejected.cumsum(dim=2) <= top_n)
    rec.rejected_token, rec.rejected_logprob = rej_token, rej_logprob
    rec.rejected_token_lp = logp.view(b, k, v).gather(2, rej_token)
    return rec


def _check_options(beam_size: int, nbest: int, mode: str, alpha: float, stopping: str) -> None:
    if stopping not in STOPPING_RULES:
        raise ValueError(f"stopping must be one of {STOPPING_RULES}, got {stopping!r}")
    if beam_size < 1 or not 1 <= nbest <= beam_size:
        raise ValueError(f"need beam_size >= 1 and 1 <= nbest <= beam_size, got beam {beam_size}, nbest {nbest}")
    if mode not in LENGTH_PENALTIES:
        raise ValueError(f"length penalty must be one of {LENGTH_PENALTIES}, got {mode!r}")
    if mode == "gnmt" and alpha < 0:  # the stopping rule needs a penalty that grows with length
        raise ValueError(f"the gnmt length penalty needs alpha >= 0, got {alpha}")


@torch.inference_mode()
def beam_search(model: Seq2Seq, src: Tensor, src_lengths: Tensor, *, beam_size: int = 5, nbest: int = 1,
                length_penalty: str = "none", alpha: float = 0.6, max_ratio: float = 2.0,
                max_len: int | None = None, record: bool = False, top_n_rejected: int = 5,
                prefix: Prefix = None, constraints: Constraints = None,
                intervention: Intervention | None = None, tgt_tokenizer: Any = None,
                stopping: str = "exact") -> list[BeamResult]:
    """Batched beam search. src: (B, S) ids with </s> (``batching.make_batch``); src_lengths: (B,).

    Returns one ``BeamResult`` per sentence: the ``nbest`` best complete hypotheses (each with its own
    attention matrix) and the trace (always; attention rows and rejected continuations only with
    ``record=True``, which never changes the output). ``prefix``: ids forced at the first steps (shared or
    one list per sentence); ``constraints``: ``{step: {"force": id} | {"block": [ids]}}`` (shared or per
    sentence); ``max_len`` clamps the ratio rule; ``tgt_tokenizer`` adds pieces to the trace.
    ``stopping``: ``"exact"`` (the proven bound: the same n-best list as running to the cap),
    ``"heuristic"`` (the usual toolkit rule: faster with a length penalty, rarely a different result) or
    ``"never"`` (every sentence runs to its cap: the reference for tests and for teaching).
    """
    mode, k = length_penalty, beam_size
    _check_options(k, nbest, mode, alpha, stopping)
    b, device = src.shape[0], src.device
    prefixes = normalise_prefix(prefix, b)
    bans = TokenBans(model.cfg.tgt_vocab_size, b, prefixes, constraints, device)
    limits = output_limits(src_lengths, max_ratio, max_len, [len(p) + 1 for p in prefixes])  # (B,) CPU
    big_l = int(limits.max())

    enc = model.encode(src, src_lengths).index_select(torch.arange(b, device=device).repeat_interleave(k))
    live, fin = _initial_beams(model, enc, b, k, big_l)
    pool = fin  # the pool of every sentence; ``fin`` holds the searching ones (rows of ``active``)
    active = torch.arange(b)  # CPU: the sentences still searching, in batch order
    active_dev, limits_dev = active.to(device), limits.to(device)
    done, stop_step = [0] * b, [0] * b  # stop code and step per sentence
    records: list[tuple[Tensor, _StepRecord]] = []
    for t in range(1, big_l + 1):
        n = active.numel()
        banned = bans.at(t - 1, k, None if n == b else active_dev)
        logp, state, attn = _expand(model, live.y, live.state, enc, bans, banned, intervention)
        cand = live.scores.unsqueeze(-1) + logp.view(n, k, -1)  # (n, k, V)
        sel = _top_k_continuations(cand)
        new = _reorder(live, sel, logp, attn, state)
        at_limit = (limits_dev == t) if bool((limits[active] == t).any()) else None
        if at_limit is not None or bool(sel.eos_admit.any()):  # most steps finish nothing: skip the merge
            fin = _update_finished(fin, live, new, sel, cand, logp, attn, t, at_limit, mode, alpha)
        records.append((active_dev, _record_step(sel, new, cand, logp, attn, record, top_n_rejected)))
        code = _is_done(sel.scores, fin, limits_dev, t, mode, alpha, stopping).cpu()
        stopped = code > 0
        live = new
        if not bool(stopped.any()):
            continue
        for i, c in zip(active[stopped].tolist(), code[stopped].tolist()):
            done[i], stop_step[i] = c, t
        pool = _write_rows(pool, fin, active_dev, stopped.to(device))
        if bool(stopped.all()):
            break
        keep = (~stopped).nonzero().view(-1)
        keep_dev = keep.to(device)
        live, fin, enc = _keep_sentences(live, fin, enc, keep_dev, k)
        active, active_dev, limits_dev = active[keep], active_dev[keep_dev], limits_dev[keep_dev]
    settings = {"beam_size": k, "nbest": nbest, "length_penalty": mode, "alpha": alpha, "max_ratio": max_ratio,
                "stopping": stopping, "record": record, "top_n_rejected": top_n_rejected if record else 0}
    return _collect(records, pool, done, stop_step, src, src_lengths, limits, settings, tgt_tokenizer)


def _fields(x: Any) -> list[Any]:
    return [getattr(x, name) for name in x.__dataclass_fields__]


def _keep_sentences(live: _Live, fin: _Finished, enc: EncoderOutput, keep: Tensor,
                    k: int) -> tuple[_Live, _Finished, EncoderOutput]:
    """Drop the sentences that stopped: keep the rows of ``keep`` (positions among the searching
    sentences) in the live beams, their k model rows each, the pool and the encoder output."""
    rows = (keep.unsqueeze(1) * k + torch.arange(k, device=keep.device)).view(-1)  # (len(keep) * k,)
    pick = lambda x: None if x is None else x.index_select(0, rows)  # noqa: E731
    live = _Live(live.scores.index_select(0, keep), pick(live.y), pick(live.tokens), pick(live.token_lp),
                 pick(live.attention), live.state.index_select(rows))
    fin = _Finished(*(None if x is None else x.index_select(0, keep) for x in _fields(fin)))
    return live, fin, enc.index_select(rows)


def _write_rows(pool: _Finished, fin: _Finished, active: Tensor, stopped: Tensor) -> _Finished:
    """Copy the pool entries of the sentences that just stopped (``stopped`` marks rows of ``fin``,
    whose sentences are ``active``) into the pool of the whole batch."""
    rows = stopped.nonzero().view(-1)
    where = active.index_select(0, rows)
    return _Finished(*(None if whole is None else whole.index_copy(0, where, part.index_select(0, rows))
                       for whole, part in zip(_fields(pool), _fields(fin))))


def _initial_beams(model: Seq2Seq, enc: EncoderOutput, b: int, k: int, big_l: int) -> tuple[_Live, _Finished]:
    """One live hypothesis (<s>, score 0) per sentence in slot 0; the other slots empty (-inf)."""
    device, dtype = enc.outputs.device, enc.outputs.dtype
    dtype = torch.float64 if dtype == torch.float64 else torch.float32
    scores = torch.full((b, k), NEG_INF, dtype=dtype, device=device)
    scores[:, 0] = 0.0
    s = enc.outputs.shape[1]
    attention = None if model.attention is None else torch.zeros(b * k, 0, s, dtype=dtype, device=device)
    live = _Live(scores, torch.full((b * k,), BOS_ID, dtype=torch.long, device=device),
                 torch.zeros(b * k, 0, dtype=torch.long, device=device),
                 torch.zeros(b * k, 0, dtype=dtype, device=device),
                 attention, model.init_state(enc))
    empty = torch.full((b, k), NEG_INF, dtype=dtype, device=device)
    fin = _Finished(empty, empty.clone(), torch.zeros(b, k, dtype=torch.long, device=device),
                    torch.zeros(b, k, dtype=torch.long, device=device),
                    torch.full((b, k, big_l), PAD_ID, dtype=torch.long, device=device),
                    torch.zeros(b, k, big_l, dtype=dtype, device=device),
                    None if attention is None else torch.zeros(b, k, big_l, s, dtype=dtype, device=device))
    return live, fin


# --------------------------------------------------------------------------------------- results
class _Pieces:
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


def _stack_records(records: list[tuple[Tensor, _StepRecord]], batch: int) -> dict[str, np.ndarray]:
    """Per field, one (B, T, ...) host array from the steps' records, each covering the sentences still
    searching at that step (one device-to-host copy per field). Entries after a sentence's stop step
    are zero and never read."""
    sentence = torch.cat([active for active, _ in records]).cpu().numpy()
    step = np.repeat(np.arange(len(records)), [active.numel() for active, _ in records])
    stacked = {}
    for name in records[0][1].__dataclass_fields__:
        if getattr(records[0][1], name) is None:
            continue
        values = torch.cat([getattr(rec, name) for _, rec in records]).cpu().numpy()
        full = np.zeros((batch, len(records), *values.shape[1:]), dtype=values.dtype)
        full[sentence, step] = values
        stacked[name] = full
    return stacked


def _collect(records: list[tuple[Tensor, _StepRecord]], fin: _Finished, codes: list[int], stops: list[int],
             src: Tensor, src_lengths: Tensor, limits: Tensor, settings: dict[str, Any],
             tgt_tokenizer: Any) -> list[BeamResult]:
    """Move everything to the host once and build per-sentence hypotheses and traces."""
    host = lambda x: None if x is None else x.cpu().numpy()  # noqa: E731
    stacked = _stack_records(records, src.shape[0])  # (B, T, ...)
    pool = {name: host(getattr(fin, name)) for name in fin.__dataclass_fields__}
    src_np = src.cpu().numpy()
    pieces = _Pieces(tgt_tokenizer)
    results = []
    for b in range(src.shape[0]):
        s_len = int(src_lengths[b])
        sent = {name: arr[b, :stops[b]] for name, arr in stacked.items()}
        trace, key_to_id = _build_trace(sent, settings, int(limits[b]), s_len, pieces)
        nbest = settings["nbest"]
        hyps = []
        for r in range(nbest):
            if not np.isfinite(pool["score"][b, r]):
                break
            n = int(pool["length"][b, r])
            node = int(key_to_id[pool["key"][b, r]])
            tokens = tuple(int(x) for x in pool["tokens"][b, r, :n])
            att = None if pool["attention"] is None else pool["attention"][b, r, :n, :s_len]
            hyps.append(Hypothesis(tokens, pool["token_lp"][b, r, :n], float(pool["logprob"][b, r]),
                                   float(trace.score[node]), att, node, pieces(tokens)))
        trace = replace(trace, source=tuple(int(x) for x in src_np[b, :s_len]),
                               hypotheses=tuple(h.node for h in hyps), stop_step=stops[b],
                               stop_reason=STOP_REASONS[codes[b]])
        results.append(BeamResult(hyps, trace))
    return results


def _build_trace(sent: dict[str, np.ndarray], settings: dict[str, Any], limit: int, s_len: int,
                 pieces: _Pieces) -> tuple[BeamTrace, np.ndarray]:
    """Number the nodes of one sentence: root 0, then step by step the valid live slots followed by the
    admitted </s> continuations. Returns the trace and the map from pool keys to node ids."""
    live_lp = sent["live_logprob"]  # (T, k)
    n_steps, k = live_lp.shape
    valid = np.concatenate([np.isfinite(live_lp), sent["eos_admit"]], axis=1)  # (T, 2k): live | </s> columns
    ids = np.full(valid.shape, -1, dtype=np.int64)
    ids[valid] = np.arange(1, int(valid.sum()) + 1)
    root_row = np.full((1, k), -1, dtype=np.int64)
    root_row[0, 0] = 0
    prev_live = np.concatenate([root_row, ids[:-1, :k]])  # (T, k) node id in each slot before step t

    def nodes(root: Any, live: np.ndarray, eos: Any) -> np.ndarray:
        """One value per node: the root's, then the valid (live | </s>) entries step by step."""
        both = np.concatenate([live, np.broadcast_to(eos, live.shape)], axis=1)[valid]
        return np.concatenate([np.asarray([root], dtype=both.dtype), both])

    steps = np.broadcast_to(np.arange(1, n_steps + 1)[:, None], (n_steps, k))
    slots = np.broadcast_to(np.arange(k), (n_steps, k))
    step = nodes(0, steps, steps)
    logprob = nodes(0.0, live_lp, sent["eos_logprob"])
    token = nodes(BOS_ID, sent["live_token"], EOS_ID)
    lp_args = settings["length_penalty"], settings["alpha"]
    rejected = attention = None
    if "attention" in sent:  # a node's attention row is its parent slot's row at that step
        att = sent["attention"][:, :, :s_len]  # (T, k, S)
        live_att = np.take_along_axis(att, sent["live_parent"][:, :, None], axis=1)
        attention = np.concatenate([np.full((1, s_len), np.nan), np.concatenate([live_att, att], axis=1)[valid]])
    if "rejected_mask" in sent:
        mask = sent["rejected_mask"]  # (T, k, W)
        rej_lp = sent["rejected_logprob"][mask]
        rej_step = np.broadcast_to(steps[:, :, None], mask.shape)[mask]
        rej_token = sent["rejected_token"][mask]
        rejected = RejectedContinuations(np.broadcast_to(prev_live[:, :, None], mask.shape)[mask], rej_token,
                                         sent["rejected_token_lp"][mask], rej_lp, rej_lp / penalty(rej_step, *lp_args),
                                         pieces(rej_token))
    trace = BeamTrace(
        settings={**settings, "max_len": limit}, source=(), step=step, beam=nodes(-1, slots, slots),
        parent=nodes(-1, np.take_along_axis(prev_live, sent["live_parent"], axis=1), prev_live), token=token,
        token_logprob=nodes(0.0, sent["live_token_lp"], sent["eos_token_lp"]), logprob=logprob,
        score=logprob / penalty(np.maximum(step, 1), *lp_args),
        finished=nodes(False, steps == limit, True), hypotheses=(), stop_step=0, stop_reason="",
        pieces=pieces(token), attention=attention, rejected=rejected)
    return trace, ids.reshape(-1)
