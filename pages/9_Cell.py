"""The cell, live: one LSTM (or GRU, or vanilla RNN) cell drawn with the model's own numbers, step by step."""

import streamlit as st
import streamlit.components.v1 as components

from nmt_core import viz
from nmt_core.inspection.cell import cell_steps, liveliest_unit, steps_frame
from studio import display, downloads, layers, layout, models, sentences, state

ref = layout.page("The cell, live",
                  "The lecture's LSTM diagram with this model's numbers on every wire: the forget gate f scales the "
                  "old cell c(t-1), the input gate i lets the candidate g in, the two add up to c(t), and the output "
                  "gate o decides how much of tanh(c(t)) leaves as h(t). The values are the replay's (the trained "
                  "weights run through the textbook equations, proven equal to the fused kernel); the equations "
                  "under the diagram redo the arithmetic with the same numbers. Play steps through the sentence in "
                  "your browser; the decoder runs on the model's own translation.")
sentence = sentences.sentence_box(ref)
if sentence is None:
    st.stop()
result = models.gates(ref, sentence)
display.show_text("The model's translation (what the decoder runs on)", result.tgt_text)
side, layer, direction = layers.layer_picker(result, follows=ref)
hidden = result.get(side, "h", layer, direction).shape[1]
unit = state.control(st.slider, "Unit", "unit", liveliest_unit(result, side, layer, direction), min_value=0,
                     max_value=hidden - 1, follows=(ref.key, side, layer, direction),
                     help="Starts at the unit whose h moves most over this sentence. One unit is one number of the "
                          f"{hidden}-number state: the diagram follows that row of every vector.")
steps = cell_steps(result, side, unit, layer, direction)
if side == "encoder" and direction == 1:
    st.caption("The backward encoder reads the sentence right to left, so its steps play from the last word: "
               "its c(t-1) is the cell of the word to the right.")
components.html(viz.cell_player(steps), height=viz.player_height(steps))
st.caption("The first step starts from zeros (encoder) or from the bridge's projection of the encoder's final "
           "state (decoder). Box shading: a gate's value (dark = open); tanh values by size, orange when negative. "
           "Wire thickness: the size of the number it carries.")

st.subheader("Downloads")
table = steps_frame(steps)
chosen = state.control(st.select_slider, "Step for the SVG figure", "cell_step", 0,
                       options=list(range(len(steps))), format_func=lambda k: f"{k + 1}: {steps[k].label}",
                       follows=(ref.key, sentence, side, layer, direction))
c1, c2, c3 = st.columns(3)
with c1:
    downloads.frame_download(table, f"cell-{side}{layer}{direction}-unit{unit}", label="Every step (CSV)")
with c2:
    st.download_button("This step (SVG)", lambda: viz.cell_svg(steps[chosen]), f"cell-step{chosen}.svg",
                       mime="image/svg+xml", on_click="ignore", icon=":material/image:")
with c3:
    st.download_button("The player (HTML, opens offline)", lambda: viz.cell_player(steps, chosen), "cell-player.html",
                       mime="text/html", on_click="ignore", icon=":material/play_circle:")
st.dataframe(table, hide_index=True)
