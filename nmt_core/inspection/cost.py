"""The cost X-ray: where the time and the arithmetic of one beam-search step go, component by component.

Why: a decoding step of the shipped models is mostly *one* matrix product, the output layer (hidden 256 x 8,000
target pieces), not the recurrent cell the lecture spends its time on; and that is exactly what fast mode's
shortlist attacks (``fast_mode.py``). Seeing it for the sentence on screen is the lesson.

How: ``decoding_cost`` runs the beam search of one sentence for real (the steps of ``search.beam_search``, its own
helpers, one sentence, no length penalty, the exact stopping rule) and at every step times, on that step's real
tensors, each component on its own, ``repeats`` times (the median counts):

  embedding           the previous tokens' target embeddings (a lookup)
  recurrent cell      [embedding; input feed] through the decoder stack for one step (fused or int8 cell)
  attention           query projection, scores, softmax, context (``Attention.forward``)
  combine             h~ = tanh(W_c [context; s]) (Luong et al. 2015)
  output layer        the logits over every target piece the model scores (V, or the shortlist's size)
  log-softmax         the log-softmax and the token bans (``decoding.next_token_logprobs``)
  search bookkeeping  top-k over k*V, backpointer reorder, the finished pool, the trace record, the stop test

and, as a check on the decomposition, the whole step as the search runs it (``next_token_logprobs`` + the
bookkeeping), so a reader sees how much the separately timed parts leave over ("rest of the step": Python glue).

FLOPs are analytic, matrix products only (the convention of ``bench/train_throughput.py``, which reads its
formulas from here): lookups, elementwise work (sigmoid, softmax) and the top-k count zero, which is one
reason time shares and FLOP shares differ. The int8 model does the same FLOPs in int8 (the report says so).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
from torch import Tensor

from .. import beam_records
from ..batching import make_batch
from ..config import ModelConfig
from ..decoding import TokenBans, logprobs, next_token_logprobs, output_limits
from ..fast_mode import EXACT, FastMode
from ..limits import LimitError
from ..model import DecoderState, EncoderOutput, Seq2Seq
from ..search import FinishedPool, LiveBeams, initial_beams, is_done, reorder, top_k_continuations, update_finished
from ..tokenizer import EOS_ID
from ..translator import Translator, check_decoding

COMPONENTS = ("embedding", "recurrent cell", "attention", "combine", "output layer", "log-softmax",
              "search bookkeeping")
REST = "rest of the step"
#: Components whose matrices fast mode's int8 quantises (the attention's query projection only; scores stay float).
INT8_COMPONENTS = {"recurrent cell": "int8", "attention": "int8 query projection, float32 scores",
                   "combine": "int8", "output layer": "int8"}
DEFAULT_REPEATS, MAX_REPEATS = 5, 25
#: Steps timed component by component; a longer search runs its remaining steps untimed (a model that babbles to
#: the length cap would otherwise hold a shared server for every one of its steps x components x repeats).
MAX_TIMED_STEPS = 40
GATES = {"lstm": 4, "gru": 3, "rnn": 1}


# --------------------------------------------------------------------------------------- FLOPs
def step_flops(cfg: ModelConfig, src_len: int) -> dict[str, int]:
    """Matrix-product FLOPs of one decoding step for one hypothesis (row), per component; ``src_len`` counts the
    source pieces and </s>. Multiply by the rows (the beam) for a step. The output layer is 2*H*V with V the
    pieces the model scores (a shortlist model's config holds the shortlist's size)."""
    g, e, h, v = GATES[cfg.cell], cfg.embedding_size, cfg.hidden_size, cfg.tgt_vocab_size
    he = h * (2 if cfg.bidirectional else 1)
    first_input = e + (h if cfg.input_feeding else 0)
    recurrent = sum(2 * g * h * ((first_input if k == 0 else h) + h) for k in range(cfg.decoder_layers))
    if cfg.attention == "none":
        attention, combine = 0, 2 * h * h
    else:
        query = 2 * h * h if cfg.attention == "additive" else 0
        attention, combine = query + src_len * (2 * h + 2 * he), 2 * (he + h) * h
    return {"embedding": 0, "recurrent cell": recurrent, "attention": attention, "combine": combine,
            "output layer": 2 * h * v, "log-softmax": 0, "search bookkeeping": 0}


def sentence_flops(cfg: ModelConfig, src_len: int) -> int:
    """Matrix-product FLOPs paid once per sentence: the encoder over ``src_len`` positions, the attention keys
    and the bridge (the decoder's initial state)."""
    g, e, h = GATES[cfg.cell], cfg.embedding_size, cfg.hidden_size
    d = 2 if cfg.bidirectional else 1
    he = d * h
    encoder = sum(d * 2 * g * h * ((e if k == 0 else he) + h) for k in range(cfg.encoder_layers))
    keys = 2 * he * h if cfg.attention != "none" and (cfg.attention != "dot" or he != h) else 0
    bridge = (2 if cfg.cell == "lstm" else 1) * 2 * he * h * cfg.decoder_layers
    return src_len * (encoder + keys) + bridge


# --------------------------------------------------------------------------------------- the report
@dataclass(frozen=True)
class CostReport:
    """What one decoding step of one sentence costs, per component, in one mode (exact or a fast mode).

    ``components``: one row per component plus ``REST`` (the whole step minus the parts; negative when the
    separate calls cost more than the step they were cut from), with columns component, ms_per_step,
    time_share (of the whole step), mflop_per_step, mflop_per_row, flop_share, arithmetic.
    ``per_step``: the median ms of every component and of the whole step at every timed step."""

    sentence: str
    translation: str
    mode: str
    int8: bool
    shortlist: bool
    beam_size: int
    device: str
    threads: int
    repeats: int
    source_pieces: int  # with </s>
    steps: int  # decoding steps the search took
    timed_steps: int
    vocab_size: int  # the model's target vocabulary V
    scored_pieces: int  # what the output layer scores: V, or the shortlist's size
    step_ms: float  # the whole step as the search runs it, mean over timed steps of the median
    encode_ms: float  # the encoder, once per sentence (not part of a step)
    sentence_mflop: float  # encoder + keys + bridge, once per sentence
    components: pd.DataFrame = field(repr=False)
    per_step: pd.DataFrame = field(repr=False)

    @property
    def parts_ms(self) -> float:
        """The separately timed components added up (without ``REST``)."""
        return float(self.components.loc[self.components.component != REST, "ms_per_step"].sum())

    def row(self, component: str) -> dict[str, Any]:
        """One component's row as a dict (KeyError for a component this model does not have)."""
        found = self.components[self.components.component == component]
        if found.empty:
            raise KeyError(component)
        return found.iloc[0].to_dict()

    def to_frame(self) -> pd.DataFrame:
        """The component table with the mode in front: what the page's CSV download holds."""
        return self.components.assign(mode=self.mode)[["mode", *self.components.columns]]


# --------------------------------------------------------------------------------------- timing
class _Clock:
    """Wall-clock milliseconds of one call, the device synchronised on both sides (GPU kernels run
    asynchronously: without the synchronise a timer measures only the launch)."""

    def __init__(self, device: torch.device):
        self.sync: Callable[[], None] = lambda: None
        if device.type == "cuda":
            self.sync = lambda: torch.cuda.synchronize(device)
        elif device.type == "mps":
            self.sync = torch.mps.synchronize

    def __call__(self, fn: Callable[[], Any]) -> float:
        self.sync()
        start = time.perf_counter()
        fn()
        self.sync()
        return (time.perf_counter() - start) * 1000.0


@dataclass
class _Search:
    """What every step of one sentence's beam search reads (one sentence: no rows ever leave the batch)."""

    model: Seq2Seq
    enc: EncoderOutput  # repeated k times, as beam search holds it
    bans: TokenBans
    limits: Tensor  # (1,) CPU output cap
    limits_dev: Tensor
    k: int


def _bookkeeping(s: _Search, live: LiveBeams, fin: FinishedPool, t: int, logp: Tensor, state: DecoderState,
                 attn: Tensor | None) -> tuple[LiveBeams, FinishedPool, int]:
    """Everything ``beam_search`` does to a step's log-probs (its own helpers, in its order, one sentence, no
    length penalty, exact stopping): returns the new live beam, the finished pool and the stop code."""
    cand = live.scores.unsqueeze(-1) + logp.view(1, s.k, -1)  # (1, k, V)
    sel = top_k_continuations(cand)
    new = reorder(live, sel, logp, attn, state)
    at_limit = (s.limits_dev == t) if bool((s.limits == t).any()) else None
    if at_limit is not None or bool(sel.eos_admit.any()):
        fin = update_finished(fin, live, new, sel, cand, logp, attn, t, at_limit, "none", 0.0)
    beam_records.record_step(sel, new, cand, logp, attn, False, 0)
    code = is_done(sel.scores, fin, s.limits_dev, t, "none", 0.0, "exact").cpu()
    return new, fin, int(code[0])


def _whole_step(s: _Search, live: LiveBeams, fin: FinishedPool, t: int) -> tuple[LiveBeams, FinishedPool, int]:
    """One step exactly as the search runs it: the shared decoding step, then the bookkeeping."""
    logp, state, attn = next_token_logprobs(s.model, live.y, live.state, s.enc, s.bans, s.bans.at(t - 1, s.k))
    return _bookkeeping(s, live, fin, t, logp, state, attn)


def _cell(model: Seq2Seq, emb: Tensor, state: DecoderState) -> tuple[Tensor, tuple[Tensor, Tensor | None]]:
    """The recurrent part of ``Seq2Seq._recurrent_step``: [embedding; input feed] through the decoder stack."""
    x = model.dropout(emb).unsqueeze(1)
    if state.feed is not None:
        x = torch.cat([x, state.feed.unsqueeze(1)], dim=-1)
    out, hc, _ = model.decoder(x, None, (state.h, state.c))
    return out, hc


def _combine(model: Seq2Seq, context: Tensor | None, s: Tensor) -> Tensor:
    """h~ = tanh(W_c [context; s]) (or tanh(W_c s) without attention), as ``Seq2Seq._attend`` computes it."""
    return torch.tanh(model.combine(s if context is None else torch.cat([context, s], dim=-1))).squeeze(1)


def _component_calls(s: _Search, live: LiveBeams, fin: FinishedPool, t: int) -> dict[str, Callable[[], Any]]:
    """Each component of step ``t`` as a call on this step's real inputs (computed here once, in order)."""
    m, enc = s.model, s.enc
    emb = m.tgt_embed(live.y)
    out, (h, c) = _cell(m, emb, live.state)
    context, weights = (None, None) if m.attention is None else m.attention(out, enc.keys, enc.outputs, enc.mask)
    attentional = _combine(m, context, out)
    logits = m.out(m.dropout(attentional))
    banned = s.bans.at(t - 1, s.k)
    logp = s.bans.apply(logprobs(logits), banned)
    state = DecoderState(h, c, attentional if m.cfg.input_feeding else None)
    attn = None if weights is None else weights.squeeze(1)
    calls = {"embedding": lambda: m.tgt_embed(live.y), "recurrent cell": lambda: _cell(m, emb, live.state),
             "attention": lambda: m.attention(out, enc.keys, enc.outputs, enc.mask),
             "combine": lambda: _combine(m, context, out), "output layer": lambda: m.out(m.dropout(attentional)),
             "log-softmax": lambda: s.bans.apply(logprobs(logits), s.bans.at(t - 1, s.k)),
             "search bookkeeping": lambda: _bookkeeping(s, live, fin, t, logp, state, attn)}
    if m.attention is None:
        del calls["attention"]
    return calls


def _time_step(s: _Search, live: LiveBeams, fin: FinishedPool, t: int, clock: _Clock, repeats: int) -> dict[str, float]:
    """Median ms of every component and of the whole step ("step") at step ``t``; the calls alternate within
    each repeat, so a burst of load elsewhere hits them all alike."""
    calls = {**_component_calls(s, live, fin, t), "step": lambda: _whole_step(s, live, fin, t)}
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, fn in calls.items():
            samples[name].append(clock(fn))
    return {name: statistics.median(values) for name, values in samples.items()}


def _start(model: Seq2Seq, src: Tensor, lengths: Tensor, k: int, clock: _Clock,
           repeats: int) -> tuple[_Search, float]:
    """Encode the sentence (timed: median of ``repeats`` after one untimed call) and set up its search."""
    enc = model.encode(src, lengths)
    encode_ms = statistics.median(clock(lambda: model.encode(src, lengths)) for _ in range(repeats))
    limits = output_limits(lengths, 2.0)  # the translator's default max_ratio
    bans = TokenBans(model.cfg.tgt_vocab_size, 1, [[]], None, src.device)
    enc = enc.index_select(torch.zeros(k, dtype=torch.long, device=src.device))
    return _Search(model, enc, bans, limits, limits.to(src.device), k), encode_ms


def _search(s: _Search, clock: _Clock, repeats: int) -> tuple[list[dict[str, float]], list[int], int]:
    """Run the beam search to its stop, timing the first ``MAX_TIMED_STEPS`` steps. Returns the timings of each
    timed step, the best finished hypothesis's tokens (as the model's positions) and the number of steps."""
    live, fin = initial_beams(s.model, s.enc, 1, s.k, int(s.limits.max()))
    timings, t = [], 0
    for t in range(1, int(s.limits.max()) + 1):
        following = _whole_step(s, live, fin, t)  # also the untimed warm-up of the whole step
        if t <= MAX_TIMED_STEPS:
            timings.append(_time_step(s, live, fin, t, clock, repeats))
        live, fin, code = following
        if code:
            break
    best = fin.tokens[0, 0, :int(fin.length[0, 0])].tolist()
    return timings, best, t


def _arithmetic(component: str, int8: bool, dtype: torch.dtype) -> str:
    """What kind of arithmetic a component does, for the table (int8 says which matrices are quantised)."""
    if int8 and component in INT8_COMPONENTS:
        return INT8_COMPONENTS[component]
    kinds = {"embedding": "a row lookup", "log-softmax": "elementwise", "search bookkeeping": "top-k, gathers"}
    return kinds.get(component, str(dtype).replace("torch.", ""))


def _tables(cfg: ModelConfig, src_len: int, k: int, timings: list[dict[str, float]], int8: bool,
            dtype: torch.dtype) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """The component table (means over the timed steps of each step's median), the per-step table and the
    whole step's ms."""
    names = [c for c in COMPONENTS if c in timings[0]]
    mean = {name: statistics.fmean(row[name] for row in timings) for name in [*names, "step"]}
    flops = step_flops(cfg, src_len)
    total = sum(flops[n] for n in names) or 1
    step_ms = mean["step"]
    rows = [{"component": n, "ms_per_step": mean[n], "time_share": mean[n] / step_ms,
             "mflop_per_step": flops[n] * k / 1e6, "mflop_per_row": flops[n] / 1e6, "flop_share": flops[n] / total,
             "arithmetic": _arithmetic(n, int8, dtype)} for n in names]
    rest = step_ms - sum(mean[n] for n in names)
    rows.append({"component": REST, "ms_per_step": rest, "time_share": rest / step_ms, "mflop_per_step": 0.0,
                 "mflop_per_row": 0.0, "flop_share": 0.0, "arithmetic": "Python between the parts"})
    per_step = pd.DataFrame([{"step": t, "component": "whole step" if name == "step" else name, "ms": ms}
                             for t, row in enumerate(timings, 1) for name, ms in row.items()])
    return pd.DataFrame(rows), per_step, step_ms


@torch.inference_mode()
def decoding_cost(translator: Translator, sentence: str, *, beam_size: int = 5, fast: FastMode = EXACT,
                  repeats: int = DEFAULT_REPEATS) -> CostReport:
    """What each component of a beam-search step costs for ``sentence`` (module docstring), in ``fast`` mode.

    ``translator``: a ``Translator`` (its device, fast models and tokenizers are used). Bounded: one sentence
    (cut like every input), ``beam_size`` within ``limits.BOUNDS``, 1..``MAX_REPEATS`` repeats, at most
    ``MAX_TIMED_STEPS`` timed steps. Raises ``LimitError`` for a bound and ``FastModeError`` for a fast mode
    the model or device cannot run (int8 off the CPU, a shortlist the checkpoint lacks)."""
    check_decoding(beam_size=beam_size)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= MAX_REPEATS:
        raise LimitError(f"repeats={repeats!r} is out of range 1..{MAX_REPEATS} (each repeat times every step "
                         "again): choose a value in 1..25")
    prepared = translator.prepare(sentence)
    batch = make_batch([prepared.ids]).to(translator.device)
    model, kept = translator.fast_models.for_batch(fast, batch.src)
    clock = _Clock(translator.device)
    search, encode_ms = _start(model, batch.src, batch.src_lengths, beam_size, clock, repeats)
    timings, best, steps = _search(search, clock, repeats)
    src_len = int(batch.src_lengths[0])
    components, per_step, step_ms = _tables(model.cfg, src_len, beam_size, timings, fast.int8,
                                            translator.model.tgt_embed.weight.dtype)
    ids = best if kept is None else kept[best].tolist()
    return CostReport(
        sentence=prepared.text, translation=translator.tokenizers.tgt.decode([i for i in ids if i != EOS_ID]),
        mode=fast.label(), int8=fast.int8, shortlist=fast.shortlist, beam_size=beam_size,
        device=str(translator.device), threads=torch.get_num_threads(), repeats=repeats, source_pieces=src_len,
        steps=steps, timed_steps=len(timings), vocab_size=translator.model.cfg.tgt_vocab_size,
        scored_pieces=model.cfg.tgt_vocab_size, step_ms=step_ms, encode_ms=encode_ms,
        sentence_mflop=sentence_flops(model.cfg, src_len) / 1e6, components=components, per_step=per_step)


# --------------------------------------------------------------------------------------- words
def explain(exact: CostReport, fast: CostReport | None = None) -> str:
    """The page's one-sentence lesson, every number from the reports: the output layer's share of the exact
    step's time and FLOPs, and what the chosen fast mode changes."""
    out = exact.row("output layer")
    text = (f"The output layer is {out['time_share']:.0%} of this step's time and {out['flop_share']:.0%} of its "
            f"FLOPs (V = {exact.vocab_size:,} target pieces)")
    if fast is not None and fast.shortlist:
        shown = fast.row("output layer")
        text += (f"; with the shortlist it scores {fast.scored_pieces:,} pieces and is {shown['time_share']:.0%} "
                 f"of a step that takes {fast.step_ms:.2f} ms instead of {exact.step_ms:.2f} ms")
    elif fast is not None and fast.int8:
        text += (f"; in int8 (the same FLOPs, as 8-bit integer multiply-adds) the step takes {fast.step_ms:.2f} ms "
                 f"instead of {exact.step_ms:.2f} ms")
    return text + "."


def timing_note(report: CostReport) -> str:
    """How a report's numbers were measured and what the separately timed parts leave over."""
    steps = (f"all {report.steps} steps" if report.timed_steps == report.steps
             else f"the first {report.timed_steps} of {report.steps} steps")
    rest = report.step_ms - report.parts_ms
    text = (f"{report.mode}: a whole step takes {report.step_ms:.3f} ms for {report.beam_size} hypotheses (mean over "
            f"{steps} of the median of {report.repeats} runs, {report.device}, {report.threads} CPU thread"
            f"{'s' if report.threads != 1 else ''}); the parts timed one by one add up to {report.parts_ms:.3f} ms, "
            f"{'leaving' if rest >= 0 else 'more than the step by'} {abs(rest):.3f} ms "
            f"({abs(rest) / report.step_ms:.0%}). Once per sentence, the encoder: {report.encode_ms:.3f} ms, "
            f"{report.sentence_mflop:.1f} MFLOP.")
    if report.int8:
        text += (" int8: the cell, the attention's query projection, the combine and the output layer multiply int8 "
                 "weights by activations quantised on the fly; their FLOPs are the float model's, as integers.")
    return text
