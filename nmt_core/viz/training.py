"""Charts of training and of the data a model learns from: loss/BLEU curves of a run, sentence lengths of a
corpus, and how probable the model finds each token of a given translation.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from .common import axis_labels, categorical_colour, readable_piece, token_axis


def _metric_panel(frame: pd.DataFrame, columns: list[str], title: str, log: bool = False) -> alt.Chart:
    """One panel: the ``columns`` of ``frame`` that exist, by step, one line each."""
    present = [c for c in columns if c in frame]
    long = (frame[["step", *present]].melt("step", var_name="metric", value_name="value").dropna()
            if "step" in frame else pd.DataFrame(columns=["step", "metric", "value"]))
    return alt.Chart(long).mark_line(point=True).encode(
        x=alt.X("step:Q"), y=alt.Y("value:Q", scale=alt.Scale(type="log" if log else "linear"), title=title),
        color=categorical_colour("metric", present),
        tooltip=["metric:N", "step:Q", alt.Tooltip("value:Q", format=".4g")],
    ).properties(width=420, height=150, title=title)


def training_curves(metrics: pd.DataFrame) -> alt.VConcatChart:
    """A run's metrics frame (``runs.read_metrics``; columns kind, step, loss, ppl, grad_norm, bleu, chrf):
    train loss (and dev loss), gradient norm (log), and dev BLEU/chrF, one panel each."""
    kind = metrics["kind"] if "kind" in metrics else pd.Series("train", index=metrics.index)
    train, dev = metrics[kind == "train"], metrics[kind == "dev"]
    parts = [f[["step", c]] for f, c in ((train, "loss"), (dev, "dev_loss")) if c in f and "step" in f]
    losses = pd.concat(parts) if parts else pd.DataFrame(columns=["step"])
    return alt.vconcat(_metric_panel(losses, ["loss", "dev_loss"], "loss"),
                       _metric_panel(train, ["grad_norm"], "gradient norm", log=True),
                       _metric_panel(dev, ["bleu", "chrf"], "dev BLEU / chrF")).resolve_scale(color="independent")


def length_histogram(counts: pd.DataFrame, *, title: str = "") -> alt.Chart:
    """Sentence-length counts in words (columns side, length, sentences) as side-by-side bars per length."""
    return alt.Chart(counts).mark_bar(opacity=0.8).encode(
        x=alt.X("length:O", title="length (words)"), xOffset="side:N",
        y=alt.Y("sentences:Q", title="sentences"),
        color=alt.Color("side:N", legend=alt.Legend(orient="top", title=None)),
        tooltip=["side:N", "length:O", "sentences:Q"],
    ).properties(title=title, width=560, height=220)


def token_logprob_bars(frame: pd.DataFrame, *, title: str = "") -> alt.Chart:
    """log p of each token of a scored translation (columns pos, piece, token_logprob, rank, top_piece, e.g.
    ``TokenScores.to_frame()``); bars where the model would have chosen another token are orange."""
    frame = frame.assign(label=axis_labels(frame["piece"]), piece=[readable_piece(p) for p in frame["piece"]],
                         top_piece=[readable_piece(p) for p in frame["top_piece"]],
                         model_prefers=np.where(frame["rank"] > 1, "another token", "this token"))
    return alt.Chart(frame).mark_bar().encode(
        x=token_axis("label", frame["piece"], "token"),
        y=alt.Y("token_logprob:Q", title="log p(token | prefix)"),
        color=alt.Color("model_prefers:N", scale=alt.Scale(domain=["this token", "another token"],
                                                           range=["#0072B2", "#D55E00"]),
                        legend=alt.Legend(orient="top", title="model's own choice")),
        tooltip=["piece:N", alt.Tooltip("token_logprob:Q", format=".3f"), "rank:Q",
                 alt.Tooltip("top_piece:N", title="model's top choice")],
    ).properties(title=title, width=max(240, 38 * len(frame)), height=200)
