"""Attention: which source words the decoder looked at while writing each target word."""

import streamlit as st

from nmt_core import viz
from studio import display, downloads, layout, models, sentences, state
from studio.priority import extras, first_result

with first_result():  # what the student waits for; the rest of the page waits for the class's (priority.py)
    ref = layout.page("Attention",
                      "At every decoder step, attention scores each source position, turns the scores into weights "
                      "with a softmax and reads a weighted average of the encoder states. Row t of the matrix is that "
                      "distribution while the model writes target token t: a soft alignment, learned for free.")
    if models.checkpoint(ref).model.attention is None:
        st.info("This model has no attention (attention: none): the decoder sees the source only through one "
                "vector, the lecture's bottleneck. Pick a model with attention in the sidebar.")
        st.stop()
    sentence = sentences.sentence_box(ref)
    if sentence is None:
        st.stop()

    model_output = models.translation(ref, sentence)
    gold = sentences.gold_alignment(ref, sentence)  # (reference, set of (src word, tgt word) links) or None
    choices = ["the model's translation"] + (["the reference"] if gold else []) + ["my own translation"]
    source = state.control(st.radio, "Attention while writing", "target", choices[0], options=choices, horizontal=True,
                           help="The decoder is teacher-forced on this target, step by step.", follows=(ref, sentence))
    if source == "the reference":
        target = gold[0]
    elif source == "my own translation":
        target = state.control(st.text_input, "Your translation", "mine", model_output, max_chars=500,
                               follows=(ref, sentence))
    else:
        target = model_output
    if not target.strip():
        st.info("Type a translation to see where the model looks while writing it.")
        st.stop()
    display.show_text("Target the decoder writes", target)

with extras():
    result = models.attention(ref, sentence, target)
    links = gold[1] if gold and target == gold[0] else None
    if links is not None:
        scores = sentences.alignment_scores(result, links)
        c1, c2, c3 = st.columns(3)
        c1.metric("AER (lower is better)", f"{scores.aer:.2f}", help="Alignment error rate, Och & Ney 2003")
        c2.metric("Precision", f"{scores.precision:.2f}")
        c3.metric("Recall", f"{scores.recall:.2f}")
        st.caption("Orange squares/dashes: the gold word alignment of the built-in task. The model's alignment is "
                   "the argmax of each row (a row whose argmax is </s> aligns to nothing).")
    elif gold:
        st.caption("Gold alignments exist for the reference only: choose **the reference** to compare with them.")

    heat, lines = st.tabs(["Heatmap", "Alignment lines"])
    with heat:
        downloads.chart(viz.attention_heatmap, result, gold=links, title="Attention weights", data=result.to_frame(),
                        name="attention")

    with lines:
        threshold = state.control(st.slider, "Hide weights below", "thr", 0.1, min_value=0.0, max_value=0.9, step=0.05)
        downloads.chart(viz.alignment_lines, result, threshold=threshold, gold=links,
                        title="Soft alignment (line width = weight)", data=result.to_frame(), name="alignment-lines")

    st.subheader("What if the decoder could not look at a word?")
    blocked = state.control(st.multiselect, "Hide these source positions from attention", "block", [],
                            options=list(range(len(result.src_pieces) - 1)), follows=(ref, result.src_pieces),
                            format_func=lambda i: f"{i}: {display.labels(result.src_pieces)[i]}")
    if blocked:
        what_if = models.source_blocking(ref, sentence, tuple(blocked))
        left, right = st.columns(2)
        with left:
            display.show_text("Before", what_if.before_text)
        with right:
            display.show_text("With those words hidden", what_if.after_text)
        unchanged = "" if what_if.changed else " (the output did not change)"
        st.caption(f"log p of the original translation: {what_if.before_score:.3f} → "
                   f"{what_if.after_score_of_before:.3f} with the intervention{unchanged}")
