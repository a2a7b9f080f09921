"""The Cost X-ray page's cached measurement and the fast-mode options a checkpoint offers.

Like ``studio.models``: one ``st.cache_data`` function per result, keyed on the checkpoint's path and mtime and the
page's choices (sentence, beam, the two fast-mode flags). A cached report is a measurement taken once: timing the
same sentence again on a shared server would only measure the other users' load.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from nmt_core.fast_mode import FastMode
from nmt_core.inspection.cost import CostReport, decoding_cost
from studio.models import ModelRef, or_stop, shared_translator


@st.cache_data(max_entries=32, show_spinner="Timing every component of every decoding step…")
def _cost(path: str, mtime: float, sentence: str, beam_size: int, int8: bool, shortlist: bool) -> CostReport:
    return decoding_cost(shared_translator(path, mtime), sentence, beam_size=beam_size,
                         fast=FastMode(int8=int8, shortlist=shortlist))


def cost(ref: ModelRef, sentence: str, beam_size: int, fast: FastMode) -> CostReport:
    """The cost X-ray of ``sentence`` in mode ``fast``; a bound or a fast mode the model cannot run ends the page
    with a warning (``or_stop``)."""
    return or_stop(_cost, ref, sentence, beam_size, fast.int8, fast.shortlist)


def table(reports: list[CostReport]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The reports' component tables as one frame for ``st.dataframe``, and its column formats."""
    frame = pd.concat([r.to_frame() for r in reports], ignore_index=True)
    config = {"ms_per_step": st.column_config.NumberColumn("ms per step", format="%.3f"),
              "time_share": st.column_config.NumberColumn("share of the step's time", format="percent"),
              "mflop_per_step": st.column_config.NumberColumn("MFLOP per step", format="%.3f"),
              "mflop_per_row": st.column_config.NumberColumn("MFLOP per hypothesis", format="%.3f"),
              "flop_share": st.column_config.NumberColumn("share of the FLOPs", format="percent")}
    return frame, config
