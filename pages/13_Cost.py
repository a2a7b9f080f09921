"""Cost X-ray: the time and the FLOPs of each part of one beam-search step, and what fast mode changes."""

import streamlit as st

from nmt_core.fast_mode import FastMode
from nmt_core.inspection.cost import explain, timing_note
from nmt_core.viz.cost import cost_chart, cost_frame
from studio import cost_view, display, downloads, fast_view, layout, sentences, state

ref = layout.page("Cost X-ray",
                  "Where one decoding step of beam search spends its time and its arithmetic: the target embedding, "
                  "the recurrent cell, attention, the combine layer, the output layer over every target piece, the "
                  "log-softmax and the search's bookkeeping (top-k, reordering the beams, the finished list). The "
                  "search runs for real on this sentence; at every step each part is timed on its own, on that step's "
                  "own tensors, and the whole step is timed too, so you can see what the parts leave over.")
sentence = sentences.sentence_box(ref)
if sentence is None:
    st.stop()
beam_size = state.control(st.slider, "Beam size", "beam_size", 5, min_value=1, max_value=12,
                          help="Each step runs every part once for each of the beam's hypotheses.")
int8, shortlist = fast_view.fast_controls(ref, expanded=True)
fast = FastMode(int8=int8, shortlist=shortlist)

exact = cost_view.cost(ref, sentence, beam_size, FastMode())
reports = [exact] if fast.exact else [exact, cost_view.cost(ref, sentence, beam_size, fast)]
st.info(explain(*reports), icon=":material/speed:")
for report in reports:
    display.show_text(f"Translation ({report.mode}, beam {beam_size})", report.translation)
downloads.chart_with_downloads(cost_chart(reports), cost_frame(reports), "cost-xray")
for report in reports:
    st.caption(timing_note(report))
st.caption("Time is measured on this server now (other work on it shows up as noise; a cached result is not "
           "timed again). FLOPs are counted from the model's sizes, matrix products only: a lookup, the softmax "
           "and the top-k cost time but no matrix FLOPs. Each hypothesis is one row of every matrix product, so a "
           "step's FLOPs are the beam size times the per-hypothesis FLOPs.")
frame, columns = cost_view.table(reports)
st.dataframe(frame, hide_index=True, column_config=columns)
