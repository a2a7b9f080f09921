"""Translate & beam search: one sentence, greedy or beam, the search tree, the n-best list, what-ifs."""

import streamlit as st

import ui_common as ui
from nmt_core import viz

ref = ui.page("Translate & beam search",
              "The decoder writes one token at a time. Greedy search keeps the single most probable prefix; "
              "beam search keeps the k best and can recover from a locally attractive mistake.")
sentence = ui.sentence_box(ref)
if sentence is None:
    st.stop()

c1, c2, c3, c4 = st.columns(4)
with c1:
    mode = ui.control(st.segmented_control, "Search", "mode", "beam", options=["greedy", "beam"], required=True)
greedy = mode == "greedy"
with c2:
    k = 1 if greedy else ui.control(st.slider, "Beam size k", "k", 5, min_value=1, max_value=12,
                                    help="How many prefixes survive each step (k = 1 is greedy).")
with c3:
    penalty = ui.control(st.selectbox, "Length penalty", "lp", "none", options=["none", "norm", "gnmt"],
                         help="Score = log p / penalty(length): none favours short outputs; norm divides by "
                              "the length; gnmt by ((5 + length) / 6)^α (Wu et al. 2016).")
    alpha = 0.6
    if penalty == "gnmt":
        alpha = ui.control(st.slider, "α", "alpha", 0.6, min_value=0.0, max_value=2.0, step=0.1)
    stopping = "exact"
    if penalty != "none" and not greedy:
        stopping = ui.control(st.selectbox, "Stopping rule", "stop", "exact", options=["exact", "heuristic"],
                              help="When a sentence's search ends. Exact: no live prefix could still beat the "
                                   "k-th finished hypothesis, even at the length cap. Heuristic (most toolkits): "
                                   "none could at its next length: stops sooner, rarely misses a longer winner. "
                                   "Compare the stop step below the translation.")
with c4:
    nbest = 1 if k == 1 else ui.control(st.slider, "n-best", "n", min(5, k), min_value=1, max_value=k)

result = ui.run_beam(ref, sentence, k, penalty, alpha, nbest, stopping=stopping)
if not result.hypotheses:
    st.error("The search found no complete translation.")
    st.stop()
ui.show_text("Best translation", result.best.text)
st.caption(f"score {result.best.score:.3f} · log p {result.best.logprob:.3f} · "
           f"search stopped at step {result.trace.stop_step} ({result.trace.stop_reason})")

st.subheader("The search tree")
st.caption("Each node is a prefix the search kept, labelled with its last token and its score. Red: the path to "
           "the best translation; orange: the other n-best; squares: finished hypotheses; grey: pruned branches. "
           "Press Play to watch the beam expand.")
ui.beam_tree_player(result)

st.subheader("n-best list")
table = result.nbest_frame()
st.dataframe(table.drop(columns=["node"]), hide_index=True,
             column_config={"score": st.column_config.NumberColumn(format="%.3f"),
                            "logprob": st.column_config.NumberColumn(format="%.3f")})
ui.frame_download(table, "nbest")
if result.best.attention is not None:
    rank = ui.control(st.selectbox, "Show the attention of hypothesis", "rank", 1,
                      options=list(range(1, len(result.hypotheses) + 1)),
                      format_func=lambda r: f"#{r}: {result.hypotheses[r - 1].text}")
    hyp = result.hypotheses[rank - 1]
    tgt = [*hyp.pieces] if hyp.pieces else [str(t) for t in hyp.tokens]
    ui.chart_with_downloads(viz.matrix_heatmap(hyp.attention, result.src_pieces, tgt,
                                               title=f"Attention while writing hypothesis #{rank}"),
                            result.attention_frame(rank), f"attention-hyp{rank}")

st.subheader("What if…")
left, right = st.columns(2)
with left:
    st.markdown("**…the translation had to start like this?**")
    prefix = ui.control(st.text_input, "Forced prefix (target language)", "prefix", "",
                        placeholder="e.g. la", max_chars=300)
    if prefix.strip():
        forced = ui.run_beam(ref, sentence, k, penalty, alpha, 1, prefix, stopping)
        if forced.hypotheses:
            ui.show_text("Best translation with that start", forced.best.text)
            delta = forced.best.score - result.best.score
            st.caption(f"score {forced.best.score:.3f} ({delta:+.3f} against the free search)")
        else:
            st.warning("No complete translation starts that way.")
with right:
    st.markdown("**…you score your own translation?**")
    mine = ui.control(st.text_input, "Your translation", "mine", "", max_chars=500)
    if mine.strip():
        verdict = ui.diagnose(ref, sentence, mine, k, penalty, alpha)
        st.metric("Model score of your translation", f"{verdict.reference.score:.3f}",
                  f"{verdict.reference.score - verdict.best.score:+.3f} vs the search's best", delta_color="normal")
        st.caption(f"Verdict: {verdict.verdict}: {verdict.explanation}")
        frame = verdict.reference.to_frame()
        frame["piece"] = ui.labels(frame["piece"])
        frame["top_piece"] = ui.labels(frame["top_piece"])
        ui.chart_with_downloads(viz.token_logprob_bars(frame, title="log p of each of your tokens"), frame,
                                "your-translation")

_, lab = ui.lab_tables("greedy-vs-beam")
if "sentences" in lab:
    with st.expander("Lab: when does beam search beat greedy search? (stored results)"):
        st.caption("A deliberately small model decodes 200 test sentences both ways; points above the diagonal are "
                   "sentences where the beam found a more probable translation.")
        ui.chart_with_downloads(viz.greedy_vs_beam_chart(lab["sentences"]), lab["sentences"], "greedy-vs-beam")
        if "wins" in lab:
            st.dataframe(lab["wins"][["src", "greedy", "beam", "first_diff_step", "greedy_word", "beam_word"]],
                         hide_index=True)
