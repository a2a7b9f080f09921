"""Gates: every gate of every recurrent layer while the model translates one sentence."""

import pandas as pd
import streamlit as st

from nmt_core import viz
from nmt_core.equations import EQUATIONS, GATE_LABELS
from studio import display, downloads, layers, layout, models, sentences, state
from studio.priority import extras, first_result

with first_result():  # what the student waits for; the rest of the page waits for the class's (priority.py)
    ref = layout.page("Gates",
                      "The fused LSTM kernel hides its gates, so the studio replays the same weights with the textbook "
                      "equations and records every value: time runs left to right, one row per unit. The decoder is "
                      "teacher-forced on the model's own translation.")
    sentence = sentences.sentence_box(ref)
    if sentence is None:
        st.stop()
    display.show_text("The model's translation (what the decoder runs on)", models.own_translation(ref, sentence))

with extras():
    result = models.gates(ref, sentence)
    side, layer, direction = layers.layer_picker(result, follows=ref)
    equations = EQUATIONS[result.cell]
    gate_names = [eq.quantity for eq in equations]
    steps = display.labels(result.labels(side))
    hidden = result.get(side, gate_names[0], layer, direction).shape[1]
    unit = state.control(st.slider, "Unit to follow", "unit", 0, min_value=0, max_value=hidden - 1,
                         help="Highlighted in the heatmaps and plotted over time below; the Cell page draws it.")

    eq_col, chart_col = st.columns([1, 2], gap="large")
    with eq_col:
        st.markdown(f"**The {result.cell.upper()} equations**")
        for eq in equations:
            st.latex(eq.latex)
            st.caption(eq.meaning)
    with chart_col:
        for tab, gate in zip(st.tabs([GATE_LABELS[g] for g in gate_names]), gate_names):
            with tab:
                values = result.get(side, gate, layer, direction)
                frame = pd.DataFrame(values, index=steps).rename_axis("token").reset_index()
                downloads.chart(viz.gate_heatmap, result, side, gate, layer, direction, max_units=None, data=frame,
                                name=f"gate-{gate}-{side}{layer}{direction}")

    st.subheader(f"Unit {unit} over time")
    lines = pd.DataFrame({g: result.get(side, g, layer, direction)[:, unit] for g in gate_names}, index=steps)
    downloads.chart(viz.unit_lines, result, side, unit, gate_names, layer, direction,
                    data=lines.rename_axis("token").reset_index(), name=f"unit-{unit}")

    sigmoid = [g for g in gate_names if g in ("i", "f", "o", "r", "z")]
    if sigmoid:
        st.subheader("Saturation")
        st.caption("Gates near 0 or 1 act like switches (shut or open); values in between blend. A forget gate "
                   "piled up near 1 is a unit that remembers.")
        table = result.saturation()
        downloads.chart(viz.saturation_histogram, result, data=table, name="saturation")
        st.dataframe(table, hide_index=True)

    st.subheader("Intervention: clamp one gate of one unit")
    c1, c2, c3 = st.columns(3)
    with c1:
        gate = state.control(st.selectbox, "Gate", "cgate", gate_names[0], options=gate_names)
    with c2:
        low = 0.0 if gate in sigmoid else -1.0
        value = state.control(st.slider, f"Clamp {gate} of unit {unit} at", "cval", low, min_value=low, max_value=1.0,
                              step=0.1)
    with c3:
        apply = state.control(st.toggle, "Apply and re-translate", "clamp", False)
    if apply:
        after = models.gate_clamp(ref, sentence, side, layer, direction, gate, unit, value)
        left, right = st.columns(2)
        with left:
            display.show_text("Before", after.before_text)
        with right:
            display.show_text(f"With {gate}[{unit}] = {value:g} at every step", after.after_text)
        st.caption("The translation changed." if after.changed else
                   f"Same output; log p of it went {after.before_score:.3f} → {after.after_score_of_before:.3f}.")
        st.dataframe(after.to_frame(), hide_index=True)
