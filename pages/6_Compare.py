"""Compare: two models on the same sentence, side by side, and BLEU by sentence length."""

import streamlit as st

from nmt_core import viz
from studio import corpora, display, downloads, lab_view, layout, models, sentences, state

layout.page("Compare", "Two models, one sentence: do they agree, and where do they look? Below, their BLEU on "
            "the same test sentences, split by source length: does attention help most on long sentences?",
            needs_model=True)


def bottleneck_lab() -> None:
    st.subheader("Lab: the bottleneck on real English→German (stored results)")
    lab_view.lab_results("bottleneck-en-de", table=False)
    st.page_link("pages/8_Labs.py", label="All labs, with their tables and a button to run them again",
                 icon=":material/science:")


available = models.available_models()
keys = list(available)
if len(keys) < 2:
    st.info("Comparing needs two models: train one on the **Train** page (for example the same task without "
            "attention) and come back.")
    bottleneck_lab()
    st.stop()
left, right = st.columns(2)
with left:
    a = state.control(st.selectbox, "Model A", "a", keys[0], options=keys)
with right:
    b = state.control(st.selectbox, "Model B", "b", models.contrast_model(a, keys), options=keys,
                      help="By default the same recipe without attention, when one is shipped (the bottleneck model).")
ref_a, ref_b = available[a], available[b]
task_a, task_b = models.checkpoint(ref_a).config.data.task, models.checkpoint(ref_b).config.data.task
if task_a != task_b:
    st.warning(f"The models were trained on different data ({task_a or 'a corpus'} vs {task_b or 'a corpus'}): "
               "one of them may not know the words of this sentence.")
sentence = sentences.sentence_box(ref_a)
if sentence is None:
    st.stop()
beam_size = state.control(st.slider, "Beam size", "beam_size", 5, min_value=1, max_value=12)

for col, name, ref in zip(st.columns(2, gap="large"), "AB", (ref_a, ref_b)):
    with col:
        st.markdown(f"**Model {name}**: {display.escape_md(ref.label)}")
        result = models.beam_search(ref, sentence, beam_size=beam_size, nbest=1)
        if not result.hypotheses:
            st.error("No complete translation found.")
            continue
        display.show_text("Translation", result.best.text)
        st.caption(f"score {result.best.score:.3f} · {models.checkpoint(ref).model.num_parameters():,} parameters")
        if result.best.attention is not None:
            downloads.chart_with_downloads(viz.matrix_heatmap(result.best.attention, result.src_pieces,
                                                              result.best.pieces, title="Attention"),
                                           result.attention_frame(1), f"compare-attention-{name}")
        else:
            st.caption("No attention: this model reads the source through one vector.")

st.subheader("BLEU by source length")
st.caption("Both models translate held-out test sentences of model A's data, evenly spaced through it (greedy), "
           "scored with sacrebleu in up to three source-length buckets cut at the thirds of the lengths.")
n = state.control(st.slider, "Test sentences", "nt", 200, min_value=50, max_value=1000, step=50)
if state.control(st.toggle, "Compute (translates the test set with both models)", "bleu", False):
    try:
        table, which = corpora.bleu_by_length((ref_a, ref_b), n)
    except (ValueError, OSError) as err:
        st.error(f"Cannot read model A's test data: {display.escape_md(err)}")
        st.stop()
    chart = viz.bottleneck_chart(table.rename(columns={"model": "variant"}))
    downloads.chart_with_downloads(chart.properties(title="BLEU per source-length bucket"), table, "bleu-by-length")
    st.dataframe(table, hide_index=True)
    st.caption(f"{which}.")


bottleneck_lab()
