"""One step of one unit of one recurrent cell, with every number its equations use: what the cell diagram draws.

Why read the replay's record instead of recomputing: the fused kernel hides its gates, and ``gates.gate_trace``
already replays the trained weights with the lecture's equations (proven equal to the fused kernel by
``tests/test_replay.py``). A second computation could drift from it. The only arithmetic here is the pair of
products the diagram labels on its arrows (f·c_{t-1} and i·g for the LSTM, z·h_{t-1} and (1 − z)·n for the GRU)
and tanh(c_t); ``tests/test_cell.py`` checks that they add up to the c_t and h_t the replay recorded.

"Previous" follows the direction of reading: a forward encoder (and the decoder) reads step t after t − 1, a
backward encoder reads step t after t + 1. Before its first step the encoder starts from zeros and the decoder
from the bridge's output (``GateResult.decoder_initial``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .gates import GateResult

BOS_LABEL = "<s>"


@dataclass(frozen=True)
class CellStep:
    cell: str  # lstm | gru | rnn
    side: str  # encoder | decoder
    layer: int
    direction: int  # 1: the backward encoder, which reads right to left
    t: int  # the step (source position, or decoder step)
    unit: int
    label: str  # the step's label: the source piece, or the target piece the decoder step predicts
    reads: str  # the token x_t comes from (the layer below's h_t carries it for layers above 0)
    first: bool  # True when h_{t-1} (and c_{t-1}) is the initial state
    previous: dict[str, float]  # "h": h_{t-1}[unit] (and "c": c_{t-1}[unit] for the LSTM)
    values: dict[str, float]  # every quantity the replay recorded at step t for this unit
    products: dict[str, float]  # the terms the diagram labels (see the module docstring)

    def to_dict(self) -> dict:
        return {"cell": self.cell, "side": self.side, "layer": self.layer, "direction": self.direction,
                "t": self.t, "unit": self.unit, "label": self.label, "reads": self.reads, "first": self.first,
                **{f"{k}_prev": v for k, v in self.previous.items()}, **self.values, **self.products}


def previous_step(result: GateResult, side: str, t: int, direction: int) -> int | None:
    """The step read just before ``t`` in this direction, or None when ``t`` is the first one read."""
    steps = len(result.labels(side))
    before = t + 1 if (side == "encoder" and direction == 1) else t - 1
    return before if 0 <= before < steps else None


def _state_before(result: GateResult, side: str, layer: int, direction: int, t: int, unit: int) -> dict[str, float]:
    names = ("h", "c") if result.cell == "lstm" else ("h",)
    before = previous_step(result, side, t, direction)
    if before is not None:
        return {n: float(result.get(side, n, layer, direction)[before, unit]) for n in names}
    if side == "encoder":
        return {n: 0.0 for n in names}  # nn.LSTM/GRU/RNN start from zeros when no state is given
    if layer not in result.decoder_initial:
        raise ValueError("this gate record has no decoder initial state: trace it again with gate_trace")
    return {n: float(result.decoder_initial[layer][n][unit]) for n in names}


def _reads(result: GateResult, side: str, t: int) -> str:
    if side == "encoder":
        return result.src_pieces[t]
    return BOS_LABEL if t == 0 else result.tgt_pieces[t - 1]  # decoder step t reads y_{t-1}


def _products(cell: str, previous: dict[str, float], v: dict[str, float]) -> dict[str, float]:
    if cell == "lstm":
        return {"f*c_prev": v["f"] * previous["c"], "i*g": v["i"] * v["g"], "tanh_c": math.tanh(v["c"])}
    if cell == "gru":
        return {"z*h_prev": v["z"] * previous["h"], "(1-z)*n": (1 - v["z"]) * v["n"]}
    return {}


def cell_step(result: GateResult, side: str, t: int, unit: int, layer: int = 0, direction: int = 0) -> CellStep:
    """Every number of step ``t`` of ``unit`` in one cell, ready for the diagram."""
    steps, hidden = result.get(side, "h", layer, direction).shape
    if not 0 <= t < steps:
        raise ValueError(f"step {t} is outside this sentence's {steps} steps on the {side} side")
    if not 0 <= unit < hidden:
        raise ValueError(f"unit {unit} is outside this layer's {hidden} units")
    names = [k[3] for k in result.values if k[:3] == (side, layer, direction)]
    values = {n: float(result.get(side, n, layer, direction)[t, unit]) for n in names}
    previous = _state_before(result, side, layer, direction, t, unit)
    return CellStep(result.cell, side, layer, direction, t, unit, result.labels(side)[t], _reads(result, side, t),
                    previous_step(result, side, t, direction) is None, previous, values,
                    _products(result.cell, previous, values))


def cell_steps(result: GateResult, side: str, unit: int, layer: int = 0, direction: int = 0) -> list[CellStep]:
    """Every step of one unit, in the order the cell reads them (right to left for a backward encoder)."""
    order = range(len(result.labels(side)))
    if side == "encoder" and direction == 1:
        order = reversed(order)
    return [cell_step(result, side, t, unit, layer, direction) for t in order]


def steps_frame(steps: list[CellStep]) -> pd.DataFrame:
    """One row per step: the table behind the diagram, for download."""
    return pd.DataFrame([s.to_dict() for s in steps])


def liveliest_unit(result: GateResult, side: str, layer: int = 0, direction: int = 0) -> int:
    """The unit whose h_t moves most over this sentence (largest variance): a sensible first unit to watch."""
    return int(np.argmax(result.get(side, "h", layer, direction).var(axis=0)))
