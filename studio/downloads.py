"""Charts with their data and figure as downloads, so a student can take any picture into a report.

The files are produced only when a button is clicked (``download_button`` with a callable), so a rerun
costs nothing extra; figures are rendered offline by vl-convert.

Why ``chart`` caches specs for every session: building an Altair chart and turning it into a Vega-Lite spec was
most of the server's CPU time on a page whose results were already cached (the Translate page: about 1.5 CPU-s
per interaction, of which over half was Altair). A class types the same example sentences, so ``chart`` keys
each spec on the viz function and a fingerprint of its arguments' *contents* (``fingerprint``) and builds it
once per server, not once per student and rerun.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st
import vl_convert as vlc

from studio import state
from studio.fingerprint import fingerprint


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


def _natural_spec(fig: alt.TopLevelMixin) -> dict[str, Any]:
    """The chart at its natural size, as a Vega-Lite dict (not re-validated: the viz tests validate every chart
    against the schema; validation was a fifth of a page's server time)."""
    natural = fig.properties(autosize=alt.AutoSizeParams(type="pad", contains="padding"))
    return natural.to_dict(validate=False)


@dataclasses.dataclass(frozen=True)
class ChartPayload:
    """A chart as a rerun sends it. Why: Streamlit turns a spec's named datasets (lists of rows) into Arrow IPC
    bytes on every ``vega_lite_chart`` call, and passes datasets that already are bytes through. For one student
    that is about a hundredth of a second, but in a class's burst every session pays it at once
    (docs/benchmarks.md, "Classroom load"), so a cached chart carries its datasets converted once."""

    view: dict[str, Any]  # the spec without the datasets converted below
    arrow: dict[str, bytes]  # named datasets as Arrow IPC, made by Streamlit's own converter
    natural_json: str | None = None  # the whole spec as JSON (cached charts: cheap to copy out of the cache)
    natural: dict[str, Any] | None = None  # the whole spec (other charts: dumped only when a figure is asked for)

    def spec_json(self) -> str:
        return self.natural_json if self.natural_json is not None else json.dumps(self.natural)


def chart_payload(natural: dict[str, Any], *, cached: bool) -> ChartPayload:
    """``natural`` split into what every rerun sends (``ChartPayload``). Only tables (lists of rows) are
    converted; anything else (GeoJSON, for one) stays in the spec for Streamlit, as it would."""
    from streamlit import dataframe_util  # the converter Streamlit itself runs on a spec's datasets

    datasets = natural.get("datasets") or {}
    tables = {k: v for k, v in datasets.items()
              if isinstance(v, list) and all(isinstance(r, dict) and r.get("type") != "Feature" for r in v[:1])}
    view = {k: v for k, v in natural.items() if k != "datasets"}
    if len(tables) < len(datasets):
        view["datasets"] = {k: v for k, v in datasets.items() if k not in tables}
    arrow = {str(k): dataframe_util.convert_anything_to_arrow_bytes(v) for k, v in tables.items()}
    return ChartPayload(view, arrow, json.dumps(natural) if cached else None, None if cached else natural)


@st.cache_data(max_entries=512, show_spinner=False)
def _shared_chart(function: str, key: str, _build: Callable[[], alt.TopLevelMixin]) -> ChartPayload:
    """One chart for every session: keyed on the viz function's name and its arguments' fingerprint (``_build``
    is not hashed: its leading underscore tells Streamlit so)."""
    return chart_payload(_natural_spec(_build()), cached=True)


def chart(build: Callable[..., alt.TopLevelMixin], *args: Any, data: Any, name: str, **kwargs: Any) -> None:
    """``chart_with_downloads(build(*args, **kwargs), data, name)``, with the spec built once per server for the
    same function and argument contents (module docstring)."""
    try:
        key = fingerprint((args, kwargs))
    except TypeError:  # an argument without a readable content: build it for this rerun only
        _show(chart_payload(_natural_spec(build(*args, **kwargs)), cached=False), data, name)
        return
    _show(_shared_chart(f"{build.__module__}.{build.__qualname__}", key, lambda: build(*args, **kwargs)), data, name)


def chart_with_downloads(fig: alt.TopLevelMixin, data: Any, name: str) -> None:
    """Show an Altair chart (hover tooltips come from the chart) fitted to its column (``on_screen``), with
    downloads of its data (CSV or JSON, see ``data_bytes``) and of the figure as SVG and PNG at its natural
    size (projector mode enlarges both)."""
    _show(chart_payload(_natural_spec(fig), cached=False), data, name)


def _show(figure: ChartPayload, data: Any, name: str) -> None:
    big = state.projector()
    spec, fits = on_screen(figure.view, big)
    if figure.arrow:
        spec["datasets"] = {**spec.get("datasets", {}), **figure.arrow}
    st.vega_lite_chart(spec, width="stretch" if fits else "content")
    ext, mime = ("csv", "text/csv") if isinstance(data, pd.DataFrame) else ("json", "application/json")
    cols = st.columns(3, gap="small", width=420)
    cols[0].download_button(f"{ext.upper()} data", lambda: data_bytes(data), f"{name}.{ext}", mime,
                            key=f"dl-{name}-data", on_click="ignore", icon=":material/download:")
    _figure_buttons(lambda: json.dumps(projected(json.loads(figure.spec_json()), big)) if big else figure.spec_json(),
                    name, cols[1], cols[2])


def figure_downloads(fig: alt.TopLevelMixin, name: str) -> None:
    """SVG and PNG buttons for a chart shown some other way (an interactive one whose sliders and hover live in
    the browser): the files hold its first state; the lesson file keeps it interactive."""
    cols = st.columns(2, gap="small", width=280)
    spec = fig.to_dict(validate=False)
    _figure_buttons(lambda: json.dumps(spec), name, cols[0], cols[1])


def _figure_buttons(spec: Callable[[], str], name: str, svg_column: Any, png_column: Any) -> None:
    """SVG and PNG buttons; ``spec`` gives the spec's JSON only when a file is asked for."""
    svg_column.download_button("SVG figure", lambda: figure_bytes(spec(), "svg"), f"{name}.svg",
                               "image/svg+xml", key=f"dl-{name}-svg", on_click="ignore", icon=":material/image:")
    png_column.download_button("PNG figure", lambda: figure_bytes(spec(), "png"), f"{name}.png",
                               "image/png", key=f"dl-{name}-png", on_click="ignore", icon=":material/image:")


#: Projector mode: how much larger text, marks and rows get (a 1280x720 image read from the back of a room).
PROJECTOR_SCALE = 1.6
_FIT_KINDS = ("mark", "layer")  # single views and layers can take the column's width; concat and facets cannot
_DATA_KEYS = ("data", "datasets", "values")  # the chart's data is never rescaled, only its look


def on_screen(spec: dict[str, Any], big: bool = False) -> tuple[dict[str, Any], bool]:
    """The spec as the page shows it, and whether it fills the column: a single view or a layer takes the
    column's width (its x axis fits, so nothing is ever cut off and heatmaps fill the column); a concatenation or
    facet keeps its natural size. Projector mode enlarges it (``projected``)."""
    spec = projected(spec, big) if big else dict(spec)
    faceted = any(k in (spec.get("encoding") or {}) for k in ("row", "column", "facet"))  # a facet by encoding
    fits = any(k in spec for k in _FIT_KINDS) and isinstance(spec.get("width"), int | float) and not faceted
    if fits:
        spec["width"] = "container"
        spec["autosize"] = {"type": "fit-x", "contains": "padding"}
    return spec, fits


def projected(spec: Any, big: bool = True, _key: str = "") -> Any:
    """``spec`` with every font size, mark size and row height scaled by ``PROJECTOR_SCALE``, plus larger
    axis, legend and title defaults (for text a chart does not size itself)."""
    if not big:
        return spec
    if isinstance(spec, list):
        return [projected(v, big, _key) for v in spec]
    if not isinstance(spec, dict):
        if isinstance(spec, int | float) and not isinstance(spec, bool) and _key in ("fontSize", "size", "height",
                                                                                      "strokeWidth", "dy", "dx"):
            return spec * PROJECTOR_SCALE
        return spec
    out = {k: (v if k in _DATA_KEYS else projected(v, big, k)) for k, v in spec.items()}
    if _key == "":  # the top level: larger defaults
        config = dict(out.get("config", {}))
        config.update(axis={"labelFontSize": 16, "titleFontSize": 17}, legend={"labelFontSize": 15,
                      "titleFontSize": 15, "symbolSize": 160}, title={"fontSize": 21}, text={"fontSize": 16},
                      header={"labelFontSize": 16, "titleFontSize": 17})
        out["config"] = config
    return out


def frame_download(frame: pd.DataFrame, name: str, label: str = "CSV") -> None:
    """A table as a CSV download (``name``.csv)."""
    st.download_button(label, frame.to_csv(index=False).encode("utf-8"), f"{name}.csv", "text/csv",
                       key=f"dl-{name}", on_click="ignore", icon=":material/download:")
