"""Home: what the studio is, which model is loaded, and that model's card."""

import streamlit as st

from studio import layout, model_card

ref = layout.page("NMT Studio", "A studio for teaching and inspecting recurrent neural machine translation.",
                  needs_model=False)

st.markdown("""
Type a sentence, watch a **recurrent encoder-decoder with attention** translate it, and open up every
step: the beam search tree, the attention weights, the LSTM gates and the gradients flowing back in time.
Then train a model of your own and watch it learn.
""")
guide = st.columns(4)
for col, (page, label, what) in zip(guide * 2, [
    ("pages/1_Translate.py", "Translate & beam search", "greedy vs beam, the search tree, n-best, what-ifs"),
    ("pages/2_Attention.py", "Attention", "soft alignment as a heatmap and as lines, vs gold alignments"),
    ("pages/3_Gates.py", "Gates", "i, f, o, g, c, h of every LSTM layer; clamp a gate and re-translate"),
    ("pages/4_Gradients.py", "Gradient flow", "per-step gradient norms; the vanishing-gradient lab"),
    ("pages/5_Train.py", "Train", "train a model on a built-in task or your own data, live"),
    ("pages/6_Compare.py", "Compare", "two models on one sentence; BLEU by sentence length"),
    ("pages/7_Data.py", "Data", "browse the corpus, tokenizer pieces, length histograms"),
]):
    with col:
        st.page_link(page, label=label)
        st.caption(what)

if ref is None:
    st.info("No model yet: start one on the **Train** page.")
    st.stop()

st.header("Model card")
model_card.model_card(ref)
