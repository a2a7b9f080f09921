"""Gradient flow: how much of the loss's gradient reaches each time step, and the vanishing-gradient lab."""

import streamlit as st

from nmt_core import viz
from studio import display, downloads, labs, layout, models, paths, sentences, state
from studio.priority import extras, first_result

with first_result():  # what the student waits for; the rest of the page waits for the class's (priority.py)
    ref = layout.page("Gradient flow",
                      "Backpropagation through time multiplies one factor per step. Here the sentence's loss "
                      "L = −Σ log p(y_t) is differentiated with respect to every hidden state: a norm that shrinks "
                      "towards the start of the sentence is a vanishing gradient.")
    sentence = sentences.sentence_box(ref)
    if sentence is None:
        st.stop()
    display.show_text("The model's translation (its loss is differentiated below)",
                      models.own_translation(ref, sentence))

with extras():
    result = models.gradient_flow(ref, sentence)
    st.caption(f"Loss of the model's own translation: L = {result.loss:.3f} "
               f"(summed over {len(result.tgt_pieces)} tokens)")
    log_y = state.control(st.toggle, "Logarithmic scale", "log", True)
    downloads.chart(viz.grad_norm_chart, result, log_y=log_y, data=result.to_frame(), name="gradient-flow")
    st.caption("**dL/dh (total)** counts every path from a hidden state to the loss: through the recurrence, the "
               "bridge into the decoder and attention. **dL/do (attention path)** is the direct route through "
               "attention alone. A decoder state at step t receives the loss of step t and of every later step.")

    st.subheader("Which source word does each output word depend on?")
    downloads.chart(viz.salience_heatmap, result, data=result.salience_frame(), name="salience")

    st.header("Lab: vanishing gradients (RNN vs GRU vs LSTM)")
    st.markdown("Can a recurrent network carry **one symbol across `lag` steps**? Each network reads `lag + 1` "
                "random symbols and must output the first. The lecture's rule of thumb: a vanilla RNN manages about "
                "7 steps, an LSTM about 100, but only if its forget gate starts open.")
    folder, tables = labs.lab_tables("vanishing")
    if "accuracy" in tables:
        acc, grads = tables["accuracy"], tables.get("gradients")
        st.caption(f"Stored results from `{display.escape_md(paths.display_path(folder))}`.")
        downloads.chart(viz.vanishing_accuracy_chart, acc, data=acc, name="vanishing-accuracy")
        if grads is not None and len(grads):
            lag = state.control(st.select_slider, "Lag for the gradient picture", "lag", int(grads["lag"].max()),
                                options=sorted(int(x) for x in grads["lag"].unique()))
            downloads.chart(viz.vanishing_gradient_chart, grads, lag, data=grads[grads["lag"] == lag],
                            name="vanishing-gradients")
            st.caption("How much of the last step's gradient reaches the state k steps earlier: a vanilla RNN's "
                       "falls off exponentially; an LSTM whose forget gate is open keeps it.")
    else:
        st.info("The lab has not been run on this server yet. Run it below (it trains small networks in the "
                "background) or from a terminal: `python -m nmt_core lab vanishing --budget small --out labs`.")
    labs.lab_runner("vanishing", "Trains rnn, gru, lstm and an lstm with an open forget gate on lags 5 to 100.")

    _, clipping = labs.lab_tables("clipping")
    if "curves" in clipping:
        with st.expander("Lab: exploding gradients and clipping (stored results)"):
            st.caption("The same model at a learning rate that is too high, with and without clipping the "
                       "gradient norm.")
            downloads.chart(viz.clipping_chart, clipping["curves"], data=clipping["curves"], name="clipping")
            if "summary" in clipping:
                st.dataframe(clipping["summary"], hide_index=True)
