"""What every chart shares: readable, unique token labels and the one heatmap builder.

Token axes are the heart of most figures, and two things go wrong with them if each chart does it its own way:
a repeated word ("the ... the") collapses into one row, and sentencepiece's word-start mark "▁" clutters the
labels. So every chart builds its token axis here: the axis values are "position:text" (unique, sorted by
position) and the axis shows only the text (``LABEL_EXPR``); ``labelOverlap=False`` because Vega-Lite would
otherwise drop every other token label on a narrow chart, and each token is what the reader is looking for.
Every matrix chart (attention, salience, gates) draws its cells with ``heatmap``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

# Gate heatmaps of wide layers exceed Altair's default 5,000-row guard; the data is ours and bounded
# (inspection caps sentences at 150 pieces).
alt.data_transformers.disable_max_rows()

WORD_START = "▁"
#: Axis labels "3:car" -> "car" (everything after the first colon; the prefix keeps repeated tokens apart)
LABEL_EXPR = "substring(datum.value, indexof(datum.value, ':') + 1)"


# --------------------------------------------------------------------------------------- colours
#: Okabe & Ito (2008), the colour-blind-safe palette: hues a viewer with any common colour-vision deficiency still
#: tells apart, in the order categories take them.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
#: The same variant the same colour on every page: a cell type or "attention or not" keeps its hue whichever chart
#: compares it (first matching key wins, matched in the lower-cased category name).
VARIANT_COLOURS: tuple[tuple[str, str], ...] = (
    ("noattn", "#E69F00"), ("no attention", "#E69F00"), ("without attention", "#E69F00"), ("none", "#E69F00"),
    ("gru", "#009E73"), ("rnn", "#D55E00"), ("lstm", "#0072B2"), ("attention", "#0072B2"),
)


def categorical_colour(field: str, values: Sequence[Any], **kwargs: Any) -> alt.Color:
    """A colour encoding for categories ``values``: known variants (``VARIANT_COLOURS``) in their fixed hue,
    the rest in Okabe-Ito order, never two categories in one hue while the palette lasts."""
    domain = list(dict.fromkeys(str(v) for v in values))
    fixed: dict[str, str] = {}
    for value in domain:
        lower = value.lower()
        hue = next((c for key, c in VARIANT_COLOURS if key in lower), None)
        if hue is not None and hue not in fixed.values():
            fixed[value] = hue
    spare = [c for c in OKABE_ITO if c not in fixed.values()]
    colours = [fixed.get(v) or (spare.pop(0) if spare else OKABE_ITO[i % len(OKABE_ITO)])
               for i, v in enumerate(domain)]
    return alt.Color(f"{field}:N", scale=alt.Scale(domain=domain, range=colours), **kwargs)


def readable_piece(piece: Any) -> str:
    """A sentencepiece piece as a reader wants to see it: the word-start mark becomes a space and is trimmed
    ("▁car" -> "car", "New▁York" -> "New York"); a piece that is only the mark, or empty, shows as "▁" so its
    position stays visible and can be hovered. Already readable text comes back unchanged."""
    return str(piece).replace(WORD_START, " ").strip() or WORD_START


def axis_labels(pieces: Sequence[Any]) -> list[str]:
    """Unique axis values "position:text" for a token axis (repeated tokens keep their own row/column)."""
    return [f"{i}:{readable_piece(p)}" for i, p in enumerate(pieces)]


def token_axis(field: str, pieces: Sequence[Any], title: str, channel: type = alt.X) -> alt.X | alt.Y:
    """A nominal token axis on ``field`` (whose values come from ``axis_labels(pieces)``), in sentence order,
    showing every token's text; x labels are slanted so long words fit."""
    angle = {"labelAngle": -45} if channel is alt.X else {}
    return channel(f"{field}:N", sort=axis_labels(pieces), title=title,
                   axis=alt.Axis(labelExpr=LABEL_EXPR, labelOverlap=False, **angle))


def matrix_frame(matrix: np.ndarray, rows: Sequence[Any], cols: Sequence[Any], value: str) -> pd.DataFrame:
    """(R, C) target-by-source matrix -> long frame: row/col axis labels, the readable target and source
    tokens (for tooltips) and the value."""
    r_idx, c_idx = (i.ravel() for i in np.indices(matrix.shape))
    row_text, col_text = ([readable_piece(p) for p in side] for side in (rows, cols))
    return pd.DataFrame({"row": np.asarray(axis_labels(rows), dtype=object)[r_idx],
                         "col": np.asarray(axis_labels(cols), dtype=object)[c_idx],
                         "target": np.asarray(row_text, dtype=object)[r_idx],
                         "source": np.asarray(col_text, dtype=object)[c_idx],
                         value: np.asarray(matrix, dtype=float).ravel()})


def heatmap(frame: pd.DataFrame, x: alt.X, y: alt.Y, *, value: str, scale: alt.Scale, tooltip: list,
            title: str, width: int, height: int, legend_title: str | None = None, annotate: bool = False,
            overlay: alt.Chart | None = None) -> alt.Chart | alt.LayerChart:
    """The one heatmap: a rectangle per row of ``frame`` coloured by ``value`` on ``scale``. With ``annotate``
    every cell also prints its value (white on dark cells), for small matrices read by eye; ``overlay`` (e.g.
    gold links) is drawn on top, inside the same title and size."""
    legend = {} if legend_title is None else {"title": legend_title}
    chart = alt.Chart(frame).mark_rect().encode(x=x, y=y, color=alt.Color(f"{value}:Q", scale=scale, **legend),
                                                tooltip=tooltip)
    if annotate:
        chart = chart + alt.Chart(frame).mark_text(fontSize=9).encode(
            x=x, y=y, text=alt.Text(f"{value}:Q", format=".2f"),
            color=alt.condition(f"datum['{value}'] > 0.5", alt.value("white"), alt.value("#333")))
    if overlay is not None:
        chart = chart + overlay
    return chart.properties(title=title, width=width, height=height)


def token_heatmap(matrix: np.ndarray, rows: Sequence[Any], cols: Sequence[Any], *, value: str, scale: alt.Scale,
                  title: str, cell: int = 30, annotate: bool = False,
                  overlay: alt.Chart | None = None) -> alt.Chart | alt.LayerChart:
    """A target-by-source matrix (rows: the target token being predicted, columns: source tokens) with token
    axes, ``cell`` pixels per token, and the target, source and value on hover (see ``heatmap``)."""
    return heatmap(matrix_frame(matrix, rows, cols, value), token_axis("col", cols, "source"),
                   token_axis("row", rows, "target", alt.Y), value=value, scale=scale, title=title,
                   tooltip=["target:N", "source:N", alt.Tooltip(f"{value}:Q", format=".4g")],
                   annotate=annotate, overlay=overlay,
                   width=max(160, cell * len(cols)), height=max(120, cell * len(rows)))
