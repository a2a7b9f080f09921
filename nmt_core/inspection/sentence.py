"""Running ONE sentence through a model for inspection: tokens, labels, teacher forcing, greedy.

Every inspection function starts here, so they all agree on the conventions:

* the source is the tokenizer's pieces plus ``</s>`` (exactly what training feeds the encoder);
* target step t reads y_{t-1} (``<s>`` first) and predicts y_t; the last step predicts ``</s>``.
  Decoder steps are labelled by the token they *predict*, like the rows of an attention matrix;
* without a target text, the model's own greedy output is used (``Prepared.tgt_from_model``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..decoding import TokenBans, logprobs, next_token_logprobs
from ..model import Intervention, Seq2Seq, StepOutput
from ..text import normalize
from ..tokenizer import BOS_ID, EOS_ID, TokenizerPair

#: Inspection unrolls the replayed cells in Python and takes one backward pass per target token;
#: longer inputs are refused with a message rather than silently cut.
MAX_PIECES = 150
EOS_LABEL = "</s>"


@dataclass(frozen=True)
class Prepared:
    """One sentence pair as ids and labels. S = len(src_ids) (with </s>), T = len(tgt_ids) + 1."""

    src_ids: tuple[int, ...]  # source pieces + </s>
    src_pieces: tuple[str, ...]  # display labels, last is "</s>"
    src_surface: tuple[str, ...]  # sentencepiece surface pieces ("▁" marks a word start), + "</s>"
    tgt_ids: tuple[int, ...]  # y_1 .. y_n, without </s>
    tgt_pieces: tuple[str, ...]  # labels of the T decoder steps: y_1 .. y_n, "</s>"
    tgt_surface: tuple[str, ...]
    tgt_text: str
    tgt_from_model: bool  # True when the target is the model's greedy output


def device_of(model: Seq2Seq) -> torch.device:
    return next(model.parameters()).device


def prepare(model: Seq2Seq, tokenizers: TokenizerPair, src_text: str, tgt_text: str | None = None,
            *, max_ratio: float = 2.0) -> Prepared:
    """Tokenise a pair; with ``tgt_text=None`` the target is the model's greedy translation."""
    if model.training:
        raise ValueError("call model.eval() first: dropout would make every inspected number random")
    src_tok, tgt_tok = tokenizers.src, tokenizers.tgt
    src_text = normalize(src_text)
    src = src_tok.encode(src_text)
    if not src:
        raise ValueError("the source sentence is empty")
    if len(src) > MAX_PIECES:
        raise ValueError(f"inspection handles sentences up to {MAX_PIECES} pieces; this one has {len(src)}")
    src_ids = (*src, EOS_ID)
    from_model = tgt_text is None
    if from_model:
        # capped like a given target: the model's own output of a long source could reach 2 S + 5 pieces, and
        # gradient flow takes one backward pass per target piece
        tgt = greedy(model, src_ids, max_len=min(int(len(src_ids) * max_ratio) + 5, MAX_PIECES)).ids
        tgt_surface = tuple(tgt_tok.id_to_piece(i) for i in tgt)
        tgt_text = tgt_tok.decode(tgt)
    else:
        tgt_text = normalize(tgt_text)
        tgt = tgt_tok.encode(tgt_text)
        tgt_surface = tuple(tgt_tok.pieces(tgt_text))
        if len(tgt) > MAX_PIECES:
            raise ValueError(f"inspection handles sentences up to {MAX_PIECES} pieces; the target has {len(tgt)}")
    return Prepared(
        src_ids=tuple(src_ids),
        src_pieces=(*src_tok.display_pieces(src), EOS_LABEL),
        src_surface=(*src_tok.pieces(src_text), EOS_LABEL),
        tgt_ids=tuple(tgt),
        tgt_pieces=(*tgt_tok.display_pieces(tgt), EOS_LABEL),
        tgt_surface=(*tgt_surface, EOS_LABEL),
        tgt_text=tgt_text,
        tgt_from_model=from_model,
    )


def source_tensors(model: Seq2Seq, src_ids) -> tuple[Tensor, Tensor]:
    """A batch of one: src (1, S) on the model's device, lengths (1,) on the CPU."""
    src = torch.tensor([list(src_ids)], dtype=torch.long, device=device_of(model))
    return src, torch.tensor([len(src_ids)])


@dataclass
class Forward:
    """A teacher-forced pass kept with its graph: the encoder output and every decoder step."""

    enc: object  # model.EncoderOutput
    steps: list[StepOutput]  # one per target position (T)
    log_probs: Tensor  # (T,) log p(y_t | y_<t, x) of the target tokens (y_T = </s>)


def teacher_forced(model: Seq2Seq, prep: Prepared, *, trace: bool = True,
                   intervention: Intervention | None = None, copies: int = 1) -> Forward:
    """Run encoder and decoder step by step on ``prep``'s target (graph kept; call under grad or not).

    ``copies > 1`` runs that many identical rows as one batch and returns log-probs of shape
    (copies, T): rows are independent, so one backward pass of ``sum_t log_probs[t, t]`` gives every
    row t the gradient of its own log p(y_t) — T gradients for the price of one batched pass.
    """
    src, lengths = source_tensors(model, prep.src_ids)
    if copies > 1:
        src, lengths = src.expand(copies, -1).contiguous(), lengths.expand(copies).contiguous()
    enc = model.encode(src, lengths, trace=trace, intervention=intervention)
    state = model.init_state(enc)
    inputs = (BOS_ID, *prep.tgt_ids)  # what step t reads
    outputs = (*prep.tgt_ids, EOS_ID)  # what step t should predict
    steps, log_probs = [], []
    for y_prev, y in zip(inputs, outputs):
        step = model.decode_step(torch.full((copies,), y_prev, device=src.device), state, enc, trace=trace,
                                 intervention=intervention)
        state = step.state
        steps.append(step)
        log_probs.append(logprobs(step.logits)[:, y])  # (copies,)
    table = torch.stack(log_probs, dim=1)  # (copies, T)
    return Forward(enc, steps, table[0] if copies == 1 else table)


@dataclass(frozen=True)
class Decoded:
    ids: tuple[int, ...]  # output tokens without </s>
    log_probs: tuple[float, ...]  # per step, including the final </s> step when it was produced
    attention: tuple[tuple[float, ...], ...] | None  # per step, (S,) each; None without attention
    finished: bool  # False when the length cap stopped it


@torch.no_grad()
def greedy(model: Seq2Seq, src_ids, *, max_len: int, intervention: Intervention | None = None) -> Decoded:
    """Argmax decoding of one sentence, with an optional intervention. Gate clamps run on the replay
    path (trace=True); everything else uses the fused kernels, like ordinary decoding."""
    trace = bool(intervention is not None and intervention.clamp_gates)
    src, lengths = source_tensors(model, src_ids)
    enc = model.encode(src, lengths, trace=trace, intervention=intervention)
    state = model.init_state(enc)
    bans = TokenBans(model.cfg.tgt_vocab_size, 1, [[]], None, src.device)
    y = torch.tensor([BOS_ID], device=src.device)
    ids, log_probs, attention = [], [], []
    for _ in range(max_len):
        logp, state, weights = next_token_logprobs(model, y, state, enc, bans, intervention=intervention, trace=trace)
        logp = logp[0]
        y = logp.argmax().view(1)
        log_probs.append(float(logp[y]))
        if weights is not None:
            attention.append(tuple(weights[0].float().tolist()))
        if int(y) == EOS_ID:
            return Decoded(tuple(ids), tuple(log_probs), tuple(attention) if attention else None, True)
        ids.append(int(y))
    return Decoded(tuple(ids), tuple(log_probs), tuple(attention) if attention else None, False)


def word_groups(surface: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Group sentencepiece pieces into whitespace words: a piece starting with "▁" starts a word.

    Returns (words, word index of every piece); the final "</s>" gets index -1. The words are the
    whitespace tokens of the normalised sentence, the unit gold alignments count in.
    """
    words: list[str] = []
    index: list[int] = []
    for piece in surface:
        if piece == EOS_LABEL:
            index.append(-1)
            continue
        if piece.startswith("▁") or not words:
            words.append(piece.lstrip("▁"))
        else:
            words[-1] += piece
        index.append(len(words) - 1)
    return tuple(words), tuple(index)
