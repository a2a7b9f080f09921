"""The beam search tree, played: a step slider and a Play button that reveal the search one step at a time.

Playing reruns only a fragment every 0.8 s, so the rest of the page stays put and the tree's nodes just
appear; the chart itself comes from ``nmt_core.viz.beam_tree_chart`` and the trace the search returned.
"""

from __future__ import annotations

import streamlit as st

from nmt_core.hypotheses import BeamResult
from nmt_core.viz import beam_tree_chart
from studio.downloads import chart


def _toggle_play(last: int) -> None:
    playing = not st.session_state.get("playing", False)
    st.session_state["playing"] = playing
    if playing and st.session_state.get("step", last) >= last:
        st.session_state["step"] = 0


def beam_tree_player(result: BeamResult, name: str = "beam-tree") -> None:
    """The search tree with a step slider and a play button that reveals it one step at a time.
    A new search (another sentence or setting) is shown whole."""
    frame = result.trace.to_frame()
    last = int(frame["step"].max())
    ident = (result.trace.source, last, tuple(sorted(result.trace.settings.items())))
    if st.session_state.get("tree_of") != ident:
        st.session_state.update(tree_of=ident, step=last, playing=False)

    @st.fragment(run_every=0.8 if st.session_state.get("playing") else None)
    def player() -> None:
        if st.session_state.get("playing"):
            step = min(last, int(st.session_state.get("step", 0)) + 1)
            st.session_state["step"] = step
            if step >= last:
                st.session_state["playing"] = False
                st.rerun()  # a full rerun turns the timer off
        left, right = st.columns([1, 5], vertical_alignment="bottom")
        playing = st.session_state.get("playing", False)
        if left.button("Pause" if playing else "Play", icon=":material/pause:" if playing else ":material/play_arrow:",
                       key="play", on_click=_toggle_play, args=(last,), help="Watch the search expand step by step"):
            st.rerun()
        step = right.slider("Search step", 0, max(last, 1), key="step",
                            help="Step t shows the prefixes of length t the search kept, and what it pruned.")
        chart(beam_tree_chart, result.trace, step, data=result.trace, name=name)

    player()
