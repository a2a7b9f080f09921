"""Fast mode: opt-in approximations of the exact model, each one named, measured and reported.

Why opt-in: a teaching studio should show what a production system trades for speed, not hide it. Two
options, as in Marian and the browser translation models (docs/benchmarks.md#fast-mode has their cost):

``shortlist``  score only the batch's lexical shortlist (``shortlist.py``) instead of all target pieces: the
               output layer, the log-softmax and the top-k shrink from 8,000 columns to a few hundred or
               thousand. Implemented as *a smaller model*: the same network whose target embedding and output
               layer keep only the shortlist's rows, so the search code runs unchanged on positions
               0..n-1 and ``map_result`` turns positions back into piece ids. The specials keep their ids
               (they are the four smallest, always in the list).
``int8``       dynamic int8 quantisation (weights int8 per tensor, activations quantised on the fly, fbgemm)
               of the decoder's matrices: the recurrent cell, the attention query, the combination layer and
               the output layer. The encoder and the bridge stay float32: they run once per sentence. CPU only.

The exact model is never changed: fast versions are shallow copies that share every untouched module.
"""

from __future__ import annotations

import copy
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .beam_trace import BeamTrace
from .hypotheses import BeamResult
from .model import Seq2Seq
from .shortlist import Shortlist, ShortlistError


class FastModeError(ValueError):
    """A fast-mode option cannot be used with this model or device; one line for the user."""


@dataclass(frozen=True)
class FastMode:
    """Which approximations to use. ``FastMode()`` is the exact model."""

    int8: bool = False
    shortlist: bool = False

    @property
    def exact(self) -> bool:
        return not (self.int8 or self.shortlist)

    def label(self) -> str:
        """Short name for tables and captions: "exact", "int8", "shortlist", "int8 + shortlist"."""
        return "exact" if self.exact else " + ".join(n for n, on in (("int8", self.int8),
                                                                     ("shortlist", self.shortlist)) if on)


#: The exact model (the default everywhere).
EXACT = FastMode()


# --------------------------------------------------------------------------------------- int8
def _quiet_quantize(module: nn.Module, kinds: set[type]) -> nn.Module:
    """``quantize_dynamic`` on a copy, without its deprecation notices (torch.ao is the eager API this torch
    pins; the notices say where it moves, which changes nothing for a fixed version)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(nn.Sequential(module), kinds, dtype=torch.qint8)[0]


_CELLS = {nn.LSTM: nn.LSTMCell, nn.GRU: nn.GRUCell, nn.RNN: nn.RNNCell}


class Int8CellStep(nn.Module):
    """One decoder layer as a dynamically quantised cell (``torch.ao...dynamic.LSTMCell`` and its GRU/RNN
    twins), built from a one-layer, one-direction ``nn.LSTM``/``GRU``/``RNN``'s weights. ``recurrent._run_fused``
    calls ``step`` for a single decoder step; it is never used for the encoder."""

    bidirectional = False

    def __init__(self, rnn: nn.RNNBase):
        super().__init__()
        cell = _CELLS[type(rnn)](rnn.input_size, rnn.hidden_size,
                                 **({"nonlinearity": rnn.nonlinearity} if isinstance(rnn, nn.RNN) else {}))
        with torch.no_grad():
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(cell, name).copy_(getattr(rnn, f"{name}_l0"))
        self.cell, self.is_lstm = _quiet_quantize(cell, {type(cell)}), isinstance(rnn, nn.LSTM)

    def step(self, x: Tensor, h0: Tensor, c0: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None]:
        """x: (B, 1, I); h0, c0: (1, B, H). Returns output (B, 1, H), h_n (1, B, H), c_n or None."""
        if self.is_lstm:
            h, c = self.cell(x[:, 0], (h0[0], c0[0]))
            return h.unsqueeze(1), h.unsqueeze(0), c.unsqueeze(0)
        h = self.cell(x[:, 0], h0[0])
        return h.unsqueeze(1), h.unsqueeze(0), None


def _twin(module: nn.Module, **modules: nn.Module) -> Any:
    """A shallow copy of ``module`` with some submodules replaced; the original is untouched and every other
    submodule (and its weights) is shared, so a per-batch variant costs only what it replaces."""
    twin = copy.copy(module)
    twin._modules = dict(module._modules)  # noqa: SLF001  (a fresh registry: setattr must not reach the original)
    for name, sub in modules.items():
        setattr(twin, name, sub.eval())  # only the new modules: eval() on the twin would reach shared ones
    twin.training = False  # never call .to(), .train() or register_* on a twin: its other dicts are shared
    return twin


def int8_model(model: Seq2Seq) -> Seq2Seq:
    """The decoder side dynamically quantised (module docstring). Refuses a model on a GPU: the int8 kernels
    here are fbgemm's, CPU only."""
    if next(model.parameters()).device.type != "cpu":
        raise FastModeError("int8 fast mode runs on the CPU only (fbgemm kernels); use the shortlist on a GPU")
    modules: dict[str, nn.Module] = {
        "decoder": _twin(model.decoder, layers=nn.ModuleList(Int8CellStep(rnn) for rnn in model.decoder.layers)),
        "combine": _quiet_quantize(model.combine, {nn.Linear}), "out": _quiet_quantize(model.out, {nn.Linear})}
    if model.attention is not None and hasattr(model.attention, "query_proj"):
        modules["attention"] = _twin(model.attention,
                                     query_proj=_quiet_quantize(model.attention.query_proj, {nn.Linear}))
    return _twin(model, **modules)


# --------------------------------------------------------------------------------------- shortlist
def shortlist_model(model: Seq2Seq, ids: Tensor, *, int8_from: Seq2Seq | None = None) -> Seq2Seq:
    """``model`` restricted to the target ids ``ids`` (sorted, specials first): target embedding and output
    layer keep those rows; ``int8_from`` (an ``int8_model``) supplies the quantised decoder, whose output
    layer is re-quantised on the kept rows."""
    ids = ids.to(model.tgt_embed.weight.device)
    embed = nn.Embedding.from_pretrained(model.tgt_embed.weight.detach().index_select(0, ids), freeze=True)
    out = nn.Linear(model.out.in_features, len(ids), device="meta").to_empty(device=ids.device)  # no random init
    with torch.no_grad():
        out.weight.copy_(model.out.weight.index_select(0, ids))
        out.bias.copy_(model.out.bias.index_select(0, ids))
    base = model if int8_from is None else int8_from
    out_module = out if int8_from is None else _quiet_quantize(out, {nn.Linear})
    twin = _twin(base, tgt_embed=embed, out=out_module)
    twin.cfg = replace(model.cfg, tgt_vocab_size=len(ids))
    return twin


def to_positions(ids: Tensor, tokens: list[int]) -> list[int]:
    """Piece ids -> positions in the sorted shortlist ``ids`` (every token must be in it)."""
    pos = torch.searchsorted(ids, torch.as_tensor(tokens, dtype=ids.dtype)).clamp(max=len(ids) - 1)
    if not torch.equal(ids[pos], torch.as_tensor(tokens, dtype=ids.dtype)):
        raise ValueError("a forced piece is not in the shortlist")  # for_batch adds them: a bug if it happens
    return [int(p) for p in pos.tolist()]


def map_result(result: BeamResult, ids: Tensor) -> BeamResult:
    """A search result on shortlist positions -> the same result on piece ids (hypotheses and trace)."""
    table = ids.cpu().numpy()
    hyps = [replace(h, tokens=tuple(int(table[t]) for t in h.tokens)) for h in result.hypotheses]
    trace: BeamTrace | None = result.trace
    if trace is None:  # text only
        return BeamResult(hyps, None, result.src_pieces)
    rejected = trace.rejected
    if rejected is not None:
        rejected = replace(rejected, token=table[np.asarray(rejected.token, dtype=np.int64)])
    trace = replace(trace, token=table[np.asarray(trace.token, dtype=np.int64)], rejected=rejected)
    return BeamResult(hyps, trace, result.src_pieces)


def map_greedy(outputs: list[list[int]], ids: Tensor) -> list[list[int]]:
    table = ids.cpu().tolist()
    return [[table[t] for t in row] for row in outputs]


class PositionPieces:
    """A stand-in tokenizer for the search's traces: position -> the piece of its id."""

    def __init__(self, tokenizer: Any, ids: Tensor):
        self.tokenizer, self.table = tokenizer, ids.cpu().tolist()

    def id_to_piece(self, i: int) -> str:
        return self.tokenizer.id_to_piece(self.table[int(i)])


def constraint_ids(constraints: Any) -> list[int]:
    """Every piece a prefix-free constraint set forces or blocks (a forced piece must be in the shortlist)."""
    per = [constraints] if isinstance(constraints, dict) else list(constraints or [])
    return [int(i) for c in per if c for rule in c.values()
            for i in ([rule["force"]] if rule.get("force") is not None else []) + list(rule.get("block", []))]


def map_constraints(constraints: Any, ids: Tensor) -> Any:
    """Constraints on piece ids -> on shortlist positions; blocking a piece outside the list is a no-op."""
    if constraints is None:
        return None
    members = set(ids.tolist())

    def one(c: Any) -> Any:
        if not c:
            return c
        out = {}
        for step, rule in c.items():
            new = {}
            if rule.get("force") is not None:
                new["force"] = to_positions(ids, [int(rule["force"])])[0]
            kept = [int(i) for i in rule.get("block", []) if int(i) in members]
            if kept:
                new["block"] = to_positions(ids, kept)
            out[step] = new
        return out

    return one(constraints) if isinstance(constraints, dict) else [one(c) for c in constraints]


class FastModels:
    """The fast variants of one model, built on first use and then only read (safe to share between the
    studio's sessions): the int8 copy once, a shortlist copy per batch (it depends on the batch's sources).

    The stored shortlist is parsed and checked only when a fast mode asks for it, so a damaged one can never stop
    the exact model (it is reported as a ``ShortlistError`` where the shortlist is asked for)."""

    def __init__(self, model: Seq2Seq, stored_shortlist: Any = None, where: str = "checkpoint"):
        self.model, self._stored, self._where = model, stored_shortlist, where
        self._shortlist: Shortlist | None = None
        self._int8: Seq2Seq | None = None
        self._lock = threading.Lock()

    @property
    def shortlist(self) -> Shortlist | None:
        """The checked shortlist, or None when the checkpoint has none; raises ShortlistError for a bad one."""
        with self._lock:
            if self._shortlist is None and self._stored is not None:
                cfg = self.model.cfg
                try:
                    self._shortlist = Shortlist.from_payload(self._stored, cfg.src_vocab_size, cfg.tgt_vocab_size)
                except ShortlistError as err:
                    raise ShortlistError(f"{self._where}: {err}") from None
            return self._shortlist

    @shortlist.setter
    def shortlist(self, value: Shortlist | None) -> None:
        with self._lock:
            self._shortlist, self._stored = value, None

    def int8(self) -> Seq2Seq:
        with self._lock:
            if self._int8 is None:
                self._int8 = int8_model(self.model)
            return self._int8

    def for_batch(self, fast: FastMode, src: Tensor, extra: Sequence[int] = ()) -> tuple[Seq2Seq, Tensor | None]:
        """The model to search with and, with a shortlist, the kept target ids (positions -> ids)."""
        if fast.exact:
            return self.model, None
        shortlist = self.shortlist if fast.shortlist else None
        if fast.shortlist and shortlist is None:
            raise FastModeError("this checkpoint has no shortlist; add one with `python -m nmt_core shortlist "
                                "CHECKPOINT --src TRAIN.src --tgt TRAIN.tgt`")
        base = self.int8() if fast.int8 else self.model
        if shortlist is None:
            return base, None
        bad = [int(i) for i in extra if not 0 <= int(i) < self.model.cfg.tgt_vocab_size]
        if bad:
            raise ValueError(f"constraint token id out of range 0..{self.model.cfg.tgt_vocab_size - 1}: {bad[0]}")
        ids = shortlist.for_sources(src, extra)
        return shortlist_model(self.model, ids, int8_from=base if fast.int8 else None), ids

    def describe(self, fast: FastMode) -> dict[str, Any]:
        """The settings a result reports (what was approximated, and how)."""
        out: dict[str, Any] = {"mode": fast.label(), "int8": fast.int8, "shortlist": fast.shortlist}
        if fast.int8:
            out["int8_modules"] = "decoder cell, attention query, combine, output layer (dynamic, per tensor)"
        if fast.shortlist:
            try:
                shortlist = self.shortlist
                out["shortlist_settings"] = None if shortlist is None else dict(shortlist.settings)
            except ShortlistError as err:
                out["shortlist_error"] = str(err)
        return out
