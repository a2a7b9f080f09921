"""What beam search writes down at each step, and how that becomes one ``BeamTrace`` per sentence.

Why a module of its own: the search (``search.py``) is about choosing hypotheses; this is bookkeeping.
Each step records k values per sentence (backpointers, tokens, log-probs, which </s> continuations were
admitted) and, with ``record=True``, the attention rows and the best rejected continuations. At the end the
records move to the host once and are numbered into trace nodes (root 0, then step by step the live slots
followed by the admitted </s> continuations), the shape docs/beam-trace.md describes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from .beam_trace import BeamTrace, RejectedContinuations
from .decoding import PieceNames
from .decoding import length_penalty as penalty
from .hypotheses import BeamResult, Hypothesis
from .tokenizer import BOS_ID, EOS_ID

if TYPE_CHECKING:
    from .search import BeamSelection, FinishedPool, LiveBeams

STOP_REASONS = ("running", "bound", "max length", "no live hypotheses")


@dataclass
class StepRecord:
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


def record_step(sel: BeamSelection, new: LiveBeams, cand: Tensor, logp: Tensor, attn: Tensor | None, record: bool,
                 top_n: int) -> StepRecord:
    b, k, v = cand.shape
    # clone() the columns: a view would keep this step's whole (B*k, V) tensors alive until the end
    rec = StepRecord(sel.parent, sel.token, new.token_lp[:, -1].reshape(b, k).clone(), sel.scores,
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


def _stack_records(records: list[tuple[Tensor, StepRecord]], batch: int) -> dict[str, np.ndarray]:
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


def collect_results(records: list[tuple[Tensor, StepRecord]] | None, fin: FinishedPool, codes: list[int],
                    stops: list[int], src: Tensor, src_lengths: Tensor, limits: Tensor, settings: dict[str, Any],
                    tgt_tokenizer: Any) -> list[BeamResult]:
    """Move everything to the host once and build per-sentence hypotheses and traces (``records=None``: the
    hypotheses only, and no trace)."""
    host = lambda x: None if x is None else x.cpu().numpy()  # noqa: E731
    stacked = None if records is None else _stack_records(records, src.shape[0])  # (B, T, ...)
    pool = {name: host(getattr(fin, name)) for name in fin.__dataclass_fields__}
    src_np = src.cpu().numpy()
    pieces = PieceNames(tgt_tokenizer)
    # every hypothesis's score from one array expression, traced or not (a scalar power may differ from the array
    # one in the last bit): its log-prob over the penalty of its length, which is its node's step in the trace
    pool_score = pool["logprob"] / penalty(np.maximum(pool["length"], 1), settings["length_penalty"],
                                            settings["alpha"])
    results = []
    for b in range(src.shape[0]):
        s_len = int(src_lengths[b])
        trace = key_to_id = None
        if stacked is not None:
            sent = {name: arr[b, :stops[b]] for name, arr in stacked.items()}
            trace, key_to_id = _build_trace(sent, settings, int(limits[b]), s_len, pieces)
        hyps = []
        for r in range(settings["nbest"]):
            if not np.isfinite(pool["score"][b, r]):
                break
            n = int(pool["length"][b, r])
            node = -1 if trace is None else int(key_to_id[pool["key"][b, r]])
            tokens = tuple(int(x) for x in pool["tokens"][b, r, :n])
            att = None if pool["attention"] is None else pool["attention"][b, r, :n, :s_len]
            hyps.append(Hypothesis(tokens, pool["token_lp"][b, r, :n], float(pool["logprob"][b, r]),
                                   float(pool_score[b, r]), att, node, pieces(tokens)))
        if trace is not None:
            trace = replace(trace, source=tuple(int(x) for x in src_np[b, :s_len]),
                            hypotheses=tuple(h.node for h in hyps), stop_step=stops[b],
                            stop_reason=STOP_REASONS[codes[b]])
        results.append(BeamResult(hyps, trace))
    return results


def _build_trace(sent: dict[str, np.ndarray], settings: dict[str, Any], limit: int, s_len: int,
                 pieces: PieceNames) -> tuple[BeamTrace, np.ndarray]:
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
