"""Showing user and model text safely: never interpreted as Markdown or HTML unless escaped here first.

Every string a user typed (a sentence, a run name, a file name) or a model produced can reach a page. It is
shown either literally (``show_text``: ``st.code``) or escaped (``escape_md``) before it joins Markdown.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

import streamlit as st

from nmt_core.viz import readable_piece


def show_text(label: str, text: str) -> None:
    """User or model text, shown literally (never interpreted as Markdown/HTML)."""
    st.caption(label)
    st.code(text or " ", language=None, wrap_lines=True)


def labels(pieces: Iterable[Any]) -> list[str]:
    """Labels for sentencepiece pieces, the way the charts write them (``viz.readable_piece``): the word-start
    mark "▁" dropped, kept when it is the whole piece."""
    return [readable_piece(p) for p in pieces]


def escape_md(text: Any) -> str:
    """Text safe to embed in st.markdown: HTML escaped and Markdown punctuation neutralised."""
    out = html.escape(str(text), quote=False)  # &#x27; would be broken by the '#' escape below
    for ch in "\\`*_{}[]()#+-.!|>~$:":  # ":" too: no "javascript:" link, no ":emoji:" shortcode
        out = out.replace(ch, "\\" + ch)
    return out
