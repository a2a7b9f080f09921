"""Gradient-flow charts: how much of the loss's gradient reaches each timestep, and which source states
each output word depends on (salience). Both come from ``inspection.gradient_flow``.

Gradient norms span many orders of magnitude (that is the vanishing-gradient story), so the per-step chart
is on a log scale by default; the salience matrix uses the same heatmap as attention, so the two read alike.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from ..inspection import GradientFlowResult
from .common import axis_labels, categorical_colour, token_axis, token_heatmap


def _series_names(frame: pd.DataFrame) -> list[str]:
    """Legend names: "encoder L0", "encoder L0 bwd", "decoder L1", or the quantity for the attention path."""
    return [f"{q.split(' ')[0]} L{layer}{' bwd' if d == 1 else ''}" if d >= 0 else q
            for q, layer, d in zip(frame.quantity, frame.layer, frame.direction)]


def grad_norm_chart(result: GradientFlowResult, log_y: bool = True) -> alt.HConcatChart:
    """‖dL/dh_t‖ per timestep for every layer/direction (total derivative through the recurrence) and
    the attention-only ‖∂L/∂o_s‖, encoder and decoder side by side, log scale by default."""
    frame = result.to_frame()
    frame["series"] = _series_names(frame)
    frame["value"] = frame.grad_norm.clip(lower=1e-12) if log_y else frame.grad_norm
    charts = []
    for side, tokens in (("encoder", result.src_pieces), ("decoder", result.tgt_pieces)):
        part = frame[frame.side == side]
        part = part.assign(label=np.asarray(axis_labels(tokens), dtype=object)[part.t.to_numpy(dtype=int)])
        base = alt.Chart(part).encode(
            x=token_axis("label", tokens, f"{side} step"),
            y=alt.Y("value:Q", scale=alt.Scale(type="log" if log_y else "linear"), title="gradient norm"),
            color=categorical_colour("series", frame.series, title=None),
            tooltip=["token:N", "series:N", "quantity:N", alt.Tooltip("grad_norm:Q", format=".3e")])
        charts.append((base.mark_line() + base.mark_point(filled=True)).properties(
            title=f"{side}: ‖dL/dh_t‖", width=max(200, 30 * len(tokens)), height=220))
    return alt.hconcat(*charts)


def salience_heatmap(result: GradientFlowResult, title: str | None = None) -> alt.Chart:
    """‖d log p(y_t) / d h_s‖ as a target-by-source matrix (see ``GradientFlowResult.salience_wrt``)."""
    wrt = "top-layer encoder state, total derivative" if result.salience_wrt == "states" else "encoder output"
    return token_heatmap(result.salience, result.tgt_pieces, result.src_pieces, value="salience",
                         scale=alt.Scale(scheme="oranges"), title=title or f"Salience ‖d log p(y_t)/d h_s‖ ({wrt})")
