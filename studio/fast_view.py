"""Fast mode in the studio: which of its options this checkpoint and server can offer, the two toggles (Translate
and the Cost X-ray page share them, URL keys ``int8`` and ``shortlist``) and the note under a fast translation.

One module for one idea: what ``nmt_core.fast_mode`` approximates, offered only where it can run and never
silent where it ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

from nmt_core.hypotheses import BeamResult
from nmt_core.shortlist import ShortlistError
from studio import models
from studio.display import escape_md
from studio.models import ModelRef
from studio.state import control

if TYPE_CHECKING:
    from studio.search_panel import SearchSettings


@dataclass(frozen=True)
class FastOptions:
    """Which fast-mode toggles this checkpoint on this server can offer, and why not when it cannot."""

    int8: bool
    int8_note: str | None
    shortlist: bool
    shortlist_note: str | None


def fast_options(ref: ModelRef) -> FastOptions:
    """int8 needs the CPU (fbgemm kernels); the shortlist needs one stored in the checkpoint, and a damaged one
    is reported, never used."""
    translator = models.translator(ref)
    cpu = translator.device.type == "cpu"
    int8_note = None if cpu else (f"int8 runs on the CPU only (fbgemm kernels); this server decodes on "
                                  f"{translator.device}.")
    try:
        has_shortlist, shortlist_note = translator.fast_models.shortlist is not None, None
    except ShortlistError as err:
        has_shortlist, shortlist_note = False, f"The checkpoint's shortlist cannot be used: {err}"
    if not has_shortlist and shortlist_note is None:
        shortlist_note = ("This checkpoint has no shortlist, so the shortlist toggle is off: add one with "
                          "`python -m nmt_core shortlist CHECKPOINT --src TRAIN.src --tgt TRAIN.tgt` (it keeps "
                          "the frequent target pieces and each source piece's likely translations).")
    return FastOptions(cpu, int8_note, has_shortlist, shortlist_note)


def fast_controls(ref: ModelRef, expanded: bool = False) -> tuple[bool, bool]:
    """The two fast-mode toggles (URL keys ``int8``, ``shortlist``; Translate and the Cost X-ray page), each off and
    explained when this checkpoint or server cannot offer it."""
    offer = fast_options(ref)
    with st.expander("Fast mode (approximate, faster)", expanded=expanded):
        left, right = st.columns(2)
        with left:
            int8 = control(st.toggle, "int8 decoder", "int8", False, disabled=not offer.int8,
                           help="The decoder's matrices as int8 (dynamic quantisation). The Cost X-ray page shows "
                                "what it changes per step; docs/benchmarks.md what it costs in BLEU.")
        with right:
            shortlist = control(st.toggle, "Shortlist", "shortlist", False, disabled=not offer.shortlist,
                                help="Score only the sentence's lexical shortlist: the frequent target pieces and "
                                     "each source piece's likely translations, not all of them.")
        for note in (offer.int8_note, offer.shortlist_note):
            if note:
                st.caption(note)
    return bool(int8 and offer.int8), bool(shortlist and offer.shortlist)


def fast_mode_note(ref: ModelRef, sentence: str, search: SearchSettings, result: BeamResult) -> None:
    """Under a fast-mode translation: what was approximated and what the exact model says (never silent)."""
    if not (search.int8 or search.shortlist):
        return
    parts = []
    if search.shortlist and result.scored_pieces is not None:
        vocabulary = models.translator(ref).model.cfg.tgt_vocab_size
        parts.append(f"the output layer scored {result.scored_pieces:,} of {vocabulary:,} target pieces (this "
                     "sentence's shortlist, with what the prefix and the what-ifs force into it)")
    if search.int8:
        parts.append("the decoder's matrices ran as int8")
    exact = models.beam_search(ref, sentence, **search.options(int8=False, shortlist=False))
    same = exact.hypotheses and exact.best.text == result.best.text
    verdict = ("The exact model gives the same translation" if same else
               f"The exact model gives {exact.best.text!r} (score {exact.best.score:.3f})" if exact.hypotheses
               else "The exact model finds no complete translation")
    st.caption(f"Fast mode: {'; '.join(parts)}. {escape_md(verdict)}.")
