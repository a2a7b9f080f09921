"""The training replay as one chart with a slider: dev BLEU over training, and, at the chosen snapshot, the
translation, the attention matrix and the gradient flow through the encoder.

The slider is a Vega-Lite parameter (``snapshot``) bound to a range input, and every panel filters its data on
it, so scrubbing happens in the browser (no server round trip per frame) and the same chart plays in an
exported lesson file. Attention rows are the final translation's tokens in every frame (see
``inspection.training_replay``), so the matrix stays in place and sharpens.
"""

from __future__ import annotations

import altair as alt

from ..inspection.training_replay import TrainingReplay
from .common import LABEL_EXPR, OKABE_ITO, axis_labels, categorical_colour, readable_piece


def training_replay_chart(replay: TrainingReplay) -> alt.VConcatChart:
    frames = replay.frames
    last = int(frames.frame.max())
    snapshot = alt.param(name="snapshot", value=last, bind=alt.binding_range(min=0, max=max(last, 1), step=1,
                                                                             name="snapshot "))
    chosen = alt.datum.frame == snapshot
    bleu = alt.Chart(frames).encode(
        x=alt.X("step:Q", scale=alt.Scale(type="log"), title="training step (log scale)"),
        y=alt.Y("dev_bleu:Q", title="dev BLEU"),
        tooltip=["label:N", alt.Tooltip("dev_bleu:Q", format=".2f"), alt.Tooltip("train_loss:Q", format=".3f"),
                 "translation:N"])
    curve = (bleu.mark_line(color=OKABE_ITO[0]) + bleu.mark_point(filled=True, size=60, color=OKABE_ITO[0]) +
             bleu.mark_point(size=320, strokeWidth=3, color=OKABE_ITO[3]).transform_filter(chosen)
             ).add_params(snapshot).properties(title="Dev BLEU at each snapshot", width=420, height=160)
    text = alt.Chart(frames).transform_filter(chosen).transform_calculate(
        line="datum.label + ': ' + datum.translation").mark_text(align="left", fontSize=15, x=4).encode(
        text="line:N").properties(title="What this snapshot translates it to", width=720, height=28)
    rows = [curve, text]
    if len(replay.attention):
        att = replay.attention.assign(row=lambda d: [f"{t}:{readable_piece(p)}" for t, p in zip(d.t, d.tgt)],
                                      col=lambda d: [f"{s}:{readable_piece(p)}" for s, p in zip(d.s, d.src)])
        targets = replay.attention.drop_duplicates("t").sort_values("t").tgt
        sources = replay.attention.drop_duplicates("s").sort_values("s").src
        rows.append(alt.Chart(att).transform_filter(chosen).mark_rect().encode(
            x=alt.X("col:N", sort=axis_labels(sources), title="source",
                    axis=alt.Axis(labelExpr=LABEL_EXPR, labelAngle=-45)),
            y=alt.Y("row:N", sort=axis_labels(targets), title="final translation",
                    axis=alt.Axis(labelExpr=LABEL_EXPR)),
            color=alt.Color("weight:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]), title="attention"),
            tooltip=["tgt:N", "src:N", alt.Tooltip("weight:Q", format=".3f")],
        ).properties(title="Attention (on the final translation)", width=32 * len(sources),
                     height=32 * len(targets)))
    grads = replay.gradients.assign(series=lambda d: [f"layer {la} {'backward' if di else 'forward'}"
                                                      for la, di in zip(d.layer, d.direction)],
                                    col=lambda d: [f"{s}:{readable_piece(p)}" for s, p in zip(d.s, d.src)])
    sources = replay.gradients.drop_duplicates("s").sort_values("s").src
    rows.append(alt.Chart(grads).transform_filter(chosen).mark_line(point=True).encode(
        x=alt.X("col:N", sort=axis_labels(sources), title="source position",
                axis=alt.Axis(labelExpr=LABEL_EXPR, labelAngle=-45)),
        y=alt.Y("grad_norm:Q", scale=alt.Scale(type="log"), title="‖dL/dh_s‖"),
        color=categorical_colour("series", grads.series, title="encoder state"),
        tooltip=["series:N", "src:N", alt.Tooltip("grad_norm:Q", format=".3g")],
    ).properties(title="Gradient flow through the encoder (on the final translation)", width=420, height=180))
    return alt.vconcat(*rows, spacing=18).resolve_scale(color="independent")
