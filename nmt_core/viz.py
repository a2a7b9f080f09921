"""Altair figures for inspection results, lab tables and training metrics. Never imports Streamlit.

Each builder takes a result object from ``nmt_core.inspection`` or a DataFrame (a lab table, a
``to_frame()``, ``runs.read_metrics``) and returns an Altair chart with tooltips, so the same figure
works in a page (``st.altair_chart``), a notebook or a test (``chart.to_dict()``, ``chart.save(...)``).

Token axes use unique "position:token" values (repeated words keep their own row/column) sorted by
position, and show only the token (``labelExpr``).
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from .inspection import AttentionResult, GateResult, GradientFlowResult, InterventionResult

# Gate heatmaps of wide layers exceed Altair's default 5,000-row guard; the data is ours and bounded
# (inspection caps sentences at 150 pieces).
alt.data_transformers.disable_max_rows()

LABEL_EXPR = "substring(datum.value, indexof(datum.value, ':') + 1)"
SIGMOID_GATES = ("i", "f", "o", "r", "z")


def _labels(tokens: Sequence[str]) -> list[str]:
    return [f"{i}:{t}" for i, t in enumerate(tokens)]


def _token_axis(field: str, tokens: Sequence[str], title: str, channel=alt.X) -> alt.X | alt.Y:
    angle = {"labelAngle": -45} if channel is alt.X else {}
    # labelOverlap=False: Vega-Lite would otherwise drop every other token label on narrow charts, and
    # each token is what the reader is looking for.
    return channel(f"{field}:N", sort=_labels(tokens), title=title,
                   axis=alt.Axis(labelExpr=LABEL_EXPR, labelOverlap=False, **angle))


def _matrix_frame(matrix: np.ndarray, rows: Sequence[str], cols: Sequence[str], value: str) -> pd.DataFrame:
    """(R, C) matrix -> long frame with unique row/col labels, the plain tokens and the value."""
    r_idx, c_idx = np.indices(matrix.shape)
    return pd.DataFrame({"row": np.asarray(_labels(rows), dtype=object)[r_idx.ravel()],
                         "col": np.asarray(_labels(cols), dtype=object)[c_idx.ravel()],
                         "target": np.asarray(rows, dtype=object)[r_idx.ravel()],
                         "source": np.asarray(cols, dtype=object)[c_idx.ravel()],
                         value: matrix.ravel().astype(float)})


def _heatmap(frame: pd.DataFrame, rows, cols, value: str, scale: alt.Scale, title: str) -> alt.Chart:
    return alt.Chart(frame).mark_rect().encode(
        x=_token_axis("col", cols, "source"), y=_token_axis("row", rows, "target", alt.Y),
        color=alt.Color(f"{value}:Q", scale=scale),
        tooltip=["target:N", "source:N", alt.Tooltip(f"{value}:Q", format=".4g")],
    ).properties(title=title, width=max(160, 30 * len(cols)), height=max(120, 30 * len(rows)))


# --------------------------------------------------------------------------------------- attention
def attention_heatmap(result: AttentionResult, gold: set[tuple[int, int]] | None = None,
                      title: str = "Attention") -> alt.Chart:
    """Rows: the target token being predicted; columns: source pieces; hover shows the weight.
    ``gold`` word links (source word, target word) are outlined on every piece of the two words."""
    frame = _matrix_frame(result.weights, result.tgt_pieces, result.src_pieces, "weight")
    chart = _heatmap(frame, result.tgt_pieces, result.src_pieces, "weight",
                     alt.Scale(scheme="blues", domain=[0, 1]), title)
    if not gold:
        return chart
    src_l, tgt_l = _labels(result.src_pieces), _labels(result.tgt_pieces)
    links = pd.DataFrame([{"col": src_l[s], "row": tgt_l[t], "gold": f"{result.src_pieces[s]} ↔ {result.tgt_pieces[t]}"}
                          for ws, wt in gold for s, ps in enumerate(result.src_word_index) if ps == ws
                          for t, pt in enumerate(result.tgt_word_index) if pt == wt], columns=["col", "row", "gold"])
    outline = alt.Chart(links).mark_square(size=500, filled=False, color="#e6550d", strokeWidth=2).encode(
        x=_token_axis("col", result.src_pieces, "source"), y=_token_axis("row", result.tgt_pieces, "target", alt.Y),
        tooltip=["gold:N"])
    return chart + outline


def salience_heatmap(result: GradientFlowResult, title: str | None = None) -> alt.Chart:
    """‖d log p(y_t) / d h_s‖ as a target-by-source matrix (see ``GradientFlowResult.salience_wrt``)."""
    frame = _matrix_frame(result.salience, result.tgt_pieces, result.src_pieces, "salience")
    wrt = "top-layer encoder state, total derivative" if result.salience_wrt == "states" else "encoder output"
    return _heatmap(frame, result.tgt_pieces, result.src_pieces, "salience", alt.Scale(scheme="oranges"),
                    title or f"Salience ‖d log p(y_t)/d h_s‖ ({wrt})")


# --------------------------------------------------------------------------------------- gates
def gate_heatmap(result: GateResult, side: str, gate: str, layer: int = 0, direction: int = 0,
                 max_units: int | None = 64) -> alt.Chart:
    """Time (tokens) x units for one gate; colour range fixed by the gate's range."""
    values = result.get(side, gate, layer, direction)[:, :max_units]  # (steps, H)
    tokens = result.labels(side)
    t_idx, u_idx = np.indices(values.shape)
    frame = pd.DataFrame({"t": np.asarray(_labels(tokens), dtype=object)[t_idx.ravel()], "unit": u_idx.ravel(),
                          "token": np.asarray(tokens, dtype=object)[t_idx.ravel()], "value": values.ravel()})
    if gate in SIGMOID_GATES:
        scale = alt.Scale(scheme="viridis", domain=[0, 1])
    else:
        bound = 1.0 if gate != "c" else float(np.abs(values).max()) or 1.0
        scale = alt.Scale(scheme="redblue", domain=[-bound, bound], reverse=True)
    return alt.Chart(frame).mark_rect().encode(
        x=_token_axis("t", tokens, "time step (token)"),
        y=alt.Y("unit:O", title="unit", axis=alt.Axis(values=list(range(0, values.shape[1], 8)))),
        color=alt.Color("value:Q", scale=scale, title=gate),
        tooltip=["token:N", "unit:O", alt.Tooltip("value:Q", format=".3f")],
    ).properties(title=f"{side} layer {layer}{' backward' if direction else ''}: {gate}",
                 width=max(160, 30 * len(tokens)), height=min(300, max(90, 4 * values.shape[1])))


def unit_lines(result: GateResult, side: str, unit: int, gates: Sequence[str] | None = None, layer: int = 0,
               direction: int = 0) -> alt.Chart:
    """One line per gate for one unit across time (e.g. i, f, o, c, h of LSTM unit 7)."""
    gates = gates or [g for (s, ly, d, g) in result.values if (s, ly, d) == (side, layer, direction)]
    tokens = result.labels(side)
    frame = pd.concat([pd.DataFrame({"t": _labels(tokens), "token": tokens, "gate": g,
                                     "value": result.get(side, g, layer, direction)[:, unit]}) for g in gates])
    base = alt.Chart(frame).encode(x=_token_axis("t", tokens, "time step (token)"), y=alt.Y("value:Q"),
                                   color=alt.Color("gate:N"),
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
        color=alt.Color("gate:N"), row=alt.Row("side:N"), column=alt.Column("gate:N"),
        tooltip=["side:N", "gate:N", "lo:Q", "hi:Q", "count:Q"],
    ).properties(width=140, height=100, title="Gate saturation")


# --------------------------------------------------------------------------------------- gradients
def grad_norm_chart(result: GradientFlowResult, log_y: bool = True) -> alt.Chart:
    """‖dL/dh_t‖ per timestep for every layer/direction (total derivative through the recurrence) and
    the attention-only ‖∂L/∂o_s‖, encoder and decoder side by side, log scale by default."""
    frame = result.to_frame()
    frame["series"] = [f"{q.split(' ')[0]} L{layer}{' bwd' if d == 1 else ''}" if d >= 0 else q
                       for q, layer, d in zip(frame.quantity, frame.layer, frame.direction)]
    frame["value"] = frame.grad_norm.clip(lower=1e-12) if log_y else frame.grad_norm
    charts = []
    for side, tokens in (("encoder", result.src_pieces), ("decoder", result.tgt_pieces)):
        part = frame[frame.side == side].assign(label=lambda f: [f"{t}:{tok}" for t, tok in zip(f.t, f.token)])
        base = alt.Chart(part).encode(
            x=_token_axis("label", tokens, f"{side} step"),
            y=alt.Y("value:Q", scale=alt.Scale(type="log" if log_y else "linear"), title="gradient norm"),
            color=alt.Color("series:N", title=None),
            tooltip=["token:N", "series:N", "quantity:N", alt.Tooltip("grad_norm:Q", format=".3e")])
        charts.append((base.mark_line() + base.mark_point(filled=True)).properties(
            title=f"{side}: ‖dL/dh_t‖", width=max(200, 30 * len(tokens)), height=220))
    return alt.hconcat(*charts)


# --------------------------------------------------------------------------------------- interventions
def intervention_chart(result: InterventionResult) -> alt.Chart:
    """log p of each output token before and after the intervention; hover shows both tokens."""
    frame = result.to_frame().melt(["t", "before", "after", "same"], ["before_logp", "after_logp"], "run", "logp")
    frame["run"] = frame.run.str.replace("_logp", "")
    frame["token"] = np.where(frame.run == "before", frame.before, frame.after)
    return alt.Chart(frame.dropna(subset=["logp"])).mark_bar().encode(
        x=alt.X("t:O", title="output step"), xOffset="run:N", y=alt.Y("logp:Q", title="log p(token)"),
        color=alt.Color("run:N", sort=["before", "after"]),
        tooltip=["t:O", "run:N", "token:N", "before:N", "after:N", alt.Tooltip("logp:Q", format=".3f")],
    ).properties(title="Greedy output before / after the intervention", width=max(240, 36 * frame.t.nunique()))


# --------------------------------------------------------------------------------------- labs
def vanishing_accuracy_chart(accuracy: pd.DataFrame) -> alt.Chart:
    """Lab ``vanishing`` table ``accuracy``: accuracy against lag, one line per cell variant, chance dashed."""
    base = alt.Chart(accuracy).encode(
        x=alt.X("lag:Q", scale=alt.Scale(type="log"), title="lag (steps between the symbol and the answer)"),
        y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1])), color=alt.Color("variant:N"),
        tooltip=["variant:N", "lag:Q", alt.Tooltip("accuracy:Q", format=".2f"), "steps:Q", "solved_at:Q"])
    chance = alt.Chart(accuracy).mark_rule(strokeDash=[4, 4], color="gray").encode(y="mean(chance):Q")
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
        color=alt.Color("variant:N"), column=alt.Column("stage:N", sort=["init", "trained"]),
        tooltip=["variant:N", "stage:N", "k:Q", alt.Tooltip("grad_norm:Q", format=".3e"),
                 alt.Tooltip("relative:Q", format=".3e")],
    ).properties(title=f"Gradient through time, lag {lag}", width=260, height=220)


def bottleneck_chart(bleu_by_length: pd.DataFrame) -> alt.Chart:
    """Lab ``bottleneck`` table ``bleu_by_length``: BLEU per source-length bucket, attention vs not."""
    order = list(dict.fromkeys(bleu_by_length.sort_values("lo").bucket)) if len(bleu_by_length) else []
    base = alt.Chart(bleu_by_length).encode(
        x=alt.X("bucket:N", sort=order, title="source length (words)"), y=alt.Y("bleu:Q", title="BLEU"),
        color=alt.Color("variant:N"), tooltip=["variant:N", "bucket:N", "sentences:Q", "bleu:Q", "chrf:Q"])
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
            color=alt.Color("variant:N"), tooltip=["variant:N", "step:Q", alt.Tooltip(f"{column}:Q", format=".4g")],
        ).properties(title=title, width=420, height=180))
    return alt.vconcat(*panels)


def depth_chart(models: pd.DataFrame) -> alt.Chart:
    """Lab ``depth`` table ``models``: test BLEU per variant, hover shows parameters and time."""
    return alt.Chart(models).mark_bar().encode(
        x=alt.X("variant:N", sort=list(models.variant), title=None, axis=alt.Axis(labelAngle=-20)),
        y=alt.Y("test_bleu:Q", title="test BLEU"), color=alt.Color("bidirectional:N"),
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
        color=alt.Color("winner:N"), tooltip=["src:N", "greedy:N", "beam:N", "first_diff_step:Q", "greedy_word:N",
                                              "beam_word:N", "greedy_bleu:Q", "beam_bleu:Q"])
    return (diagonal + points).properties(title="Greedy vs beam: model score per sentence", width=320, height=320)


# --------------------------------------------------------------------------------------- training
def training_curves(metrics: pd.DataFrame) -> alt.VConcatChart:
    """A run's metrics frame (``runs.read_metrics``; columns kind, step, loss, ppl, grad_norm, bleu, chrf):
    train loss (and dev loss), gradient norm (log), and dev BLEU/chrF, one panel each."""
    def panel(frame: pd.DataFrame, columns: list[str], title: str, log: bool = False) -> alt.Chart:
        present = [c for c in columns if c in frame]
        long = (frame[["step", *present]].melt("step", var_name="metric", value_name="value").dropna()
                if "step" in frame else pd.DataFrame(columns=["step", "metric", "value"]))
        return alt.Chart(long).mark_line(point=True).encode(
            x=alt.X("step:Q"), y=alt.Y("value:Q", scale=alt.Scale(type="log" if log else "linear"), title=title),
            color=alt.Color("metric:N"), tooltip=["metric:N", "step:Q", alt.Tooltip("value:Q", format=".4g")],
        ).properties(width=420, height=150, title=title)

    kind = metrics["kind"] if "kind" in metrics else pd.Series("train", index=metrics.index)
    train, dev = metrics[kind == "train"], metrics[kind == "dev"]
    parts = [f[["step", c]] for f, c in ((train, "loss"), (dev, "dev_loss")) if c in f and "step" in f]
    losses = pd.concat(parts) if parts else pd.DataFrame(columns=["step"])
    return alt.vconcat(panel(losses, ["loss", "dev_loss"], "loss"),
                       panel(train, ["grad_norm"], "gradient norm", log=True),
                       panel(dev, ["bleu", "chrf"], "dev BLEU / chrF")).resolve_scale(color="independent")
