"""Gradient flow: how much of the loss's gradient reaches each time step, and the vanishing-gradient lab."""

import streamlit as st

import ui_common as ui
from nmt_core import viz_studio as viz

ref = ui.page("Gradient flow",
              "Backpropagation through time multiplies one factor per step. Here the sentence's loss "
              "L = −Σ log p(y_t) is differentiated with respect to every hidden state: a norm that shrinks "
              "towards the start of the sentence is a vanishing gradient.")
sentence = ui.sentence_box(ref)
if sentence is None:
    st.stop()
result = ui.gradients(ref, sentence)
st.caption(f"Loss of the model's own translation: L = {result.loss:.3f} (summed over {len(result.tgt_pieces)} tokens)")

frame = result.to_frame()
frame["series"] = [f"{q} · layer {la}" + ("" if d < 0 else f" · {'backward' if d else 'forward'}")
                   for q, la, d in zip(frame["quantity"], frame["layer"], frame["direction"])]
log_y = ui.control(st.toggle, "Logarithmic scale", "log", True)
enc, dec = st.columns(2)
with enc:
    ui.chart_with_downloads(
        viz.grad_norm_bars(frame[frame.side == "encoder"], ui.labels(result.src_pieces), log_y=log_y,
                           title="Encoder: ‖dL/dh_s‖ per source position"), frame[frame.side == "encoder"],
        "grad-encoder")
    st.caption("**dL/dh (total)** counts every path from h_s to the loss: through the recurrence, the bridge "
               "and attention. **dL/do (attention path)** is the direct route through attention alone.")
with dec:
    ui.chart_with_downloads(
        viz.grad_norm_bars(frame[frame.side == "decoder"], ui.labels(result.tgt_pieces), log_y=log_y,
                           title="Decoder: ‖dL/ds_t‖ per target step"), frame[frame.side == "decoder"], "grad-decoder")
    st.caption("Step t's state receives the loss of step t and of every later step through the recurrence.")

st.subheader("Which source word does each output word depend on?")
sal = result.salience_frame()
ui.chart_with_downloads(viz.attention_heatmap(result.salience, ui.labels(result.src_pieces),
                                              ui.labels(result.tgt_pieces), value_name="salience",
                                              title="‖d log p(y_t) / d h_s‖ (gradient salience)"), sal, "salience")

st.header("Lab: vanishing gradients (RNN vs GRU vs LSTM)")
st.markdown("Can a recurrent network carry **one symbol across `lag` steps**? Each network reads `lag + 1` "
            "random symbols and must output the first. The lecture's rule of thumb: a vanilla RNN manages about "
            "7 steps, an LSTM about 100, but only if its forget gate starts open.")
folder, tables = ui.lab_tables("vanishing")
if "accuracy" in tables:
    acc, grads = tables["accuracy"], tables.get("gradients")
    st.caption(f"Stored results from `{ui.escape_md(ui.display_path(folder))}`.")
    left, right = st.columns(2)
    with left:
        ui.chart_with_downloads(viz.lab_lines(acc, "lag", "accuracy", "variant", title="Accuracy after training",
                                              x_title="lag (steps to remember)"), acc, "vanishing-accuracy")
    if grads is not None and len(grads):
        with right:
            lag = ui.control(st.select_slider, "Lag", "lag", int(grads["lag"].max()),
                             options=sorted(int(x) for x in grads["lag"].unique()))
            stage = ui.control(st.segmented_control, "When", "stage", str(grads["stage"].iloc[0]),
                               options=sorted(grads["stage"].astype(str).unique()), required=True)
            pick = grads[(grads["lag"] == lag) & (grads["stage"].astype(str) == stage)]
            ui.chart_with_downloads(viz.lab_lines(pick, "k", "relative", "variant", log_y=True,
                                                  title=f"‖∂ℓ/∂h_(T−k)‖ / ‖∂ℓ/∂h_T‖, lag {lag}, {stage}",
                                                  x_title="k (steps back from the end)"), pick, "vanishing-gradients")
else:
    st.info("The lab has not been run on this server yet. Run it below (it trains small networks in the "
            "background) or from a terminal: `python -m nmt_core lab vanishing --budget small --out labs`.")
ui.lab_runner("vanishing", "Trains rnn, gru, lstm and an lstm with an open forget gate on lags 5 to 100.")
