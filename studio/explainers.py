"""Cached core results for the explainer pages (attribution, linked views, training replay), shared by sessions.

Like ``studio.models``: one ``st.cache_data`` function per result, keyed by the checkpoint's path and mtime and
the page's choices, so a class typing the same example sentence computes it once.
"""

from __future__ import annotations

import streamlit as st

from nmt_core.inspection.attribution import AttributionResult
from nmt_core.inspection.attribution import attribution as compute_attribution
from studio.models import ModelRef, or_stop, shared_translator


@st.cache_data(max_entries=32, show_spinner="Computing gradients…")
def _attribution(path: str, mtime: float, sentence: str, method: str, steps: int) -> AttributionResult:
    ckpt = shared_translator(path, mtime).checkpoint
    return compute_attribution(ckpt.model, ckpt.tokenizers, sentence, method=method, steps=steps)


def attribution(ref: ModelRef, sentence: str, method: str, steps: int) -> AttributionResult:
    """Attribution of the model's own translation of ``sentence`` to its source tokens."""
    return or_stop(_attribution, ref, sentence, method, steps)
