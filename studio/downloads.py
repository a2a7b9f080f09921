"""Charts with their data and figure as downloads, so a student can take any picture into a report.

The files are produced only when a button is clicked (``download_button`` with a callable), so a rerun
costs nothing extra; figures are rendered offline by vl-convert.
"""

from __future__ import annotations

import json
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st
import vl_convert as vlc


@st.cache_data(max_entries=128, show_spinner=False)
def figure_bytes(spec: str, fmt: str) -> bytes:
    """A Vega-Lite spec (JSON) rendered as SVG or PNG (twice the screen resolution)."""
    if fmt == "svg":
        return vlc.vegalite_to_svg(spec).encode("utf-8")
    return vlc.vegalite_to_png(spec, scale=2)


def data_bytes(data: Any) -> bytes:
    """A chart's data as a file: CSV for a DataFrame, the core result's own JSON (``to_json``, e.g. a
    ``BeamTrace``), else anything ``json.dumps`` takes."""
    if isinstance(data, pd.DataFrame):
        return data.to_csv(index=False).encode("utf-8")
    if hasattr(data, "to_json"):
        return data.to_json().encode("utf-8")
    return json.dumps(data, ensure_ascii=False, indent=1, default=str).encode("utf-8")


def chart_with_downloads(fig: alt.TopLevelMixin, data: Any, name: str, *, png: bool = False) -> None:
    """Show an Altair chart (hover tooltips come from the chart) with downloads of its data (CSV or JSON,
    see ``data_bytes``) and of the figure as SVG (and PNG if asked)."""
    # Natural size: without an explicit autosize Streamlit fits the chart to a default box, which squeezes
    # heatmaps and the beam tree until their labels overlap.
    fig = fig.properties(autosize=alt.AutoSizeParams(type="pad", contains="padding"))
    st.altair_chart(fig, width="content")
    ext, mime = ("csv", "text/csv") if isinstance(data, pd.DataFrame) else ("json", "application/json")
    cols = st.columns(3 if png else 2, gap="small", width=420 if png else 300)
    cols[0].download_button(f"{ext.upper()} data", lambda: data_bytes(data), f"{name}.{ext}", mime,
                            key=f"dl-{name}-data", on_click="ignore", icon=":material/download:")
    cols[1].download_button("SVG figure", lambda: figure_bytes(fig.to_json(), "svg"), f"{name}.svg",
                            "image/svg+xml", key=f"dl-{name}-svg", on_click="ignore", icon=":material/image:")
    if png:
        cols[2].download_button("PNG figure", lambda: figure_bytes(fig.to_json(), "png"), f"{name}.png",
                                "image/png", key=f"dl-{name}-png", on_click="ignore", icon=":material/image:")


def frame_download(frame: pd.DataFrame, name: str, label: str = "CSV") -> None:
    """A table as a CSV download (``name``.csv)."""
    st.download_button(label, frame.to_csv(index=False).encode("utf-8"), f"{name}.csv", "text/csv",
                       key=f"dl-{name}", on_click="ignore", icon=":material/download:")
