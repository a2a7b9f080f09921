"""Linked views: one sentence, every view of it in one chart, and one hover that lights them all up.

Why one compound chart: the selection lives in the browser (Vega-Lite parameters shared by the views), so pointing
at a target token outlines its attention row, its salience row, its decoder-state row and its node in the beam
tree at once, without a server round trip — and the same chart keeps working in an exported lesson file.
Two selections, one per side of the translation:

* ``target`` (field ``t``, vermillion): hover a target token (the strip, a matrix row, a decoder row, a best-path
  node of the beam tree);
* ``source`` (field ``s``, blue): hover a source token (the strip, a matrix column, an encoder row).

A matrix cell sets both. Row t of every view is the decoder step that *predicts* target token t, the convention
of ``inspection.sentence``; beam-tree node at step t + 1 on the best path is the same token.
"""

from __future__ import annotations

import warnings

import altair as alt
import numpy as np
import pandas as pd

from ..inspection.linked import LinkedSentence
from .beam import beam_tree_frames
from .common import LABEL_EXPR, OKABE_ITO, axis_labels, readable_piece

TARGET_COLOUR, SOURCE_COLOUR = OKABE_ITO[3], OKABE_ITO[0]  # vermillion, blue
CELL = 30  # pixels per token in the matrices
#: The most pixels a matrix, the beam tree and a token strip take across (a long sentence gets narrower cells).
MATRIX_WIDTH, TREE_WIDTH, STRIP_WIDTH = 320, 620, 700


def _selections() -> tuple[alt.Parameter, alt.Parameter]:
    target = alt.selection_point(name="target", fields=["t"], on="pointerover", clear="pointerout", empty=False)
    source = alt.selection_point(name="source", fields=["s"], on="pointerover", clear="pointerout", empty=False)
    return target, source


def _outline(target: alt.Parameter | None, source: alt.Parameter | None) -> alt.Stroke:
    rule = alt.when(target).then(alt.value(TARGET_COLOUR)) if target is not None else None
    if source is not None:
        rule = rule.when(source).then(alt.value(SOURCE_COLOUR)) if rule is not None else \
            alt.when(source).then(alt.value(SOURCE_COLOUR))
    return rule.otherwise(alt.value("transparent"))


def _matrix(matrix: np.ndarray, s: LinkedSentence, title: str, scheme: str, target, source) -> alt.Chart:
    t_idx, s_idx = (i.ravel() for i in np.indices(matrix.shape))
    frame = pd.DataFrame({"t": t_idx, "s": s_idx, "value": matrix.ravel().astype(float),
                          "row": np.asarray(axis_labels(s.tgt_pieces), dtype=object)[t_idx],
                          "col": np.asarray(axis_labels(s.src_pieces), dtype=object)[s_idx],
                          "target": [readable_piece(s.tgt_pieces[i]) for i in t_idx],
                          "source": [readable_piece(s.src_pieces[i]) for i in s_idx]})
    axis = alt.Axis(labelExpr=LABEL_EXPR, labelOverlap=False)
    return alt.Chart(frame, title=title).mark_rect(strokeWidth=2.5).encode(
        x=alt.X("col:N", sort=axis_labels(s.src_pieces), title="source", axis=alt.Axis(
            labelExpr=LABEL_EXPR, labelOverlap=False, labelAngle=-45)),
        y=alt.Y("row:N", sort=axis_labels(s.tgt_pieces), title="target", axis=axis),
        color=alt.Color("value:Q", scale=alt.Scale(scheme=scheme, domainMin=0), legend=None),
        stroke=_outline(target, source),
        tooltip=["target:N", "source:N", alt.Tooltip("value:Q", format=".4g", title=title)],
    ).add_params(target, source).properties(width=_cell(s) * len(s.src_pieces), height=_cell(s) * len(s.tgt_pieces))


def _cell(s: LinkedSentence) -> int:
    """Pixels per token in the matrices: ``CELL``, smaller for long sentences, so that attention and salience side
    by side stay within a laptop's page (about 820 pixels beside the sidebar). Cells stop at 14 pixels and the
    strips' boxes at 30, to stay legible, so past about 22 source pieces the figure runs wider and the page scrolls
    sideways (tests/test_explainer_pages.py checks the fit up to 17 words)."""
    return max(14, min(CELL, MATRIX_WIDTH // max(1, len(s.src_pieces))))


def _states(values: np.ndarray, pieces: tuple[str, ...], field: str, title: str, selection) -> alt.LayerChart:
    """Steps x units, one row per token; a transparent band per row catches the hover and draws the outline."""
    steps, units = values.shape
    r_idx, u_idx = (i.ravel() for i in np.indices(values.shape))
    labels = np.asarray(axis_labels(pieces), dtype=object)
    cells = pd.DataFrame({field: r_idx, "unit": u_idx, "value": values.ravel().astype(float), "row": labels[r_idx]})
    if values.min() >= 0:  # a sigmoid gate: [0, 1], dark = open, as on the Gates page
        scale = alt.Scale(scheme="viridis", domain=[0, 1])
    else:  # tanh values and c: a diverging scale centred on 0
        bound = float(np.abs(values).max()) or 1.0
        scale = alt.Scale(scheme="redblue", domain=[-bound, bound], reverse=True)
    y = alt.Y("row:N", sort=list(labels), title=None, axis=alt.Axis(labelExpr=LABEL_EXPR, labelOverlap=False))
    heat = alt.Chart(cells).mark_rect().encode(
        x=alt.X("unit:O", axis=None), y=y,
        color=alt.Color("value:Q", scale=scale, legend=None),
        tooltip=["row:N", "unit:Q", alt.Tooltip("value:Q", format=".3f")])
    band = alt.Chart(pd.DataFrame({field: range(steps), "row": labels})).mark_rect(
        fill="white", fillOpacity=0.01, strokeWidth=3).encode(
        y=y, stroke=_outline(selection if field == "t" else None, selection if field == "s" else None),
        tooltip=[alt.Tooltip("row:N", title="token")]).add_params(selection)
    return (heat + band).properties(title=title, width=min(560, max(160, 2 * units)), height=CELL * steps * 0.7)


def _strip(pieces: tuple[str, ...], field: str, title: str, selection, colour: str) -> alt.LayerChart:
    frame = pd.DataFrame({field: range(len(pieces)), "token": [readable_piece(p) for p in pieces]})
    per_token = min(120, max(44, 9 * int(frame.token.str.len().max())))  # the longest token fits its box
    font = 13
    if per_token * len(pieces) > STRIP_WIDTH:  # a long sentence: narrower boxes, smaller letters, within the page
        per_token, font = max(30, STRIP_WIDTH // len(pieces)), 11
    x = alt.X(f"{field}:O", axis=None)
    boxes = alt.Chart(frame).mark_rect(cornerRadius=4, strokeWidth=2.5).encode(
        x=x, fill=alt.when(selection).then(alt.value(colour)).otherwise(alt.value("#f2f2f2")),
        stroke=alt.value(colour), tooltip=["token:N"]).add_params(selection)
    text = alt.Chart(frame).mark_text(fontSize=font).encode(
        x=x, text="token:N", color=alt.when(selection).then(alt.value("white")).otherwise(alt.value("#222")))
    return (boxes + text).properties(title=title, width=max(200, per_token * len(pieces)), height=30)


def _tree(nodes: pd.DataFrame, edges: pd.DataFrame, target) -> alt.LayerChart:
    y_scale = alt.Scale(domain=[float(nodes.y.max()) + 0.5, -0.5])
    x = alt.X("step:Q", title="decoding step", axis=alt.Axis(tickMinStep=1, format="d", grid=False))
    grey = alt.when(alt.datum.status == "best").then(alt.value(TARGET_COLOUR)).otherwise(alt.value("#9e9e9e"))
    lines = alt.Chart(edges).mark_rule(strokeWidth=1.3).encode(
        x=alt.X("x:Q", title="decoding step"), x2="x2:Q", y=alt.Y("y:Q", axis=None, scale=y_scale), y2="y2:Q",
        color=grey)
    base = alt.Chart(nodes).encode(x=x, y=alt.Y("y:Q", axis=None, scale=y_scale))
    points = base.mark_point(filled=True, size=80).encode(
        color=grey, tooltip=[alt.Tooltip("piece:N", title="token"), "step:Q", alt.Tooltip("score:Q", format=".3f"),
                             "status:N"]).add_params(target)
    ring = base.mark_point(size=420, strokeWidth=3, filled=False).encode(
        stroke=alt.value(TARGET_COLOUR), opacity=alt.when(target).then(alt.value(1.0)).otherwise(alt.value(0.0)))
    labels = base.mark_text(align="left", dx=7, dy=-8, fontSize=11).encode(text="piece:N")
    width = min(TREE_WIDTH, max(300, 90 * (int(nodes.step.max()) + 1)))
    return (lines + points + ring + labels).properties(title="Beam search tree (best path in vermillion)", width=width,
                                                       height=max(140, 22 * (float(nodes.y.max()) + 1)))


def linked_views(s: LinkedSentence) -> alt.VConcatChart:
    """The whole linked figure: token strips, attention and salience, decoder and encoder states, beam tree."""
    target, source = _selections()
    with warnings.catch_warnings():  # the shared selections are meant to be one parameter in several views
        warnings.filterwarnings("ignore", message="Automatically deduplicated selection parameter")
        strips = alt.vconcat(_strip(s.src_pieces, "s", "Source: hover a token", source, SOURCE_COLOUR),
                             _strip(s.tgt_pieces, "t", "Translation: hover a token", target, TARGET_COLOUR))
        matrices = [_matrix(s.salience, s, "Salience ‖d log p(y_t)/d h_s‖", "greens", target, source)]
        if s.attention is not None:
            matrices.insert(0, _matrix(s.attention, s, "Attention", "blues", target, source))
        states = alt.vconcat(  # one above the other: side by side they were wider than a laptop's page
            _states(s.decoder_states, s.tgt_pieces, "t", s.decoder_label + " (rows: target steps)", target),
            _states(s.encoder_states, s.src_pieces, "s", "encoder top layer · h (rows: source tokens)", source))
        rows = [strips, alt.hconcat(*matrices).resolve_scale(color="independent"),
                states.resolve_scale(color="independent")]
        if s.tree_matches:
            nodes, edges = beam_tree_frames(s.trace)
            rows.append(_tree(best_path_nodes(nodes), edges, target))
        return alt.vconcat(*rows, spacing=24).resolve_scale(color="independent")


def best_path_nodes(nodes: pd.DataFrame) -> pd.DataFrame:
    """``nodes`` with t = the target row each best-path node predicts (the node at step t + 1) and -1 elsewhere,
    so hovering a best-path node selects its row in every other view."""
    t = np.where(nodes.status == "best", nodes.step - 1, -1)
    return nodes.assign(t=t.astype(int))
