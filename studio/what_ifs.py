"""Two ways to ask the search "what if": force or block one output token at one step, and run up to four
decoding settings side by side on the same sentence.

Why beside the search tree: the lecture's beam search is a set of choices (keep k prefixes, rank by a length
penalty, stop by a rule); a student learns what each choice does by changing one and seeing where the output
parts ways. Every number here comes from the search's own result (``BeamResult``), searched again by the core
with the change (``Translator.beam_search(constraints=...)``), never estimated.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from nmt_core import viz
from nmt_core.hypotheses import BeamResult
from studio import display, downloads, models
from studio.models import ModelRef
from studio.search_panel import SearchSettings
from studio.state import control


def token_what_if(ref: ModelRef, sentence: str, search: SearchSettings, result: BeamResult) -> None:
    """Force or block one token at one step and search again; the two results side by side, with the forced
    search's tree and both attention matrices."""
    best = result.best
    steps = max(1, len(best.tokens))
    follows = (result.trace.source, best.text)
    c1, c2, c3 = st.columns([1, 1, 2])
    with c1:
        step = control(st.number_input, "At output step", "wi_step", 1, min_value=1, max_value=steps,
                       help="1 = the first target token")
    with c2:
        action = control(st.segmented_control, "The search must", "wi_do", "block", options=["block", "force"],
                         required=True, format_func=lambda a: f"{a} this token")
    own = display.labels([best.pieces[step - 1]])[0] if best.pieces and step <= len(best.pieces) else ""
    with c3:
        text = control(st.text_input, "Token", "wi_tok", own, max_chars=60, follows=(follows, step),
                       help="Target word or piece; by default the model's own choice at that step (block it to see "
                            "the runner-up).")
    if not text.strip():
        return
    try:
        token, piece, note = models.translator(ref).target_piece(text)
    except ValueError as err:
        st.warning(display.escape_md(err))
        return
    what_if = models.beam_search(ref, sentence, **search.options(nbest=1, what_if=(step - 1, action, token)))
    if note:
        st.caption(display.escape_md(note))
    if not what_if.hypotheses:
        st.warning(f"No complete translation {action}s {piece!r} at step {step}.")
        return
    _two_results(result, what_if, f"{action} {display.labels([piece])[0]!r} at step {step}")


def _two_results(own: BeamResult, changed: BeamResult, what: str) -> None:
    left, right = st.columns(2, gap="large")
    with left:
        display.show_text("The model's own choice", own.best.text)
        st.caption(f"score {own.best.score:.3f} · log p {own.best.logprob:.3f}")
        if own.best.attention is not None:
            downloads.chart(viz.matrix_heatmap, own.best.attention, own.src_pieces, own.best.pieces,
                            title="Attention: the model's own choice", data=own.attention_frame(1),
                            name="what-if-own-attention")
    with right:
        display.show_text(f"With {what}", changed.best.text)
        delta = changed.best.score - own.best.score
        st.caption(f"score {changed.best.score:.3f} ({delta:+.3f}) · log p {changed.best.logprob:.3f}")
        if changed.best.attention is not None:
            downloads.chart(viz.matrix_heatmap, changed.best.attention, changed.src_pieces, changed.best.pieces,
                            title=f"Attention: {what}", data=changed.attention_frame(1), name="what-if-attention")
    st.caption("The search tree with the change (the forced or blocked step has only the allowed continuations):")
    downloads.chart(viz.beam_tree_chart, changed.trace, data=changed.trace, name="what-if-tree")


# --------------------------------------------------------------------------------------- side by side
@dataclass(frozen=True)
class Setting:
    beam_size: int
    length_penalty: str
    alpha: float
    stopping: str

    @property
    def name(self) -> str:
        if self.beam_size == 1:
            return "greedy"
        penalty = {"none": "no penalty", "norm": "length-normalised", "gnmt": f"GNMT α={self.alpha:g}"}
        stop = "" if self.length_penalty == "none" else f", {self.stopping} stop"
        return f"beam {self.beam_size}, {penalty[self.length_penalty]}{stop}"


#: The settings a comparison starts from: greedy against beam search with and without a length penalty.
DEFAULTS = (Setting(1, "none", 0.6, "exact"), Setting(5, "none", 0.6, "exact"), Setting(5, "gnmt", 0.6, "exact"),
            Setting(12, "norm", 0.6, "heuristic"))


def _setting_controls(i: int, start: Setting) -> Setting:
    k = control(st.slider, f"Beam size ({i + 1})", f"sbs{i}_k", start.beam_size, min_value=1, max_value=12)
    penalty = control(st.selectbox, f"Length penalty ({i + 1})", f"sbs{i}_lp", start.length_penalty,
                      options=["none", "norm", "gnmt"])
    alpha = start.alpha
    if penalty == "gnmt":
        alpha = control(st.slider, f"α ({i + 1})", f"sbs{i}_a", start.alpha, min_value=0.0, max_value=2.0, step=0.1)
    stopping = start.stopping
    if penalty != "none" and k > 1:
        stopping = control(st.selectbox, f"Stopping rule ({i + 1})", f"sbs{i}_stop", start.stopping,
                           options=["exact", "heuristic"])
    return Setting(k, penalty, alpha, stopping)


def side_by_side(ref: ModelRef, sentence: str) -> None:
    """2-4 decoding settings on one sentence: each one's output, score, length and stop step, and the first
    output position where it parts ways with the first setting's."""
    n = control(st.segmented_control, "Settings to compare", "sbs_n", 3, options=[2, 3, 4], required=True)
    settings = []
    for i, col in enumerate(st.columns(n)):
        with col:
            settings.append(_setting_controls(i, DEFAULTS[i]))
    results = [models.beam_search(ref, sentence, beam_size=s.beam_size, length_penalty=s.length_penalty,
                                  alpha=s.alpha, stopping=s.stopping, nbest=1) for s in settings]
    table = comparison_table(settings, results)
    st.dataframe(table, hide_index=True, column_config={"score": st.column_config.NumberColumn(format="%.3f"),
                                                        "log p": st.column_config.NumberColumn(format="%.3f")})
    downloads.frame_download(table, "decoding-side-by-side")


def comparison_table(settings: list[Setting], results: list[BeamResult]) -> pd.DataFrame:
    """One row per setting; ``parts ways at`` is the first output position (1-based) where the output differs from
    the first setting's, or "same output" (text, so the table never shows a bare "None")."""
    first = results[0].best.pieces if results[0].hypotheses else ()
    rows = []
    for setting, result in zip(settings, results):
        if not result.hypotheses:
            rows.append({"setting": setting.name, "translation": "(no complete translation)",
                         "parts ways at": "no translation"})
            continue
        best = result.best
        pieces = best.pieces or ()
        split = next((i + 1 for i, (a, b) in enumerate(zip(pieces, first)) if a != b),
                     None if len(pieces) == len(first) else min(len(pieces), len(first)) + 1)
        rows.append({"setting": setting.name, "translation": best.text, "score": best.score, "log p": best.logprob,
                     "length": len(best.tokens), "stopped at step": result.trace.stop_step,
                     "stop reason": result.trace.stop_reason,
                     "parts ways at": "same output" if split is None else f"piece {split}"})
    return pd.DataFrame(rows)
