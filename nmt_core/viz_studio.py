"""Altair figures the studio pages need that ``viz.py`` does not provide (``viz_beam`` has the beam tree).

Every builder takes a DataFrame (the ``to_frame()`` of a core result, or ``runs.read_metrics``) and
returns an ``alt.Chart`` with tooltips; nothing here imports Streamlit, so the same figures can be
saved with ``chart.save("x.svg")`` from a notebook or a test.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

SEQ_SCHEME = "blues"
#: Axis labels "3:car" -> "car" (everything after the first colon; the prefix keeps repeated tokens apart)
LABEL_EXPR = "substring(datum.value, indexof(datum.value, ':') + 1)"


def _position_labels(pieces: list[str] | tuple[str, ...]) -> list[str]:
    """Positions as unique axis values ("3:car"), so repeated tokens keep their own row/column; the axes
    show only the token (``labelExpr``)."""
    return [f"{i}:{p}" for i, p in enumerate(pieces)]


# --------------------------------------------------------------------------------------- attention
def matrix_heatmap(weights: np.ndarray, src: list[str], tgt: list[str], *, gold: set[tuple[int, int]] | None = None,
                   title: str = "", cell: int = 40, value_name: str = "weight") -> alt.Chart:
    """A bare (T, S) matrix with its labels, e.g. the attention a beam hypothesis carries (``viz.attention_heatmap``
    needs an ``AttentionResult``). Rows = target tokens being predicted, columns = source tokens, the value in
    each cell and on hover; ``gold`` (source position, target position) links drawn as hollow squares."""
    t_idx, s_idx = np.indices(weights.shape)
    src_l, tgt_l = _position_labels(src), _position_labels(tgt)
    frame = pd.DataFrame({"src": np.asarray(src_l, dtype=object)[s_idx.ravel()],
                          "tgt": np.asarray(tgt_l, dtype=object)[t_idx.ravel()],
                          "source token": np.asarray(src, dtype=object)[s_idx.ravel()],
                          "target token": np.asarray(tgt, dtype=object)[t_idx.ravel()],
                          value_name: np.round(weights.ravel().astype(float), 4)})
    x = alt.X("src:N", sort=src_l, title="source", axis=alt.Axis(labelAngle=-45, labelExpr=LABEL_EXPR))
    y = alt.Y("tgt:N", sort=tgt_l, title="target", axis=alt.Axis(labelExpr=LABEL_EXPR))
    heat = alt.Chart(frame).mark_rect().encode(
        x=x, y=y, color=alt.Color(f"{value_name}:Q", scale=alt.Scale(scheme=SEQ_SCHEME, domainMin=0)),
        tooltip=["target token:N", "source token:N", alt.Tooltip(f"{value_name}:Q", format=".3f")])
    text = alt.Chart(frame).mark_text(fontSize=9).encode(
        x=x, y=y, text=alt.Text(f"{value_name}:Q", format=".2f"),
        color=alt.condition(f"datum['{value_name}'] > 0.5", alt.value("white"), alt.value("#333")))
    chart = heat + text
    if gold:
        g = pd.DataFrame([{"src": src_l[s], "tgt": tgt_l[t], "link": f"{src[s]} ↔ {tgt[t]}"}
                          for s, t in gold if s < len(src) and t < len(tgt)])
        if len(g):
            chart = chart + alt.Chart(g).mark_square(size=cell * cell * 0.55, filled=False, color="#e6550d",
                                                     strokeWidth=2.5).encode(x=x, y=y, tooltip=["link:N"])
    return chart.properties(title=title, width=max(160, cell * len(src)), height=max(120, cell * len(tgt)))


def alignment_lines(result, *, threshold: float = 0.1, title: str = "",
                    gold: set[tuple[int, int]] | None = None) -> alt.LayerChart:
    """An ``AttentionResult`` as lines: source pieces on top, target pieces below, one line per weight above
    ``threshold`` (opacity and width = weight), the "soft alignment" picture of Bahdanau et al. 2015.
    Gold word links (source word, target word) are dashed orange lines between all their pieces."""
    weights, src, tgt = result.weights, list(result.src_pieces), list(result.tgt_pieces)
    n = max(len(src), len(tgt), 1)
    xs = lambda k, m: (k + 0.5) * n / max(m, 1)  # noqa: E731  (centre both rows)
    rows = [{"x": xs(s, len(src)), "x2": xs(t, len(tgt)), "weight": float(weights[t, s]),
             "link": f"{tgt[t]} ← {src[s]}"}
            for t in range(weights.shape[0]) for s in range(weights.shape[1]) if weights[t, s] >= threshold]
    lines = pd.DataFrame(rows, columns=["x", "x2", "weight", "link"]).assign(y=1.0, y2=0.0)
    tokens = pd.DataFrame([{"x": xs(i, len(src)), "y": 1.0, "token": w, "side": "source"} for i, w in enumerate(src)]
                          + [{"x": xs(i, len(tgt)), "y": 0.0, "token": w, "side": "target"} for i, w in enumerate(tgt)])
    enc = {"x": alt.X("x:Q", axis=None, scale=alt.Scale(domain=[0, n])),
           "y": alt.Y("y:Q", axis=None, scale=alt.Scale(domain=[-0.25, 1.25]))}
    layers = [alt.Chart(lines).mark_rule(color="#2171b5").encode(
        **enc, x2="x2:Q", y2="y2:Q", opacity=alt.Opacity("weight:Q", scale=alt.Scale(domain=[0, 1]), legend=None),
        strokeWidth=alt.StrokeWidth("weight:Q", scale=alt.Scale(domain=[0, 1], range=[0.5, 6]), legend=None),
        tooltip=["link:N", alt.Tooltip("weight:Q", format=".3f")])]
    if gold:
        g = pd.DataFrame([{"x": xs(s, len(src)), "x2": xs(t, len(tgt)), "y": 1.0, "y2": 0.0,
                           "link": f"gold: {src[s]} ↔ {tgt[t]}"}
                          for ws, wt in gold for s, ps in enumerate(result.src_word_index) if ps == ws
                          for t, pt in enumerate(result.tgt_word_index) if pt == wt])
        if len(g):
            layers.append(alt.Chart(g).mark_rule(color="#e6550d", strokeDash=[4, 3], strokeWidth=1.5).encode(
                **enc, x2="x2:Q", y2="y2:Q", tooltip=["link:N"]))
    for side, dy in (("source", -12), ("target", 12)):
        layers.append(alt.Chart(tokens[tokens.side == side]).mark_text(fontSize=13, fontWeight="bold", dy=dy).encode(
            **enc, text="token:N", tooltip=["side:N", "token:N"]))
    return alt.layer(*layers).properties(title=title, width=max(320, 70 * n), height=190)


# --------------------------------------------------------------------------------------- data and comparison
def length_histogram(counts: pd.DataFrame, *, title: str = "") -> alt.Chart:
    """Sentence-length counts (columns side, length, sentences) as side-by-side bars per length."""
    return alt.Chart(counts).mark_bar(opacity=0.8).encode(
        x=alt.X("length:O", title="length (tokens)"), xOffset="side:N",
        y=alt.Y("sentences:Q", title="sentences"),
        color=alt.Color("side:N", legend=alt.Legend(orient="top", title=None)),
        tooltip=["side:N", "length:O", "sentences:Q"],
    ).properties(title=title, width=560, height=220)


def token_logprob_bars(frame: pd.DataFrame, *, title: str = "") -> alt.Chart:
    """log p of each token of a scored translation (columns pos, piece, token_logprob, rank, top_piece)."""
    frame = frame.assign(label=[f"{i}:{p}" for i, p in zip(frame["pos"], frame["piece"])],
                         model_prefers=np.where(frame["rank"] > 1, "another token", "this token"))
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("label:N", sort=list(frame["label"]), title="token",
                axis=alt.Axis(labelAngle=-45, labelExpr=LABEL_EXPR)),
        y=alt.Y("token_logprob:Q", title="log p(token | prefix)"),
        color=alt.Color("model_prefers:N", scale=alt.Scale(domain=["this token", "another token"],
                                                           range=["#3182bd", "#e6550d"]),
                        legend=alt.Legend(orient="top", title="model's own choice")),
        tooltip=["piece:N", alt.Tooltip("token_logprob:Q", format=".3f"), "rank:Q",
                 alt.Tooltip("top_piece:N", title="model's top choice")],
    ).properties(title=title, width=max(240, 38 * len(frame)), height=200)
