"""Attention charts: the target-by-source heatmap and the "soft alignment" lines of Bahdanau et al. 2015.

Both draw gold alignments, which come in two kinds: word links (source word, target word) of a built-in task,
expanded here to every piece of the two words, and piece links (source position, target position).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from ..inspection import AttentionResult
from .common import axis_labels, readable_piece, token_axis, token_heatmap

GOLD_COLOUR = "#e6550d"
WEIGHT_COLOUR = "#2171b5"


def gold_piece_links(result: AttentionResult, gold: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Word links (source word, target word) -> (source piece, target piece) links between all their pieces."""
    return [(s, t) for ws, wt in gold for s, ps in enumerate(result.src_word_index) if ps == ws
            for t, pt in enumerate(result.tgt_word_index) if pt == wt]


def _gold_outline(links: Iterable[tuple[int, int]], src: Sequence[Any], tgt: Sequence[Any], cell: int) -> alt.Chart:
    """Hollow orange squares on the cells of the gold (source position, target position) links."""
    src_l, tgt_l = axis_labels(src), axis_labels(tgt)
    frame = pd.DataFrame([{"col": src_l[s], "row": tgt_l[t],
                           "gold": f"{readable_piece(src[s])} ↔ {readable_piece(tgt[t])}"}
                          for s, t in links if s < len(src) and t < len(tgt)], columns=["col", "row", "gold"])
    return alt.Chart(frame).mark_square(size=round(cell * cell * 0.55), filled=False, color=GOLD_COLOUR,
                                        strokeWidth=2.5).encode(
        x=token_axis("col", src, "source"), y=token_axis("row", tgt, "target", alt.Y), tooltip=["gold:N"])


def attention_heatmap(result: AttentionResult, gold: set[tuple[int, int]] | None = None,
                      title: str = "Attention") -> alt.Chart | alt.LayerChart:
    """Rows: the target token being predicted; columns: source pieces; hover shows the weight.
    ``gold`` word links (source word, target word) are outlined on every piece of the two words."""
    outline = _gold_outline(gold_piece_links(result, gold), result.src_pieces, result.tgt_pieces, 30) if gold else None
    return token_heatmap(result.weights, result.tgt_pieces, result.src_pieces, value="weight",
                         scale=alt.Scale(scheme="blues", domain=[0, 1]), title=title, overlay=outline)


def matrix_heatmap(weights: np.ndarray, src: Sequence[Any], tgt: Sequence[Any], *,
                   gold: set[tuple[int, int]] | None = None, title: str = "", cell: int = 40,
                   value_name: str = "weight") -> alt.Chart | alt.LayerChart:
    """A bare (T, S) matrix with its pieces, e.g. the attention a beam hypothesis carries (``attention_heatmap``
    needs an ``AttentionResult``). Rows = target tokens being predicted, columns = source tokens, the value
    printed in each cell and on hover; ``gold`` (source position, target position) links outlined."""
    outline = _gold_outline(sorted(gold), src, tgt, cell) if gold else None
    return token_heatmap(weights, tgt, src, value=value_name, scale=alt.Scale(scheme="blues", domainMin=0),
                         title=title, cell=cell, annotate=True, overlay=outline)


def _centred(position: int, count: int, width: int) -> float:
    """x of the ``position``-th of ``count`` tokens spread evenly over ``width`` (both rows centred)."""
    return (position + 0.5) * width / max(count, 1)


def _rule_frame(links: Iterable[tuple[int, int]], src: list[str], tgt: list[str], width: int,
                text: str) -> pd.DataFrame:
    """One line per (source, target) link from the source row (y = 1) to the target row (y = 0)."""
    return pd.DataFrame([{"x": _centred(s, len(src), width), "x2": _centred(t, len(tgt), width), "y": 1.0,
                          "y2": 0.0, "link": text.format(src=src[s], tgt=tgt[t])} for s, t in links],
                        columns=["x", "x2", "y", "y2", "link"])


def alignment_lines(result: AttentionResult, *, threshold: float = 0.1, title: str = "",
                    gold: set[tuple[int, int]] | None = None) -> alt.LayerChart:
    """An ``AttentionResult`` as lines: source pieces on top, target pieces below, one line per weight above
    ``threshold`` (opacity and width = weight), the "soft alignment" picture of Bahdanau et al. 2015.
    Gold word links (source word, target word) are dashed orange lines between all their pieces."""
    weights = result.weights
    src, tgt = [readable_piece(p) for p in result.src_pieces], [readable_piece(p) for p in result.tgt_pieces]
    n = max(len(src), len(tgt), 1)
    kept = [(s, t) for t in range(weights.shape[0]) for s in range(weights.shape[1]) if weights[t, s] >= threshold]
    lines = _rule_frame(kept, src, tgt, n, "{tgt} ← {src}").assign(weight=[float(weights[t, s]) for s, t in kept])
    enc = {"x": alt.X("x:Q", axis=None, scale=alt.Scale(domain=[0, n])),
           "y": alt.Y("y:Q", axis=None, scale=alt.Scale(domain=[-0.25, 1.25]))}
    layers = [alt.Chart(lines).mark_rule(color=WEIGHT_COLOUR).encode(
        **enc, x2="x2:Q", y2="y2:Q", opacity=alt.Opacity("weight:Q", scale=alt.Scale(domain=[0, 1]), legend=None),
        strokeWidth=alt.StrokeWidth("weight:Q", scale=alt.Scale(domain=[0, 1], range=[0.5, 6]), legend=None),
        tooltip=["link:N", alt.Tooltip("weight:Q", format=".3f")])]
    gold_lines = _rule_frame(gold_piece_links(result, gold or ()), src, tgt, n, "gold: {src} ↔ {tgt}")
    if len(gold_lines):
        layers.append(alt.Chart(gold_lines).mark_rule(color=GOLD_COLOUR, strokeDash=[4, 3], strokeWidth=1.5).encode(
            **enc, x2="x2:Q", y2="y2:Q", tooltip=["link:N"]))
    tokens = pd.DataFrame([{"x": _centred(i, len(src), n), "y": 1.0, "token": w, "side": "source"}
                           for i, w in enumerate(src)]
                          + [{"x": _centred(i, len(tgt), n), "y": 0.0, "token": w, "side": "target"}
                             for i, w in enumerate(tgt)])
    for side, dy in (("source", -12), ("target", 12)):
        layers.append(alt.Chart(tokens[tokens.side == side]).mark_text(fontSize=13, fontWeight="bold", dy=dy).encode(
            **enc, text="token:N", tooltip=["side:N", "token:N"]))
    return alt.layer(*layers).properties(title=title, width=max(320, 70 * n), height=190)
