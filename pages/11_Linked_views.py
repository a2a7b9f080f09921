"""Linked views: every view of one sentence on one page, and one hover that lights them all up."""

import streamlit as st

from nmt_core.equations import GATE_LABELS, GATE_NAMES
from nmt_core.viz.linked import linked_views
from studio import downloads, explainers, layout, models, sentences, state

ref = layout.page("Linked views",
                  "One sentence, every view of it: hover a word of the translation and its attention row, its "
                  "salience row, the decoder's state at that step and its node in the beam tree light up "
                  "(vermillion); hover a source word and its attention column and its encoder states light up "
                  "(blue). All views use the beam search's best translation, so row t means the same word everywhere.")
sentence = sentences.sentence_box(ref)
if sentence is None:
    st.stop()
config = models.checkpoint(ref).config.model
gates = GATE_NAMES[config.cell]
left, mid, right = st.columns(3)
with left:
    beam_size = state.control(st.slider, "Beam size", "beam_size", 5, min_value=1, max_value=12)
with mid:
    gate = state.control(st.selectbox, "Decoder quantity", "linked_gate", gates[0], options=list(gates),
                         format_func=GATE_LABELS.get, follows=ref)
with right:
    layer = state.control(st.selectbox, "Decoder layer", "linked_layer", 0,
                          options=list(range(config.decoder_layers)), follows=ref)
linked = explainers.linked(ref, sentence, beam_size, gate, layer)
chart = linked_views(linked)
st.altair_chart(chart, width="content")
if not linked.tree_matches:
    st.caption("The beam tree is left out: re-reading the translation splits it into different pieces than the "
               "search produced, so its nodes cannot be matched to the rows above.")
st.caption("Attention: where the decoder looked while predicting each target token. Salience: how strongly that "
           "token's log-probability depends on each encoder state (gradient norm). Decoder rows: the chosen gate or "
           "state at the step that predicts the token; encoder rows: the top layer's hidden state per source token.")
downloads.frame_download(linked.to_frame(), "linked-views", label="Every number (CSV)")
downloads.figure_downloads(chart, "linked-views")
st.caption("The sidebar's **Lesson file** button exports all of this, playable, as one HTML file.")
