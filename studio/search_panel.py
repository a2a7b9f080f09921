"""The Translate page's search, controls in and views out: greedy or beam, beam size, length penalty,
stopping rule and n-best; then the n-best table with each hypothesis's own attention, and the verdict on a
translation the user typed (search error or model error?).

Each setting is a URL-bound control (``state.control``) whose key and field name match the keyword of
``models.beam_search``: ``beam_size`` from the slider to the search, one name all the way. Charts come from
``nmt_core.viz``; the views only choose what to show and label it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import streamlit as st

from nmt_core import viz
from nmt_core.hypotheses import BeamResult, Diagnosis
from studio import display, fast_view
from studio.display import labels
from studio.downloads import chart, frame_download
from studio.models import ModelRef
from studio.state import control


@dataclass(frozen=True)
class SearchSettings:
    """What the user chose; ``options()`` are the keyword arguments of ``models.beam_search``."""

    beam_size: int = 5
    length_penalty: str = "none"
    alpha: float = 0.6
    stopping: str = "exact"
    nbest: int = 5
    int8: bool = False  # fast mode (nmt_core.fast_mode): opt-in approximations, reported under the translation
    shortlist: bool = False

    def options(self, **changes: Any) -> dict[str, Any]:
        return {**asdict(self), **changes}


def search_controls(ref: ModelRef) -> SearchSettings:
    """Four columns of controls; a setting that does not apply (the beam size of greedy search, the stopping
    rule without a length penalty) is not drawn and keeps its neutral value."""
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        mode = control(st.segmented_control, "Search", "mode", "beam", options=["greedy", "beam"], required=True)
    greedy = mode == "greedy"
    with c2:
        beam_size = 1 if greedy else control(st.slider, "Beam size k", "beam_size", 5, min_value=1, max_value=12,
                                             help="How many prefixes survive each step (k = 1 is greedy).")
    with c3:
        penalty = control(st.selectbox, "Length penalty", "lp", "none", options=["none", "norm", "gnmt"],
                          help="Score = log p / penalty(length): none favours short outputs; norm divides by "
                               "the length; gnmt by ((5 + length) / 6)^α (Wu et al. 2016).")
        alpha = 0.6
        if penalty == "gnmt":
            alpha = control(st.slider, "α", "alpha", 0.6, min_value=0.0, max_value=2.0, step=0.1)
        stopping = "exact"
        if penalty != "none" and not greedy:
            stopping = control(st.selectbox, "Stopping rule", "stop", "exact", options=["exact", "heuristic"],
                               help="When a sentence's search ends. Exact: no live prefix could still beat the "
                                    "k-th finished hypothesis, even at the length cap. Heuristic (most toolkits): "
                                    "none could at its next length: stops sooner, rarely misses a longer winner. "
                                    "Compare the stop step below the translation.")
    with c4:
        nbest = 1 if beam_size == 1 else control(st.slider, "n-best", "n", min(5, beam_size), min_value=1,
                                                 max_value=beam_size)
    return SearchSettings(beam_size, penalty, alpha, stopping, nbest, *fast_view.fast_controls(ref))


def nbest_table(result: BeamResult) -> None:
    """The n-best list (with a CSV download) and, for a model with attention, the attention of the
    hypothesis the user picks (URL key ``rank``)."""
    table = result.nbest_frame()
    st.dataframe(table.drop(columns=["node"]), hide_index=True,
                 column_config={"score": st.column_config.NumberColumn(format="%.3f"),
                                "logprob": st.column_config.NumberColumn(format="%.3f")})
    frame_download(table, "nbest")
    if result.best.attention is None:
        return
    search = (result.trace.source, tuple(h.text for h in result.hypotheses))  # a new search starts at #1
    # The picker's labels are ranks only: a keyed widget keeps its identity across searches, and a browser showed
    # the previous sentence's text in it; the chosen hypothesis's text is printed under it, from this search.
    rank = control(st.selectbox, "Show the attention of hypothesis", "rank", 1,
                   options=list(range(1, len(result.hypotheses) + 1)), follows=search, format_func=lambda r: f"#{r}")
    hyp = result.hypotheses[rank - 1]
    st.caption(f"#{rank}: {hyp.text}")
    tgt = [*hyp.pieces] if hyp.pieces else [str(t) for t in hyp.tokens]
    chart(viz.matrix_heatmap, hyp.attention, result.src_pieces, tgt,
          title=f"Attention while writing hypothesis #{rank}", data=result.attention_frame(rank),
          name=f"attention-hyp{rank}")


def diagnosis_view(verdict: Diagnosis) -> None:
    """The model's score of the user's translation against the search's best, the verdict, and log p of
    each of the user's tokens."""
    st.metric("Model score of your translation", f"{verdict.reference.score:.3f}",
              f"{verdict.reference.score - verdict.best.score:+.3f} vs the search's best", delta_color="normal")
    st.caption(f"Verdict: {verdict.verdict}: {verdict.explanation}")
    frame = verdict.reference.to_frame()
    frame["piece"] = labels(frame["piece"])
    frame["top_piece"] = labels(frame["top_piece"])
    chart(viz.token_logprob_bars, frame, title="log p of each of your tokens", data=frame, name="your-translation")


def best_translation(ref: ModelRef, sentence: str, search: SearchSettings, result: BeamResult) -> None:
    """The best translation, its score and where the search stopped, and (in fast mode) what was approximated."""
    display.show_text("Best translation", result.best.text)
    st.caption(f"score {result.best.score:.3f} · log p {result.best.logprob:.3f} · "
               f"search stopped at step {result.trace.stop_step} ({result.trace.stop_reason})")
    fast_view.fast_mode_note(ref, sentence, search, result)
