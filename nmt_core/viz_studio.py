"""Altair figures for the studio pages that ``viz.py`` does not (yet) provide.

Every builder takes a DataFrame (the ``to_frame()`` of a core result, or ``runs.read_metrics``) and
returns an ``alt.Chart`` with tooltips; nothing here imports Streamlit, so the same figures can be
saved with ``chart.save("x.svg")`` from a notebook or a test.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

# Gate heatmaps of wide layers have more cells than Altair's default 5,000-row guard; the data is ours and bounded
# (inspection caps sentences at 150 pieces), so the guard is lifted for these figures.
alt.data_transformers.disable_max_rows()

SEQ_SCHEME = "blues"
DIV_SCHEME = "redblue"
#: Axis labels "3:car" -> "car" (everything after the first colon; the prefix keeps repeated tokens apart)
LABEL_EXPR = "substring(datum.value, indexof(datum.value, ':') + 1)"


def _position_labels(pieces: list[str] | tuple[str, ...]) -> list[str]:
    """Positions as unique axis values ("3:car"), so repeated tokens keep their own row/column; the axes
    show only the token (``labelExpr``)."""
    return [f"{i}:{p}" for i, p in enumerate(pieces)]


# --------------------------------------------------------------------------------------- training
def training_curves(metrics: pd.DataFrame, columns: list[str], *, title: str = "", log_y: bool = False,
                    width: int = 420, height: int = 220) -> alt.Chart:
    """Lines of ``columns`` of a metrics frame against step (train and dev records mixed; NaNs dropped)."""
    present = [c for c in columns if c in metrics]
    long = (metrics[["step", *present]].melt("step", var_name="metric", value_name="value").dropna()
            if present and "step" in metrics else pd.DataFrame({"step": [], "metric": [], "value": []}))
    scale = alt.Scale(type="log") if log_y else alt.Scale(zero=False)
    base = alt.Chart(long).encode(
        x=alt.X("step:Q", title="training step"),
        y=alt.Y("value:Q", title=", ".join(present) or "value", scale=scale),
        color=alt.Color("metric:N", legend=alt.Legend(orient="top", title=None)),
        tooltip=[alt.Tooltip("metric:N"), alt.Tooltip("step:Q"), alt.Tooltip("value:Q", format=".4g")])
    return (base.mark_line() + base.mark_point(size=25, filled=True)).properties(title=title, width=width,
                                                                                 height=height)


# --------------------------------------------------------------------------------------- attention
def attention_heatmap(weights: np.ndarray, src: list[str], tgt: list[str], *, gold: set[tuple[int, int]] | None = None,
                      title: str = "", cell: int = 34, value_name: str = "weight") -> alt.Chart:
    """Rows = target tokens (what was being predicted), columns = source tokens; hover shows the weight.
    ``gold`` (source position, target position) links are drawn as hollow squares on top."""
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


def alignment_lines(weights: np.ndarray, src: list[str], tgt: list[str], *, threshold: float = 0.1,
                    title: str = "", gold: set[tuple[int, int]] | None = None) -> alt.Chart:
    """Source tokens on top, target tokens below, a line for each weight above ``threshold`` (opacity and
    width = weight): the "soft alignment" picture of Bahdanau et al. Gold links dashed in orange."""
    n = max(len(src), len(tgt), 1)
    xs = lambda k, m: (k + 0.5) * n / max(m, 1)  # noqa: E731  (centre both rows)
    rows = [{"x": xs(s, len(src)), "x2": xs(t, len(tgt)), "weight": float(weights[t, s]),
             "link": f"{tgt[t]} ← {src[s]}"}
            for t in range(weights.shape[0]) for s in range(weights.shape[1]) if weights[t, s] >= threshold]
    lines = pd.DataFrame(rows, columns=["x", "x2", "weight", "link"])
    lines["y"], lines["y2"] = 1.0, 0.0
    tokens = pd.DataFrame([{"x": xs(i, len(src)), "y": 1.0, "token": w, "side": "source"} for i, w in enumerate(src)]
                          + [{"x": xs(i, len(tgt)), "y": 0.0, "token": w, "side": "target"} for i, w in enumerate(tgt)])
    x_scale = alt.Scale(domain=[0, n])
    y_scale = alt.Scale(domain=[-0.25, 1.25])
    enc = {"x": alt.X("x:Q", axis=None, scale=x_scale), "y": alt.Y("y:Q", axis=None, scale=y_scale)}
    rules = alt.Chart(lines).mark_rule(color="#2171b5").encode(
        **enc, x2="x2:Q", y2="y2:Q", opacity=alt.Opacity("weight:Q", scale=alt.Scale(domain=[0, 1]), legend=None),
        strokeWidth=alt.StrokeWidth("weight:Q", scale=alt.Scale(domain=[0, 1], range=[0.5, 6]), legend=None),
        tooltip=["link:N", alt.Tooltip("weight:Q", format=".3f")])
    layers = [rules]
    if gold:
        g = pd.DataFrame([{"x": xs(s, len(src)), "x2": xs(t, len(tgt)), "y": 1.0, "y2": 0.0,
                           "link": f"gold: {src[s]} ↔ {tgt[t]}"} for s, t in gold if s < len(src) and t < len(tgt)])
        layers.append(alt.Chart(g).mark_rule(color="#e6550d", strokeDash=[4, 3], strokeWidth=1.5).encode(
            **enc, x2="x2:Q", y2="y2:Q", tooltip=["link:N"]))
    for side, dy in (("source", -12), ("target", 12)):
        layers.append(alt.Chart(tokens[tokens.side == side]).mark_text(fontSize=13, fontWeight="bold", dy=dy).encode(
            **enc, text="token:N", tooltip=["side:N", "token:N"]))
    return alt.layer(*layers).properties(title=title, width=max(320, 70 * n), height=190)


# --------------------------------------------------------------------------------------- gates
def gate_heatmap(values: np.ndarray, labels: list[str], *, gate: str, title: str = "", units: int | None = None,
                 highlight: int | None = None) -> alt.Chart:
    """(steps, H) values of one gate: x = time step (token), y = unit; colour range fixed by the gate type."""
    v = values if units is None else values[:, :units]
    t_idx, u_idx = np.indices(v.shape)
    lab = _position_labels(labels)
    frame = pd.DataFrame({"t": np.asarray(lab, dtype=object)[t_idx.ravel()], "unit": u_idx.ravel(),
                          "token": np.asarray(labels, dtype=object)[t_idx.ravel()],
                          "value": np.round(v.ravel().astype(float), 4)})
    if gate in ("i", "f", "o", "r", "z"):
        scale = alt.Scale(scheme="viridis", domain=[0, 1])
    elif gate in ("g", "n", "h"):
        scale = alt.Scale(scheme=DIV_SCHEME, domain=[-1, 1], reverse=True)
    else:
        m = float(np.abs(v).max()) or 1.0
        scale = alt.Scale(scheme=DIV_SCHEME, domain=[-m, m], reverse=True)
    h = v.shape[1]
    chart = alt.Chart(frame).mark_rect().encode(
        x=alt.X("t:N", sort=lab, title="time step (token)", axis=alt.Axis(labelAngle=-45,
                                                                          labelExpr=LABEL_EXPR)),
        y=alt.Y("unit:O", title="unit", axis=alt.Axis(values=list(range(0, h, max(1, h // 8))))),
        color=alt.Color("value:Q", scale=scale, title=gate),
        tooltip=["token:N", "unit:O", alt.Tooltip("value:Q", format=".3f")])
    if highlight is not None and 0 <= highlight < h:
        row = pd.DataFrame({"unit": [highlight]})
        chart = chart + alt.Chart(row).mark_rule(color="#e6550d", strokeWidth=1).encode(y=alt.Y("unit:O"))
    return chart.properties(title=title or gate, width=max(160, 26 * len(labels)), height=min(260, max(90, 3 * h)))


def unit_lines(frame: pd.DataFrame, labels: list[str], *, title: str = "") -> alt.Chart:
    """One line per gate for a single unit across time. frame: columns t, gate, value."""
    lab = _position_labels(labels)
    frame = frame.assign(step=[lab[t] for t in frame["t"]], token=[labels[t] for t in frame["t"]])
    base = alt.Chart(frame).encode(
        x=alt.X("step:N", sort=lab, title="time step (token)", axis=alt.Axis(labelAngle=-45,
                                                                             labelExpr=LABEL_EXPR)),
        y=alt.Y("value:Q", title="value"), color=alt.Color("gate:N", legend=alt.Legend(orient="top")),
        tooltip=["gate:N", "token:N", alt.Tooltip("value:Q", format=".3f")])
    return (base.mark_line() + base.mark_point(filled=True, size=30)).properties(
        title=title, width=max(300, 40 * len(labels)), height=220)


def histogram_counts(frame: pd.DataFrame, by: str, value: str, edges: np.ndarray) -> pd.DataFrame:
    """Counts of ``value`` in the bins ``edges`` for each group of ``by`` (charts get counts, not raw rows)."""
    rows = []
    for key, group in frame.groupby(by, sort=False):
        counts, _ = np.histogram(group[value].to_numpy(dtype=float), bins=edges)
        rows += [{by: key, "lo": float(lo), "hi": float(hi), "count": int(c)}
                 for lo, hi, c in zip(edges[:-1], edges[1:], counts)]
    return pd.DataFrame(rows, columns=[by, "lo", "hi", "count"])


def saturation_histogram(counts: pd.DataFrame, *, title: str = "") -> alt.Chart:
    """Histogram of sigmoid-gate values (``histogram_counts(frame, "gate", "value", edges)``): mass piled at
    0 or 1 means saturated gates, acting like switches."""
    return alt.Chart(counts).mark_bar(opacity=0.85).encode(
        x=alt.X("lo:Q", bin="binned", title="gate value", scale=alt.Scale(domain=[0, 1])), x2="hi:Q",
        y=alt.Y("count:Q", title="(step, unit) pairs"),
        color=alt.Color("gate:N", legend=None),
        column=alt.Column("gate:N", title=None),
        tooltip=["gate:N", alt.Tooltip("lo:Q", title="from"), alt.Tooltip("hi:Q", title="to"), "count:Q"],
    ).properties(title=title, width=150, height=150)


# --------------------------------------------------------------------------------------- gradients
def grad_norm_bars(frame: pd.DataFrame, labels: list[str], *, title: str = "", log_y: bool = True,
                   color: str = "series") -> alt.Chart:
    """Per-timestep gradient norms (columns t, grad_norm, ``color``); log scale makes vanishing visible."""
    lab = _position_labels(labels)
    frame = frame.assign(step=[lab[t] for t in frame["t"]], token=[labels[t] for t in frame["t"]],
                         grad_norm=frame["grad_norm"].clip(lower=1e-12))
    base = alt.Chart(frame).encode(
        x=alt.X("step:N", sort=lab, title="time step (token)",
                axis=alt.Axis(labelAngle=-45, labelExpr=LABEL_EXPR)),
        y=alt.Y("grad_norm:Q", title="gradient norm", scale=alt.Scale(type="log") if log_y else alt.Scale()),
        color=alt.Color(f"{color}:N", legend=alt.Legend(orient="top", title=None)),
        tooltip=[f"{color}:N", "token:N", alt.Tooltip("grad_norm:Q", format=".3e")])
    return (base.mark_line() + base.mark_point(filled=True, size=40)).properties(
        title=title, width=max(320, 40 * len(labels)), height=240)


def lab_lines(frame: pd.DataFrame, x: str, y: str, color: str, *, title: str = "", log_y: bool = False,
              x_title: str | None = None, y_title: str | None = None) -> alt.Chart:
    """A generic "one line per variant" chart for lab tables."""
    base = alt.Chart(frame).encode(
        x=alt.X(f"{x}:Q", title=x_title or x),
        y=alt.Y(f"{y}:Q", title=y_title or y, scale=alt.Scale(type="log") if log_y else alt.Scale()),
        color=alt.Color(f"{color}:N", legend=alt.Legend(orient="top", title=None)),
        tooltip=[f"{color}:N", alt.Tooltip(f"{x}:Q"), alt.Tooltip(f"{y}:Q", format=".3g")])
    return (base.mark_line() + base.mark_point(filled=True)).properties(title=title, width=380, height=240)


# --------------------------------------------------------------------------------------- data and comparison
def length_histogram(counts: pd.DataFrame, *, title: str = "") -> alt.Chart:
    """Sentence-length counts (columns side, length, sentences) as side-by-side bars per length."""
    return alt.Chart(counts).mark_bar(opacity=0.8).encode(
        x=alt.X("length:O", title="length (tokens)"), xOffset="side:N",
        y=alt.Y("sentences:Q", title="sentences"),
        color=alt.Color("side:N", legend=alt.Legend(orient="top", title=None)),
        tooltip=["side:N", "length:O", "sentences:Q"],
    ).properties(title=title, height=220)


def bleu_by_length(frame: pd.DataFrame, *, title: str = "") -> alt.Chart:
    """Grouped bars: columns bucket, model, bleu, sentences."""
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("bucket:N", title="source length (words)", sort=None),
        xOffset="model:N", y=alt.Y("bleu:Q", title="BLEU"),
        color=alt.Color("model:N", legend=alt.Legend(orient="top", title=None)),
        tooltip=["model:N", "bucket:N", alt.Tooltip("bleu:Q", format=".1f"), "sentences:Q"],
    ).properties(title=title, width=420, height=240)


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
