"""Training replay: scrub through a run's snapshots and watch the model learn one sentence."""

import streamlit as st

from nmt_core import viz
from studio import downloads, explainers, layout, models, sentences, state

ref = layout.page("Training replay",
                  "Runs trained in the studio keep snapshots of the model at steps 25, 50, 100, 200, … (doubling, "
                  "so early training, where most changes, is covered best). Drag the slider: the dev BLEU the "
                  "snapshot had, what it translates this sentence to, its attention (on the final translation, so "
                  "the matrix stays in place and sharpens) and the gradient flowing back through the encoder.")
snapshots = explainers.snapshots_of(ref)
stored = explainers.stored_replays(ref)
if snapshots:
    sentence = sentences.sentence_box(ref)
    replay = explainers.live_replay(ref, sentence) if sentence else None
elif stored:
    st.caption("A shipped model carries no weight snapshots (they would not fit the repository); it carries what "
               "the replay shows for its example sentences, computed from the snapshots of the run that made it.")
    chosen = state.control(st.selectbox, "Example sentence", "replay_s", stored[0].sentence,
                           options=[r.sentence for r in stored], follows=ref)
    replay = next(r for r in stored if r.sentence == chosen)
else:
    carriers = [key for key, r in models.available_models().items() if explainers.stored_replays_path(r).is_file()]
    st.info("This model has no snapshots. Train a model on the **Train** page (every run keeps them), or pick a "
            "shipped model that carries a stored replay" + (f": {', '.join(carriers)}." if carriers else "."))
    st.stop()
if replay is None:
    st.stop()
chart = viz.training_replay_chart(replay)
st.altair_chart(chart, width="content")
st.caption("The slider moves in your browser: no waiting for the server while you scrub.")
table = replay.frames
st.dataframe(table, hide_index=True)
cols = st.columns(3)
with cols[0]:
    downloads.frame_download(table, "replay-frames", label="Frames (CSV)")
with cols[1]:
    downloads.frame_download(replay.attention, "replay-attention", label="Attention (CSV)")
with cols[2]:
    downloads.frame_download(replay.gradients, "replay-gradients", label="Gradients (CSV)")
downloads.figure_downloads(chart, "training-replay")
