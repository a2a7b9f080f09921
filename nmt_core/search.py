"""Greedy search and batched beam search that returns its own trace.

Every mode (these two, ``reference_search.py``, ``sampling.py``, ``scoring.py``) takes its log-probabilities
from the one public decoding step, ``decoding.next_token_logprobs`` (the model's ``Seq2Seq.decode_step``, then a
log-softmax, then the bans). What each step records and how the records become traces is ``beam_records.py``;
``reference_search.py`` is the same algorithm for one sentence in the lecture's terms, proven equal by a test.

Beam search (batched over sentences and beams; the B*k hypotheses are the model's batch rows) is
written as small named steps, after HF's refactored ``_beam_search``:

  1. ``next_token_logprobs``     one decoder step for every live hypothesis -> log p(y | prefix)
  2. ``top_k_continuations``    candidates = cumulative + log p over k*V per sentence; keep the top 2k
  3. ``reorder``                backpointers pick rows of the decoder state, tokens and attention
  4. ``update_finished``        </s> continuations ranked in the top k (and, at the length cap, the
                                 live ones) enter the per-sentence pool of the k best finished
  5. ``is_done``                the stopping rule, exact for the scoring in use (see below)

The live beam always holds the k best unfinished continuations (when that many exist). A hypothesis
is complete when it ends with </s> or reaches the cap ``max_len`` (= ratio * source length + 5 tokens,
or a given cap). Scores: logprob / length_penalty(len), with len counting </s> (``decoding.length_penalty``).

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

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from . import beam_records
from .decoding import (
    LENGTH_PENALTIES,
    NEG_INF,
    Constraints,
    Prefix,
    TokenBans,
    next_token_logprobs,
    normalise_prefix,
    output_limits,
)
from .decoding import length_penalty as penalty
from .hypotheses import BeamResult
from .model import DecoderState, EncoderOutput, Intervention, Seq2Seq
from .tokenizer import BOS_ID, EOS_ID, PAD_ID

STOPPING_RULES = ("exact", "heuristic", "never")



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
        logp, state, _ = next_token_logprobs(model, y, state, enc, bans, None, intervention)
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
# The parts of a beam step (LiveBeams, FinishedPool, BeamSelection and the functions on them) are public so that
# the Cost X-ray (``inspection/cost.py``) times exactly the functions the search runs, not a copy of them.
@dataclass
class LiveBeams:
    """The k live hypotheses of every sentence, flattened to B*k model rows (sentence-major)."""

    scores: Tensor  # (B, k) cumulative log-probs; -inf marks an empty slot
    y: Tensor  # (B*k,) last token
    tokens: Tensor  # (B*k, t) ids so far
    token_lp: Tensor  # (B*k, t)
    attention: Tensor | None  # (B*k, t, S)
    state: DecoderState


@dataclass
class FinishedPool:
    """The k best finished hypotheses per sentence, best first, padded to the longest cap L."""

    score: Tensor  # (B, k) penalised score; -inf for an empty entry
    logprob: Tensor  # (B, k)
    key: Tensor  # (B, k) trace key: step index * 2k + column (live slot, or k + parent slot for </s>)
    length: Tensor  # (B, k)
    tokens: Tensor  # (B, k, L)
    token_lp: Tensor  # (B, k, L)
    attention: Tensor | None  # (B, k, L, S)


@dataclass
class BeamSelection:
    scores: Tensor  # (B, k) cumulative log-probs of the new live hypotheses
    parent: Tensor  # (B, k) their slot in the previous beam
    token: Tensor  # (B, k) their last token
    eos_admit: Tensor  # (B, k) bool: slot j's </s> continuation ranks among the sentence's k best


def top_k_continuations(cand: Tensor) -> BeamSelection:
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
    return BeamSelection(live_scores, live_idx // v, live_idx % v, eos_admit)


def reorder(live: LiveBeams, sel: BeamSelection, logp: Tensor, attn: Tensor | None, state: DecoderState) -> LiveBeams:
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
    return LiveBeams(sel.scores, y, tokens, token_lp, attention, state.index_select(rows))


def _pad_to(x: Tensor, length: int, value: float) -> Tensor:
    """Pad dim 1 of (N, t, ...) to ``length``."""
    if x.shape[1] == length:
        return x
    shape = (x.shape[0], length - x.shape[1], *x.shape[2:])
    return torch.cat([x, x.new_full(shape, value)], dim=1)


def update_finished(fin: FinishedPool, prev: LiveBeams, new: LiveBeams, sel: BeamSelection, cand: Tensor, logp: Tensor,
                    attn: Tensor | None, t: int, at_limit: Tensor | None, mode: str, alpha: float) -> FinishedPool:
    """Merge this step's finished hypotheses into the pool and keep the k best by penalised score:
    </s> continuations admitted by ``top_k_continuations`` and, for sentences at their cap, the live ones."""
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
    return FinishedPool(best_score, gather(logprob), gather(key), gather(length), gather(tokens), gather(token_lp),
                     attention)


def is_done(live_scores: Tensor, fin: FinishedPool, limits: Tensor, t: int, mode: str, alpha: float,
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


def _check_options(beam_size: int, nbest: int, mode: str, alpha: float, stopping: str, record: bool = False,
                   trace: bool = True) -> None:
    if record and not trace:
        raise ValueError("record=True writes into the trace: it needs trace=True")
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
                stopping: str = "exact", trace: bool = True) -> list[BeamResult]:
    """Batched beam search. src: (B, S) ids with </s> (``batching.make_batch``); src_lengths: (B,).

    Returns one ``BeamResult`` per sentence: the ``nbest`` best complete hypotheses (each with its own
    attention matrix) and the trace (attention rows and rejected continuations only with ``record=True``;
    none with ``trace=False``, for text only: neither changes the output). ``prefix``: ids forced at the first
    steps (shared or per sentence); ``constraints``: ``{step: {"force": id} | {"block": [ids]}}`` (shared or per
    sentence); ``max_len`` clamps the ratio rule; ``tgt_tokenizer`` adds pieces to the trace.
    ``stopping``: ``"exact"`` (the proven bound: the same n-best list as running to the cap),
    ``"heuristic"`` (the usual toolkit rule: faster with a length penalty, rarely a different result) or
    ``"never"`` (every sentence runs to its cap: the reference for tests and for teaching).
    """
    mode, k = length_penalty, beam_size
    _check_options(k, nbest, mode, alpha, stopping, record, trace)
    b, device = src.shape[0], src.device
    prefixes = normalise_prefix(prefix, b)
    bans = TokenBans(model.cfg.tgt_vocab_size, b, prefixes, constraints, device)
    limits = output_limits(src_lengths, max_ratio, max_len, [len(p) + 1 for p in prefixes])  # (B,) CPU
    big_l = int(limits.max())

    enc = model.encode(src, src_lengths).index_select(torch.arange(b, device=device).repeat_interleave(k))
    live, fin = initial_beams(model, enc, b, k, big_l)
    pool = fin  # the pool of every sentence; ``fin`` holds the searching ones (rows of ``active``)
    active = torch.arange(b)  # CPU: the sentences still searching, in batch order
    active_dev, limits_dev = active.to(device), limits.to(device)
    done, stop_step = [0] * b, [0] * b  # stop code and step per sentence
    records: list[tuple[Tensor, beam_records.StepRecord]] = []
    for t in range(1, big_l + 1):
        n = active.numel()
        banned = bans.at(t - 1, k, None if n == b else active_dev)
        logp, state, attn = next_token_logprobs(model, live.y, live.state, enc, bans, banned, intervention)
        cand = live.scores.unsqueeze(-1) + logp.view(n, k, -1)  # (n, k, V)
        sel = top_k_continuations(cand)
        new = reorder(live, sel, logp, attn, state)
        at_limit = (limits_dev == t) if bool((limits[active] == t).any()) else None
        if at_limit is not None or bool(sel.eos_admit.any()):  # most steps finish nothing: skip the merge
            fin = update_finished(fin, live, new, sel, cand, logp, attn, t, at_limit, mode, alpha)
        if trace:
            records.append((active_dev, beam_records.record_step(sel, new, cand, logp, attn, record, top_n_rejected)))
        code = is_done(sel.scores, fin, limits_dev, t, mode, alpha, stopping).cpu()
        stopped, live = code > 0, new
        if not bool(stopped.any()):
            continue
        for i, c in zip(active[stopped].tolist(), code[stopped].tolist()):
            done[i], stop_step[i] = c, t
        pool = _write_rows(pool, fin, active_dev, stopped.to(device))
        if bool(stopped.all()):
            break
        keep = (~stopped).nonzero().view(-1)
        live, fin, enc = _keep_sentences(live, fin, enc, keep_dev := keep.to(device), k)
        active, active_dev, limits_dev = active[keep], active_dev[keep_dev], limits_dev[keep_dev]
    settings = {"beam_size": k, "nbest": nbest, "length_penalty": mode, "alpha": alpha, "max_ratio": max_ratio,
                "stopping": stopping, "record": record, "top_n_rejected": top_n_rejected if record else 0}
    return beam_records.collect_results(records if trace else None, pool, done, stop_step, src, src_lengths, limits,
                                        settings, tgt_tokenizer)


def _fields(x: Any) -> list[Any]:
    return [getattr(x, name) for name in x.__dataclass_fields__]


def _keep_sentences(live: LiveBeams, fin: FinishedPool, enc: EncoderOutput, keep: Tensor,
                    k: int) -> tuple[LiveBeams, FinishedPool, EncoderOutput]:
    """Drop the sentences that stopped: keep the rows of ``keep`` (positions among the searching
    sentences) in the live beams, their k model rows each, the pool and the encoder output."""
    rows = (keep.unsqueeze(1) * k + torch.arange(k, device=keep.device)).view(-1)  # (len(keep) * k,)
    pick = lambda x: None if x is None else x.index_select(0, rows)  # noqa: E731
    live = LiveBeams(live.scores.index_select(0, keep), pick(live.y), pick(live.tokens), pick(live.token_lp),
                 pick(live.attention), live.state.index_select(rows))
    fin = FinishedPool(*(None if x is None else x.index_select(0, keep) for x in _fields(fin)))
    return live, fin, enc.index_select(rows)


def _write_rows(pool: FinishedPool, fin: FinishedPool, active: Tensor, stopped: Tensor) -> FinishedPool:
    """Copy the pool entries of the sentences that just stopped (``stopped`` marks rows of ``fin``,
    whose sentences are ``active``) into the pool of the whole batch."""
    rows = stopped.nonzero().view(-1)
    where = active.index_select(0, rows)
    return FinishedPool(*(None if whole is None else whole.index_copy(0, where, part.index_select(0, rows))
                       for whole, part in zip(_fields(pool), _fields(fin))))


def initial_beams(model: Seq2Seq, enc: EncoderOutput, b: int, k: int, big_l: int) -> tuple[LiveBeams, FinishedPool]:
    """One live hypothesis (<s>, score 0) per sentence in slot 0; the other slots empty (-inf)."""
    device, dtype = enc.outputs.device, enc.outputs.dtype
    dtype = torch.float64 if dtype == torch.float64 else torch.float32
    scores = torch.full((b, k), NEG_INF, dtype=dtype, device=device)
    scores[:, 0] = 0.0
    s = enc.outputs.shape[1]
    attention = None if model.attention is None else torch.zeros(b * k, 0, s, dtype=dtype, device=device)
    live = LiveBeams(scores, torch.full((b * k,), BOS_ID, dtype=torch.long, device=device),
                 torch.zeros(b * k, 0, dtype=torch.long, device=device),
                 torch.zeros(b * k, 0, dtype=dtype, device=device),
                 attention, model.init_state(enc))
    empty = torch.full((b, k), NEG_INF, dtype=dtype, device=device)
    fin = FinishedPool(empty, empty.clone(), torch.zeros(b, k, dtype=torch.long, device=device),
                    torch.zeros(b, k, dtype=torch.long, device=device),
                    torch.full((b, k, big_l), PAD_ID, dtype=torch.long, device=device),
                    torch.zeros(b, k, big_l, dtype=dtype, device=device),
                    None if attention is None else torch.zeros(b, k, big_l, s, dtype=dtype, device=device))
    return live, fin
