"""Gate charts: what an LSTM/GRU's gates do on one sentence, and what changes when you intervene.

Sigmoid gates (i, f, o, r, z) live in [0, 1] and share one fixed colour range, so "open" and "closed" look
the same in every chart; tanh quantities (g, h, n) get a fixed [-1, 1] diverging range and the unbounded
cell state c its own symmetric range.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from ..inspection import GateResult, InterventionResult
from .common import axis_labels, categorical_colour, heatmap, readable_piece, token_axis

SIGMOID_GATES = ("i", "f", "o", "r", "z")


def _gate_scale(gate: str, values: np.ndarray) -> alt.Scale:
    """[0, 1] viridis for sigmoid gates, a symmetric red-blue range (fixed at 1, or |c|'s max) otherwise."""
    if gate in SIGMOID_GATES:
        return alt.Scale(scheme="viridis", domain=[0, 1])
    bound = 1.0 if gate != "c" else float(np.abs(values).max()) or 1.0
    return alt.Scale(scheme="redblue", domain=[-bound, bound], reverse=True)


def gate_heatmap(result: GateResult, side: str, gate: str, layer: int = 0, direction: int = 0,
                 max_units: int | None = 64) -> alt.Chart:
    """Time (tokens) x units for one gate; colour range fixed by the gate's range."""
    values = result.get(side, gate, layer, direction)[:, :max_units]  # (steps, H)
    tokens = result.labels(side)
    t_idx, u_idx = (i.ravel() for i in np.indices(values.shape))
    frame = pd.DataFrame({"t": np.asarray(axis_labels(tokens), dtype=object)[t_idx], "unit": u_idx,
                          "token": np.asarray([readable_piece(t) for t in tokens], dtype=object)[t_idx],
                          "value": values.ravel()})
    return heatmap(frame, token_axis("t", tokens, "time step (token)"),
                   alt.Y("unit:O", title="unit", axis=alt.Axis(values=list(range(0, values.shape[1], 8)))),
                   value="value", scale=_gate_scale(gate, values), legend_title=gate,
                   tooltip=["token:N", "unit:O", alt.Tooltip("value:Q", format=".3f")],
                   title=f"{side} layer {layer}{' backward' if direction else ''}: {gate}",
                   width=max(160, 30 * len(tokens)), height=min(300, max(90, 4 * values.shape[1])))


def unit_lines(result: GateResult, side: str, unit: int, gates: Sequence[str] | None = None, layer: int = 0,
               direction: int = 0) -> alt.LayerChart:
    """One line per gate for one unit across time (e.g. i, f, o, c, h of LSTM unit 7)."""
    gates = gates or [g for (s, ly, d, g) in result.values if (s, ly, d) == (side, layer, direction)]
    tokens = result.labels(side)
    frame = pd.concat([pd.DataFrame({"t": axis_labels(tokens), "token": [readable_piece(t) for t in tokens],
                                     "gate": g, "value": result.get(side, g, layer, direction)[:, unit]})
                       for g in gates])
    base = alt.Chart(frame).encode(x=token_axis("t", tokens, "time step (token)"), y=alt.Y("value:Q"),
                                   color=categorical_colour("gate", gates),
                                   tooltip=["token:N", "gate:N", alt.Tooltip("value:Q", format=".3f")])
    return (base.mark_line() + base.mark_point(filled=True)).properties(
        title=f"{side} layer {layer}, unit {unit}", width=max(240, 30 * len(tokens)), height=220)


def saturation_histogram(result: GateResult, bins: int = 20) -> alt.Chart:
    """Histogram of every sigmoid gate's values (all steps, units, layers): mass piled at 0 or 1 means
    saturated gates. Counts are binned here, so the chart data stays small."""
    edges = np.linspace(0, 1, bins + 1)
    rows = []
    for (side, _, _, gate), v in result.values.items():
        if gate in SIGMOID_GATES:
            counts, _ = np.histogram(v, bins=edges)
            rows += [{"side": side, "gate": gate, "lo": lo, "hi": hi, "count": int(c)}
                     for lo, hi, c in zip(edges[:-1], edges[1:], counts)]
    frame = pd.DataFrame(rows, columns=["side", "gate", "lo", "hi", "count"])
    frame = frame.groupby(["side", "gate", "lo", "hi"], as_index=False)["count"].sum()
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("lo:Q", bin="binned", title="gate value"), x2="hi:Q", y=alt.Y("count:Q"),
        color=categorical_colour("gate", frame.gate), row=alt.Row("side:N"), column=alt.Column("gate:N"),
        tooltip=["side:N", "gate:N", "lo:Q", "hi:Q", "count:Q"],
    ).properties(width=140, height=100, title="Gate saturation")


def intervention_chart(result: InterventionResult) -> alt.Chart:
    """log p of each output token before and after the intervention; hover shows both tokens."""
    frame = result.to_frame().melt(["t", "before", "after", "same"], ["before_logp", "after_logp"], "run", "logp")
    frame["run"] = frame.run.str.replace("_logp", "")
    frame["token"] = np.where(frame.run == "before", frame.before, frame.after)
    return alt.Chart(frame.dropna(subset=["logp"])).mark_bar().encode(
        x=alt.X("t:O", title="output step"), xOffset="run:N", y=alt.Y("logp:Q", title="log p(token)"),
        color=categorical_colour("run", ["before", "after"]),
        tooltip=["t:O", "run:N", "token:N", "before:N", "after:N", alt.Tooltip("logp:Q", format=".3f")],
    ).properties(title="Greedy output before / after the intervention", width=max(240, 36 * frame.t.nunique()))
