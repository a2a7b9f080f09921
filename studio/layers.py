"""Which recurrent layer to look at: one picker shared by the Gates and Cell pages, so both name layers alike."""

from __future__ import annotations

from typing import Any

import streamlit as st

from nmt_core.inspection import GateResult
from studio import state


def layer_names(result: GateResult) -> dict[str, tuple[str, int, int]]:
    """"encoder · layer 0 · forward" -> (side, layer, direction); directions are named only when there are two."""
    two_way = any(k[2] for k in result.layers)
    return {f"{side} · layer {layer}" + (f" · {'backward' if d else 'forward'}" if side == "encoder" and two_way
                                         else ""): (side, layer, d) for side, layer, d in result.layers}


def layer_picker(result: GateResult, follows: Any) -> tuple[str, int, int]:
    """A select box of the model's layers (reset when ``follows``, the model, changes): (side, layer, direction)."""
    names = layer_names(result)
    choice = state.control(st.selectbox, "Layer", "layer", next(iter(names)), options=list(names), follows=follows)
    return names[choice]
