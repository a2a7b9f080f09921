"""Data: browse the corpus a model learned from, see how the tokenizer cuts a sentence, length histograms."""

import pandas as pd
import streamlit as st

from nmt_core import tasks, viz
from studio import corpora, display, downloads, layout, models, state

ref = layout.page("Data", "A translation model only knows what its corpus shows it. Browse the sentence pairs, "
                  "see how sentences are cut into pieces, and how long they are.", needs_model=False)
names = [t.name for t in tasks.list_tasks()]
options = (["the selected model's data"] if ref else []) + [f"built-in task: {n}" for n in names]
which = state.control(st.selectbox, "Corpus", "corpus", options[0], options=options)
if which.startswith("built-in task: "):
    size = state.control(st.slider, "Pairs to generate", "size", 2000, min_value=100, max_value=20000, step=100)
    data = {"task": which.removeprefix("built-in task: "), "size": size, "dev_size": size // 10,
            "test_size": size // 10}
else:
    data = corpora.model_data(ref)
stored = None  # the checkpoint's own test pairs, when the corpus is not on this machine
try:
    splits, report = corpora.corpus_splits(data)
except (ValueError, OSError) as err:
    stored = corpora.stored_test_splits(ref) if ref and corpora.missing_file(err) else None
    if stored is None:
        st.error(f"Cannot read this corpus: {display.escape_md(err)}")
        st.stop()
    splits, report = stored
    st.info(f"The corpus is not on this machine ({display.escape_md(err)}); docs/models.md says where to put it. "
            f"Shown instead: the held-out test pairs the checkpoint carries ({len(splits['test']):,}, "
            f"{display.escape_md(report['source'])}). Pick a built-in task above to browse generated data.")

cols = st.columns(4)
for col, (label, value) in zip(cols, [("Train pairs", len(splits["train"])), ("Dev pairs", len(splits["dev"])),
                                      ("Test pairs", len(splits["test"])),
                                      ("Dropped by cleaning", report["input_pairs"] - report["kept"])]):
    col.metric(label, "—" if stored and label != "Test pairs" else f"{value:,}")  # stored pairs: only a test split
if not stored:  # the stored pairs were cleaned when the model was trained: no report here
    with st.expander("Cleaning report"):
        st.dataframe(pd.DataFrame([report]), hide_index=True)

st.subheader("Sentence pairs")
present = [name for name in ("train", "dev", "test") if len(splits[name])] or ["train"]
part = state.control(st.segmented_control, "Split", "split", present[0], options=present, required=True)
query = state.control(st.text_input, "Find (in either language)", "q", "", max_chars=200)
frame = splits[part]
if query.strip():
    hit = frame["src"].str.contains(query, case=False, regex=False) | frame["tgt"].str.contains(query, case=False,
                                                                                               regex=False)
    frame = frame[hit]
st.caption(f"{len(frame):,} pairs" + (" (showing the first 1,000)" if len(frame) > 1000 else ""))
st.dataframe(frame.head(1000), hide_index=True, height=300)
downloads.frame_download(frame, f"{part}-pairs")

st.subheader("Lengths")
lengths = pd.concat([frame[side].str.split().str.len().value_counts().rename("sentences").rename_axis("length")
                     .reset_index().assign(side=side) for side in ("src", "tgt")], ignore_index=True)
downloads.chart_with_downloads(viz.length_histogram(lengths, title=f"Sentence length in words ({part})"), lengths,
                               "lengths")

if ref:
    st.subheader("How the model's tokenizer cuts a sentence")
    toks = models.checkpoint(ref).tokenizers
    shown = splits["train"] if len(splits["train"]) else splits["test"]
    first = str(shown["src"].iloc[0]) if len(shown) else ""
    text = state.control(st.text_input, "Sentence", "ps", first, max_chars=500)
    side = state.control(st.radio, "Language", "side", "source", options=["source", "target"], horizontal=True)
    tok = toks.src if side == "source" else toks.tgt
    ids = tok.encode(text)
    st.dataframe(pd.DataFrame({"piece": tok.pieces(text)[: len(ids)], "id": ids}).T.astype(str), height=110)
    st.caption(f"{len(ids)} pieces · vocabulary of {tok.vocab_size:,} pieces ({tok.model_type()}); '▁' marks "
               "the start of a word; ids 0–3 are <pad>, <unk>, <s>, </s>.")
