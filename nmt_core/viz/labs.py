"""Charts of the labs' result tables (``nmt_core.labs``): each takes one table a lab writes and draws the
single picture that lab is about, so a stored result and a fresh run look the same.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from .common import categorical_colour


def vanishing_accuracy_chart(accuracy: pd.DataFrame) -> alt.Chart:
    """Lab ``vanishing`` table ``accuracy``: accuracy against lag, one line per cell variant, chance dashed."""
    base = alt.Chart(accuracy).encode(
        x=alt.X("lag:Q", scale=alt.Scale(type="log"), title="lag (steps between the symbol and the answer)"),
        y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1]), title="accuracy (dashed: chance)"),
        color=categorical_colour("variant", accuracy.variant),
        tooltip=["variant:N", "lag:Q", alt.Tooltip("accuracy:Q", format=".2f"), "steps:Q", "solved_at:Q"])
    chance = alt.Chart(accuracy).mark_rule(strokeDash=[4, 4], color="gray").encode(
        y=alt.Y("mean(chance):Q", title="accuracy (dashed: chance)"))
    return (base.mark_line() + base.mark_point(filled=True) + chance).properties(
        title="Recall the first symbol: accuracy by lag", width=360, height=240)


def vanishing_gradient_chart(gradients: pd.DataFrame, lag: int | None = None, relative: bool = True) -> alt.Chart:
    """Lab ``vanishing`` table ``gradients``: ‖dL_T/dh_{T−k}‖ against k (log scale) at one lag (default:
    the largest), one line per variant, initialisation and trained side by side."""
    lag = lag if lag is not None else int(gradients.lag.max())
    part = gradients[gradients.lag == lag].copy()
    y = "relative" if relative else "grad_norm"
    part["value"] = part[y].clip(lower=1e-30)
    return alt.Chart(part).mark_line().encode(
        x=alt.X("k:Q", title="k (steps back from the end)"),
        y=alt.Y("value:Q", scale=alt.Scale(type="log"), title="‖dL_T/dh_{T−k}‖" + (" / (k = 0)" if relative else "")),
        color=categorical_colour("variant", part.variant), column=alt.Column("stage:N", sort=["init", "trained"]),
        tooltip=["variant:N", "stage:N", "k:Q", alt.Tooltip("grad_norm:Q", format=".3e"),
                 alt.Tooltip("relative:Q", format=".3e")],
    ).properties(title=f"Gradient through time, lag {lag}", width=260, height=220)


def bottleneck_chart(bleu_by_length: pd.DataFrame) -> alt.Chart:
    """Lab ``bottleneck`` table ``bleu_by_length``: BLEU per source-length bucket, attention vs not."""
    order = list(dict.fromkeys(bleu_by_length.sort_values("lo").bucket)) if len(bleu_by_length) else []
    base = alt.Chart(bleu_by_length).encode(
        x=alt.X("bucket:N", sort=order, title="source length (words)"), y=alt.Y("bleu:Q", title="BLEU"),
        color=categorical_colour("variant", bleu_by_length.get("variant", [])),
        tooltip=["variant:N", "bucket:N", "sentences:Q", "bleu:Q", "chrf:Q"])
    return (base.mark_line() + base.mark_point(filled=True, size=60)).properties(
        title="BLEU by sentence length (the bottleneck)", width=360, height=240)


def clipping_chart(curves: pd.DataFrame) -> alt.VConcatChart:
    """Lab ``clipping`` table ``curves``: gradient norm before clipping (log) and training loss by step."""
    train = curves[curves["kind"] == "train"]
    panels = []
    for column, title, log in (("grad_norm_max", "largest gradient norm per log window (before clipping)", True),
                               ("loss", "training loss", False)):
        panels.append(alt.Chart(train).mark_line(point=True).encode(
            x=alt.X("step:Q"), y=alt.Y(f"{column}:Q", scale=alt.Scale(type="log" if log else "linear"),
                                       title=column),
            color=categorical_colour("variant", train.variant),
            tooltip=["variant:N", "step:Q", alt.Tooltip(f"{column}:Q", format=".4g")],
        ).properties(title=title, width=420, height=180))
    return alt.vconcat(*panels)


def depth_chart(models: pd.DataFrame) -> alt.Chart:
    """Lab ``depth`` table ``models``: test BLEU per variant, hover shows parameters and time."""
    return alt.Chart(models).mark_bar().encode(
        x=alt.X("variant:N", sort=list(models.variant), title=None, axis=alt.Axis(labelAngle=-20)),
        y=alt.Y("test_bleu:Q", title="test BLEU"), color=categorical_colour("bidirectional", models.bidirectional),
        tooltip=["variant:N", "params:Q", "steps:Q", "seconds:Q", "dev_loss:Q", "test_bleu:Q"],
    ).properties(title="Depth and direction under the same budget", width=320, height=220)


def greedy_vs_beam_chart(sentences: pd.DataFrame) -> alt.Chart:
    """Lab ``greedy-vs-beam`` table ``sentences``: beam vs greedy log-probability per sentence; points above
    the diagonal are sentences where beam search found a more probable output."""
    frame = sentences.assign(winner=np.select([sentences.beam_logprob > sentences.greedy_logprob + 1e-6,
                                               sentences.beam_logprob < sentences.greedy_logprob - 1e-6],
                                              ["beam", "greedy"], "same"))
    lo = float(min(frame.greedy_logprob.min(), frame.beam_logprob.min())) if len(frame) else -1.0
    diagonal = alt.Chart(pd.DataFrame({"x": [lo, 0.0]})).mark_line(color="gray", strokeDash=[4, 4]).encode(
        x="x:Q", y="x:Q")
    points = alt.Chart(frame).mark_point(filled=True).encode(
        x=alt.X("greedy_logprob:Q", title="greedy log p(output)"),
        y=alt.Y("beam_logprob:Q", title="beam log p(output)"),
        color=categorical_colour("winner", ["beam", "greedy", "same"]),
        tooltip=["src:N", "greedy:N", "beam:N", "first_diff_step:Q", "greedy_word:N", "beam_word:N", "greedy_bleu:Q",
                 "beam_bleu:Q"])
    return (diagonal + points).properties(title="Greedy vs beam: model score per sentence", width=320, height=320)


def tbptt_accuracy_chart(accuracy: pd.DataFrame) -> alt.Chart:
    """Lab ``tbptt`` table ``accuracy``: accuracy against lag, one line per window k, one panel per cell; chance
    dashed. Where the window is shorter than the lag, no gradient connects the target to its source."""
    frame = accuracy.assign(window=accuracy.window.astype(str) + np.where(accuracy.full_bptt, " (full)", ""))
    base = alt.Chart(frame).encode(
        x=alt.X("lag:Q", scale=alt.Scale(type="log"), title="lag (steps back to the symbol to copy)"),
        y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1]), title="accuracy (dashed: chance)"),
        color=categorical_colour("window", list(dict.fromkeys(frame.window)), title="window k"),
        tooltip=["cell:N", "window:N", "lag:Q", alt.Tooltip("accuracy:Q", format=".2f")])
    chance = alt.Chart(frame).mark_rule(strokeDash=[4, 4], color="gray").encode(
        y=alt.Y("mean(chance):Q", title="accuracy (dashed: chance)"))
    return (base.mark_line() + base.mark_point(filled=True) + chance).properties(width=300, height=220).facet(
        column=alt.Column("cell:N", title=None), title="Truncated BPTT: which lags can be learned with window k")


def tbptt_gradient_chart(gradient: pd.DataFrame) -> alt.Chart:
    """Lab ``tbptt`` table ``gradient``: ‖∂ℓ_T/∂h_{T−j}‖ against j for each window (relative to j = 0): zero at
    and beyond the window's edge."""
    frame = gradient.copy()
    first = frame[frame.j == 0].set_index(["cell", "window"]).grad_norm
    frame["relative"] = [g / first[(c, w)] if first[(c, w)] > 0 else 0.0
                         for c, w, g in zip(frame.cell, frame.window, frame.grad_norm)]
    frame["window"] = frame.window.astype(str)
    return alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("j:Q", title="j (steps back from the last target)"),
        y=alt.Y("relative:Q", title="‖∂ℓ_T/∂h_{T−j}‖ / (j = 0)"),
        color=categorical_colour("window", list(dict.fromkeys(frame.window)), title="window k"),
        column=alt.Column("cell:N", title=None),
        tooltip=["cell:N", "window:N", "j:Q", alt.Tooltip("grad_norm:Q", format=".3e")],
    ).properties(width=300, height=200, title="The gradient stops at the window edge")


def tbptt_speed_chart(speed: pd.DataFrame) -> alt.Chart:
    """Lab ``tbptt`` table ``speed``: milliseconds per update (one window) by window, per cell."""
    frame = speed.assign(window=speed.window.astype(str))
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("window:N", sort=None, title="window k"), y=alt.Y("ms_per_update:Q", title="ms per update"),
        color=categorical_colour("cell", list(dict.fromkeys(frame.cell))), column=alt.Column("cell:N", title=None),
        tooltip=["cell:N", "window:N", alt.Tooltip("ms_per_update:Q", format=".2f"),
                 alt.Tooltip("seconds_per_sequence:Q", format=".4f")],
    ).properties(width=220, height=180, title="Time per update")
