"""Home: what the studio is, which model is loaded, and that model's card."""

import streamlit as st

from studio import layout, model_card, model_upload, state

ref = layout.page("NMT Studio", "A studio for teaching and inspecting recurrent neural machine translation.",
                  needs_model=False)

st.markdown("""
Type a sentence, watch a **recurrent encoder-decoder with attention** translate it, and open up every
step: the beam search tree, the attention weights, the LSTM gates and the gradients flowing back in time.
Then train a model of your own and watch it learn.
""")
guide = layout.PAGES[1:]
for row in range(0, len(guide), 4):  # every page, four to a row, in the navigation's order
    for col, (page, label, _, what) in zip(st.columns(4), guide[row:row + 4]):
        with col:
            st.page_link(page, label=label)
            st.caption(what)

if not state.locked():
    model_upload.upload_panel()
if ref is None:
    st.info("No model yet: start one on the **Train** page.")
    st.stop()

st.header("Model card")
model_card.model_card(ref)
