"""Gate activations of every recurrent layer, encoder and decoder, for one sentence.

The fused kernels never expose gates, so this runs the model on the replay path (``trace=True``,
see ``nmt_core.replay``), which is proven equal to the fused path by ``tests/test_replay.py``.
Quantities per cell (``replay.GATE_NAMES``):

* LSTM: i (input gate), f (forget gate), o (output gate) in [0, 1]; g (candidate) and h in [-1, 1];
  c (cell) unbounded. c_t = f ⊙ c_{t-1} + i ⊙ g, h_t = o ⊙ tanh(c_t).
* GRU: r (reset), z (update: the share of h_{t-1} kept) in [0, 1]; n (candidate) and h in [-1, 1].
* RNN: h only.

The encoder runs over the source pieces + </s>; the decoder is teacher-forced on a given target, or
on the model's own greedy output when no target is given. Decoder step t reads y_{t-1} and is
labelled by the token it predicts, y_t.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ..equations import GATE_NAMES
from ..model import Seq2Seq
from ..tokenizer import TokenizerPair
from .sentence import prepare, teacher_forced

Key = tuple[str, int, int, str]  # (side, layer, direction, gate)
SIGMOID_GATES = ("i", "f", "o", "r", "z")  # range [0, 1]
TANH_VALUES = ("g", "n", "h")  # range [-1, 1]


@dataclass(frozen=True, eq=False)  # holds arrays: no element-wise __eq__
class GateResult:
    cell: str  # lstm | gru | rnn
    src_pieces: tuple[str, ...]  # (S,) encoder step labels, last "</s>"
    tgt_pieces: tuple[str, ...]  # (T,) decoder step labels = the token predicted, last "</s>"
    tgt_text: str  # the target the decoder was forced on
    tgt_from_model: bool  # True: greedy output of the model itself
    values: dict[Key, np.ndarray]  # (side, layer, direction, gate) -> (steps, H)
    # decoder layer -> {"h": (H,), "c": (H,)}: the state before step 0, from the bridge (the encoder starts at zero)
    decoder_initial: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)

    def get(self, side: str, gate: str, layer: int = 0, direction: int = 0) -> np.ndarray:
        """(steps, H) values of one gate; side is "encoder" or "decoder"."""
        try:
            return self.values[(side, layer, direction, gate)]
        except KeyError:
            raise KeyError(f"no {gate!r} for {side} layer {layer} direction {direction}; have "
                           f"{sorted(self.values)}") from None

    @property
    def layers(self) -> list[tuple[str, int, int]]:
        """The (side, layer, direction) combinations present, in model order."""
        return sorted({k[:3] for k in self.values}, key=lambda k: (k[0] != "encoder", k[1], k[2]))

    def labels(self, side: str) -> tuple[str, ...]:
        return self.src_pieces if side == "encoder" else self.tgt_pieces

    def to_frame(self) -> pd.DataFrame:
        """Long format: side, layer, direction, gate, t, token, unit, value."""
        frames = []
        for (side, layer, direction, gate), v in self.values.items():
            t_idx, u_idx = np.indices(v.shape)
            frames.append(pd.DataFrame({
                "side": side, "layer": layer, "direction": direction, "gate": gate, "t": t_idx.ravel(),
                "token": np.asarray(self.labels(side), dtype=object)[t_idx.ravel()],
                "unit": u_idx.ravel(), "value": v.ravel(),
            }))
        return pd.concat(frames, ignore_index=True)

    def to_dict(self) -> dict:
        return {"cell": self.cell, "src_pieces": list(self.src_pieces), "tgt_pieces": list(self.tgt_pieces),
                "tgt_text": self.tgt_text, "tgt_from_model": self.tgt_from_model,
                "values": [{"side": s, "layer": layer, "direction": d, "gate": g,
                            "values": np.round(v.astype(float), 5).tolist()}
                           for (s, layer, d, g), v in self.values.items()]}

    # ---- summaries
    def saturation(self, low: float = 0.1, high: float = 0.9) -> pd.DataFrame:
        """Share of (step, unit) values that are saturated, per gate. Sigmoid gates (i, f, o, r, z):
        below ``low`` (shut) / above ``high`` (open). Tanh values (g, n, h): below -high / above high.
        The unbounded cell c is left out."""
        rows = []
        for (side, layer, direction, gate), v in self.values.items():
            if gate in SIGMOID_GATES:
                lo, hi = v < low, v > high
            elif gate in TANH_VALUES:
                lo, hi = v < -high, v > high
            else:
                continue
            rows.append({"side": side, "layer": layer, "direction": direction, "gate": gate,
                         "frac_low": float(lo.mean()), "frac_high": float(hi.mean()),
                         "frac_saturated": float((lo | hi).mean())})
        return pd.DataFrame(rows)

    def mean_forget_gate(self) -> pd.DataFrame:
        """Mean over time of each unit's "keep the old state" gate: f for LSTM, z for GRU (empty for RNN).
        Near 1 the unit carries its memory along; near 0 it rewrites it every step."""
        gate = {"lstm": "f", "gru": "z"}.get(self.cell)
        rows = [{"side": s, "layer": layer, "direction": d, "gate": g, "unit": u, "mean": float(m)}
                for (s, layer, d, g), v in self.values.items() if g == gate for u, m in enumerate(v.mean(axis=0))]
        return pd.DataFrame(rows, columns=["side", "layer", "direction", "gate", "unit", "mean"])

    def position_units(self, top: int = 5, gate: str | None = None) -> pd.DataFrame:
        """Units whose value tracks the position in the sentence: Pearson r between the unit's value
        and the step index t, over this sentence's steps; the ``top`` units by |r| per layer.
        ``gate`` defaults to c for LSTM (position counters live in the cell) and h otherwise."""
        gate = gate or ("c" if self.cell == "lstm" else "h")
        rows = []
        for (side, layer, direction, g), v in self.values.items():
            if g != gate or v.shape[0] < 3:
                continue
            r = _pearson_with_position(v)
            for u in np.argsort(-np.nan_to_num(np.abs(r)))[:top]:
                rows.append({"side": side, "layer": layer, "direction": direction, "gate": g,
                             "unit": int(u), "r": float(r[u])})
        return pd.DataFrame(rows, columns=["side", "layer", "direction", "gate", "unit", "r"])


def _pearson_with_position(v: np.ndarray) -> np.ndarray:
    """(steps, H) -> (H,) correlation of each column with 0..steps-1 (NaN for constant units)."""
    t = np.arange(v.shape[0], dtype=float)
    t -= t.mean()
    x = v - v.mean(axis=0)
    denom = np.sqrt((t ** 2).sum() * (x ** 2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (t @ x) / denom, np.nan)


@torch.no_grad()
def gate_trace(model: Seq2Seq, tokenizers: TokenizerPair, src_text: str, tgt_text: str | None = None) -> GateResult:
    """Every gate of every layer and direction, encoder and decoder (teacher-forced on ``tgt_text``,
    or on the model's greedy output when it is None)."""
    prep = prepare(model, tokenizers, src_text, tgt_text)
    fwd = teacher_forced(model, prep, trace=True)
    values: dict[Key, np.ndarray] = {}
    start = model.init_state(fwd.enc)  # the decoder's state before step 0: what its first step reads as h_{t-1}
    initial = {layer: {"h": start.h[layer, 0].float().cpu().numpy()} for layer in range(start.h.shape[0])}
    if start.c is not None:
        for layer in initial:
            initial[layer]["c"] = start.c[layer, 0].float().cpu().numpy()
    for trace in fwd.enc.traces:  # gates (1, S, H)
        for gate, v in trace.gates.items():
            values[("encoder", trace.layer, trace.direction, gate)] = v[0].float().cpu().numpy()
    for k in range(len(fwd.steps[0].traces)):  # decoder: one (1, 1, H) per step and layer
        for gate in GATE_NAMES[model.cfg.cell]:
            stacked = torch.cat([step.traces[k].gates[gate][0] for step in fwd.steps])  # (T, H)
            values[("decoder", k, 0, gate)] = stacked.float().cpu().numpy()
    return GateResult(model.cfg.cell, prep.src_pieces, prep.tgt_pieces, prep.tgt_text, prep.tgt_from_model, values,
                      initial)
