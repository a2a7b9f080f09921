"""Translate & beam search: one sentence, greedy or beam, the search tree, the n-best list, what-ifs."""

import streamlit as st

from nmt_core import viz
from studio import beam_player, display, downloads, labs, layout, models, search_panel, sentences, state, what_ifs
from studio.priority import extras, first_result

with first_result():  # what the student waits for; the rest of the page waits for the class's (priority.py)
    ref = layout.page("Translate & beam search",
                      "The decoder writes one token at a time. Greedy search keeps the single most probable prefix; "
                      "beam search keeps the k best and can recover from a locally attractive mistake.")
    sentence = sentences.sentence_box(ref)
    if sentence is None:
        st.stop()
    search = search_panel.search_controls(ref)

    result = models.beam_search(ref, sentence, **search.options())
    if not result.hypotheses:
        st.error("The search found no complete translation.")
        st.stop()
    search_panel.best_translation(ref, sentence, search, result)

with extras():
    st.subheader("The search tree")
    st.caption("Each node is a prefix the search kept, labelled with its last token and its score. Vermillion: the "
               "path to the best translation; orange: the other n-best; squares: finished hypotheses; grey: pruned "
               "branches. Press Play to watch the beam expand.")
    beam_player.beam_tree_player(result)

    st.subheader("n-best list")
    search_panel.nbest_table(result)

    st.subheader("What if…")
    left, right = st.columns(2)
    with left:
        st.markdown("**…the translation had to start like this?**")
        prefix = state.control(st.text_input, "Forced prefix (target language)", "prefix", "",
                               placeholder="e.g. la", max_chars=300)
        if prefix.strip():
            forced = models.beam_search(ref, sentence, **search.options(nbest=1, prefix=prefix))
            if forced.hypotheses:
                display.show_text("Best translation with that start", forced.best.text)
                delta = forced.best.score - result.best.score
                st.caption(f"score {forced.best.score:.3f} ({delta:+.3f} against the free search)")
            else:
                st.warning("No complete translation starts that way.")
    with right:
        st.markdown("**…you score your own translation?**")
        mine = state.control(st.text_input, "Your translation", "mine", "", max_chars=500)
        if mine.strip():
            verdict = models.diagnosis(ref, sentence, mine, search.beam_size, search.length_penalty, search.alpha)
            search_panel.diagnosis_view(verdict)
            if search.int8 or search.shortlist:  # one model for both scores: the exact one
                st.caption("Scored with the exact model and its own search, not fast mode's.")

    st.subheader("…the search could not write a token, or had to?")
    what_ifs.token_what_if(ref, sentence, search, result)

    st.subheader("Decoding settings side by side")
    what_ifs.side_by_side(ref, sentence)

    _, lab = labs.lab_tables("greedy-vs-beam")
    if "sentences" in lab:
        with st.expander("Lab: when does beam search beat greedy search? (stored results)"):
            st.caption("A deliberately small model decodes 200 test sentences both ways; points above the diagonal are "
                       "sentences where the beam found a more probable translation.")
            downloads.chart(viz.greedy_vs_beam_chart, lab["sentences"], data=lab["sentences"], name="greedy-vs-beam")
            if "wins" in lab:
                st.dataframe(lab["wins"][["src", "greedy", "beam", "first_diff_step", "greedy_word", "beam_word"]],
                             hide_index=True)
