"""The cost X-ray as bars: milliseconds per decoding step and share of the step's FLOPs, by component, the exact
model beside a fast mode.

Why two panels: time is what a user waits for, FLOPs are what the hardware is asked to do, and the two disagree
in instructive ways (a lookup or a top-k costs time and no matrix FLOPs; int8 does the same FLOPs faster). Each
mode is a column with the same time axis, so the output layer's bar visibly shrinks under the shortlist. Every
component keeps one Okabe-Ito hue in both panels (attention blue as on every other page; the output layer
vermillion, the colour the studio uses for "look here"); the leftover "rest of the step" is grey.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from ..inspection.cost import COMPONENTS, REST, CostReport
from .common import OKABE_ITO

#: One hue per component, from the project's palette (``common.OKABE_ITO``); grey for what was not timed apart.
COMPONENT_COLOURS = {"embedding": OKABE_ITO[5], "recurrent cell": OKABE_ITO[2], "attention": OKABE_ITO[0],
                     "combine": OKABE_ITO[4], "output layer": OKABE_ITO[3], "log-softmax": OKABE_ITO[1],
                     "search bookkeeping": OKABE_ITO[6], REST: "#999999"}
BAR_HEIGHT = 22


def cost_frame(reports: Sequence[CostReport]) -> pd.DataFrame:
    """The reports' component tables, one after the other, with the columns the chart draws."""
    frame = pd.concat([r.to_frame() for r in reports], ignore_index=True)
    return frame.assign(ms_shown=frame.ms_per_step.clip(lower=0.0))


def _panel(frame: pd.DataFrame, modes: list[str], order: list[str], value: str, label: str, fmt: str,
           title: str) -> alt.FacetChart:
    """Horizontal bars of ``value`` by component, one column per mode (shared x), the value printed at the end."""
    colour = alt.Color("component:N", scale=alt.Scale(domain=order, range=[COMPONENT_COLOURS[c] for c in order]),
                       legend=None)
    tooltip = ["mode:N", "component:N", alt.Tooltip("ms_per_step:Q", format=".3f", title="ms per step"),
               alt.Tooltip("time_share:Q", format=".0%", title="share of the step's time"),
               alt.Tooltip("mflop_per_step:Q", format=".3f", title="MFLOP per step"),
               alt.Tooltip("mflop_per_row:Q", format=".3f", title="MFLOP per hypothesis"),
               alt.Tooltip("flop_share:Q", format=".0%", title="share of the FLOPs"), "arithmetic:N"]
    base = alt.Chart().encode(y=alt.Y("component:N", sort=order, title=None),
                              x=alt.X(f"{value}:Q", title=label), tooltip=tooltip)
    bars = base.mark_bar(stroke="#333333", strokeWidth=0.5).encode(color=colour)
    text = base.mark_text(align="left", dx=3, fontSize=11).encode(text=alt.Text(label_field(value), format=fmt))
    return alt.layer(bars, text, data=frame).properties(width=260, height=BAR_HEIGHT * len(order)).facet(
        column=alt.Column("mode:N", sort=modes, title=None, header=alt.Header(labelFontSize=13,
                                                                             labelFontWeight="bold")),
        title=title)


def label_field(value: str) -> str:
    """The field a bar's printed label shows: the signed ms for the time bars (the bar itself stops at 0)."""
    return "ms_per_step:Q" if value == "ms_shown" else f"{value}:Q"


def cost_chart(reports: Sequence[CostReport]) -> alt.VConcatChart:
    """Time per decoding step (measured) above the share of its FLOPs (analytic), by component, one column per
    report (exact first, then the fast mode). The bars' data is ``cost_frame(reports)``."""
    frame = cost_frame(reports)
    modes = list(dict.fromkeys(r.mode for r in reports))
    present = set(frame.component)
    order = [c for c in (*COMPONENTS, REST) if c in present]
    time_panel = _panel(frame, modes, order, "ms_shown", "ms per decoding step", ".2f",
                        f"Time per decoding step, measured (beam {reports[0].beam_size})")
    flop_panel = _panel(frame[frame.component != REST], modes, [c for c in order if c != REST], "flop_share",
                        "share of the step's FLOPs (matrix products)", ".0%", "Share of the step's FLOPs, counted")
    return alt.vconcat(time_panel, flop_panel).resolve_scale(color="independent")
