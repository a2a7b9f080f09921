"""Attention beside gradient attribution, and coverage: where the decoder looked vs what the output depends on.

The two matrices share rows (target tokens), columns (source tokens) and a [0, 1] colour scale: attention rows sum
to 1 by construction, and attribution is shown as each row's share of |attribution|, so a cell reads the same way
in both. The signed scores are in the tooltip and the data download.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from ..inspection.attribution import ATTENDED_AGAIN, NEVER_ATTENDED, AttributionResult
from .common import OKABE_ITO, axis_labels, token_heatmap


def attribution_heatmap(result: AttributionResult, *, cell: int = 36) -> alt.Chart | alt.LayerChart:
    """Each target token's share of |attribution| over the source tokens (rows sum to 1)."""
    title = f"Attribution ({result.method}{'' if result.steps == 1 else f', {result.steps} steps'})"
    return token_heatmap(result.shares, result.tgt_pieces, result.src_pieces, value="share",
                         scale=alt.Scale(scheme="oranges", domain=[0, 1]), title=title, cell=cell, annotate=True)


def coverage_chart(table: pd.DataFrame) -> alt.LayerChart:
    """Total attention per source token, with the two thresholds the flags use drawn as rules."""
    labels = axis_labels(table.token)
    data = table.assign(label=labels)
    bars = alt.Chart(data).mark_bar().encode(
        x=alt.X("label:N", sort=labels, title="source token", axis=alt.Axis(labelAngle=-40)),
        y=alt.Y("total_attention:Q", title="total attention received"),
        color=alt.condition(alt.datum.flag != "", alt.value(OKABE_ITO[3]), alt.value(OKABE_ITO[0])),
        tooltip=["token:N", alt.Tooltip("total_attention:Q", format=".3f"), "flag:N"])
    rules = alt.Chart(pd.DataFrame({"y": [NEVER_ATTENDED, ATTENDED_AGAIN],
                                    "rule": ["never attended below", "attended again above"]})).mark_rule(
        strokeDash=[4, 3], color="#666").encode(y="y:Q", tooltip=["rule:N", "y:Q"])
    return (bars + rules).properties(title="Coverage: attention each source token received", height=220,
                                     width=max(200, 48 * len(table)))
