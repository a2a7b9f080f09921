"""Cached core results for the explainer pages (attribution, linked views, training replay), shared by sessions.

Like ``studio.models``: one ``st.cache_data`` function per result, keyed by the checkpoint's path and mtime and
the page's choices, so a class typing the same example sentence computes it once.
"""

from __future__ import annotations

import streamlit as st

from nmt_core.inspection.attribution import AttributionResult
from nmt_core.inspection.attribution import attribution as compute_attribution
from nmt_core.inspection.linked import linked_sentence
from nmt_core.viz.linked import LinkedSentence
from studio.models import ModelRef, or_stop, shared_translator


@st.cache_data(max_entries=32, show_spinner="Computing gradients…")
def _attribution(path: str, mtime: float, sentence: str, method: str, steps: int) -> AttributionResult:
    ckpt = shared_translator(path, mtime).checkpoint
    return compute_attribution(ckpt.model, ckpt.tokenizers, sentence, method=method, steps=steps)


def attribution(ref: ModelRef, sentence: str, method: str, steps: int) -> AttributionResult:
    """Attribution of the model's own translation of ``sentence`` to its source tokens."""
    return or_stop(_attribution, ref, sentence, method, steps)


@st.cache_data(max_entries=32, show_spinner="Searching and inspecting…")
def _linked(path: str, mtime: float, sentence: str, beam_size: int, gate: str, layer: int) -> LinkedSentence:
    return linked_sentence(shared_translator(path, mtime), sentence, beam_size=beam_size, gate=gate, layer=layer)


def linked(ref: ModelRef, sentence: str, beam_size: int, gate: str, layer: int) -> LinkedSentence:
    """Every view of ``sentence`` on the beam search's best translation (see ``inspection.linked``)."""
    return or_stop(_linked, ref, sentence, beam_size, gate, layer)
