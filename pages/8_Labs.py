"""Labs: every lecture claim as a small experiment, its stored results, and a run you can start now."""

import streamlit as st

from studio import lab_view, layout

layout.page("Labs", "Each lab tests one claim of the lecture or the tutorial with a small controlled experiment. "
            "Under each claim: what the stored run measured (the sentence is computed from the numbers shown, "
            "so it says so when a claim does not reproduce), the charts and tables to download, and a button that "
            "runs the lab again here at a class budget.", needs_model=False)

SECTIONS = [
    ("Vanishing gradients: RNN vs GRU vs LSTM", "vanishing"),
    ("Exploding gradients and clipping", "clipping"),
    ("Truncated backpropagation through time", "tbptt"),
    ("The bottleneck on the toy grammar", "bottleneck"),
    ("The bottleneck on real English→German", "bottleneck-en-de"),
    ("Depth and direction", "depth"),
    ("Greedy vs beam search on the toy grammar", "greedy-vs-beam"),
    ("Greedy vs beam search on real English→German", "greedy-vs-beam-en-de"),
]
for tab, (title, name) in zip(st.tabs([title for title, _ in SECTIONS]), SECTIONS):
    with tab:
        st.subheader(title)
        lab_view.lab_section(name)
