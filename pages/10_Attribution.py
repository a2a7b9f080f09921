"""Attention vs attribution: where the decoder looked, what its output depends on, and what it left out."""

import streamlit as st

from nmt_core import viz
from nmt_core.inspection.attribution import ATTENDED_AGAIN, METHODS, NEVER_ATTENDED, coverage
from studio import display, downloads, explainers, layout, models, sentences, state
from studio.priority import extras, first_result

with first_result():  # what the student waits for; the rest of the page waits for the class's (priority.py)
    ref = layout.page("Attention vs attribution",
                      "Attention says where the decoder looked at each step; a gradient attribution asks how much each "
                      "source word changes the probability of each output word. They often agree, and sometimes do "
                      "not: attention is a distribution the model computes, not a proof of what it used.")
    sentence = sentences.sentence_box(ref)
    if sentence is None:
        st.stop()
    left, right = st.columns(2)
    with left:
        method = state.control(st.segmented_control, "Method", "attr_method", METHODS[1], options=list(METHODS),
                               help="Integrated gradients (Sundararajan et al. 2017) averages the gradient on the way "
                                    "from an all-zero input; gradient × input is its one-point shortcut.")
    with right:
        steps = state.control(st.slider, "Integration steps", "attr_steps", 16, min_value=2, max_value=64,
                              disabled=method != METHODS[1], help="One batched backward pass each.")
    display.show_text("The model's translation (each row below explains one of its tokens)",
                      models.own_translation(ref, sentence))

with extras():
    result = explainers.attribution(ref, sentence, method or METHODS[1], steps)
    heat = st.columns(2, gap="large")
    if result.attention is not None:
        with heat[0]:
            downloads.chart_with_downloads(viz.matrix_heatmap(result.attention, result.src_pieces, result.tgt_pieces,
                                                              title="Attention", cell=36),
                                           result.to_frame(), "attention-vs-attribution")
    with heat[1 if result.attention is not None else 0]:
        downloads.chart_with_downloads(viz.attribution_heatmap(result), result.to_frame(), "attribution")
    gap = result.completeness_gap
    if gap is not None:
        st.caption(f"Completeness check: each row's attributions add up to log p(y | x) − log p(y | zero input) "
                   f"within {abs(gap).max():.2g} nats with {result.steps} steps (more steps, smaller gap).")

    if result.attention is not None:
        table = result.agreement()
        same, rho = int(table.same_top.sum()), table.spearman.mean()
        st.subheader("Do they agree?")
        st.metric("Same top source token", f"{same} of {len(table)}",
                  help="For how many target tokens attention's largest weight and attribution's largest share fall "
                       "on the same source token.")
        st.caption(f"Mean Spearman rank correlation of the two rows: {rho:.2f} (1: same order, 0: unrelated). "
                   "Why they can disagree: attention weights are one intermediate quantity among many: the decoder "
                   "state itself carries information about the source, so an output can depend on a word attention "
                   "barely weights (Jain & Wallace 2019, 'Attention is not explanation'); whether attention explains "
                   "depends on what you test (Wiegreffe & Pinter 2019, 'Attention is not not explanation').")
        st.dataframe(table, hide_index=True)

        st.subheader("Coverage: what was left out, what was said twice")
        cover = coverage(result.attention, result.src_pieces)
        downloads.chart_with_downloads(viz.coverage_chart(cover), cover, "coverage")
        flagged = cover[cover.flag != ""]
        st.caption(f"Total attention each source token received over the translation (Tu et al. 2016). Below "
                   f"{NEVER_ATTENDED:g}: never really attended, perhaps dropped; above {ATTENDED_AGAIN:g}: attended "
                   "again and again, perhaps translated twice. Thresholds, not verdicts: a function word may rightly "
                   "get little attention. " + ("Flagged: " + ", ".join(f"“{t}” ({f})" for t, f in
                                                                       zip(flagged.token, flagged.flag))
                                               if len(flagged) else "Nothing flagged for this sentence."))
    else:
        st.info("This model has no attention: only the attribution can say which source words matter.")
