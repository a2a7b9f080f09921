"""What every page starts with: page config, title, the navigation, the sidebar model picker.

Each page calls ``page(...)`` first and gets the chosen ``ModelRef`` back. Streamlit's own file-name page list
is hidden (.streamlit/config.toml) because ``PAGES`` gives readable labels; the pages stay in ``pages/``
(automatic discovery, no ``st.navigation``).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from nmt_core.checkpoint import CheckpointError
from studio import models, paths, state
from studio.display import escape_md
from studio.models import ModelRef

APP_NAME = "NMT Studio"

#: The navigation: (script, label, icon, what the page shows; the home page's guide lists the last column).
PAGES = [
    ("app.py", "Home", ":material/home:", "what the studio is; the model card"),
    ("pages/1_Translate.py", "Translate & beam search", ":material/translate:",
     "greedy vs beam, the search tree, n-best, what-ifs"),
    ("pages/2_Attention.py", "Attention", ":material/grid_on:",
     "soft alignment as a heatmap and as lines, vs gold alignments"),
    ("pages/3_Gates.py", "Gates", ":material/memory:",
     "f, i, g, o, c, h of every LSTM layer; clamp a gate and re-translate"),
    ("pages/9_Cell.py", "The cell, live", ":material/schema:",
     "one LSTM, GRU or RNN cell drawn with the model's numbers, played step by step"),
    ("pages/4_Gradients.py", "Gradient flow", ":material/trending_down:",
     "per-step gradient norms; the vanishing-gradient lab"),
    ("pages/10_Attribution.py", "Attention vs attribution", ":material/compare_arrows:",
     "gradient attribution beside attention; coverage: dropped and repeated words"),
    ("pages/11_Linked_views.py", "Linked views", ":material/hub:",
     "one sentence, every view; hover a word and all of them light up"),
    ("pages/5_Train.py", "Train", ":material/model_training:",
     "train a model on a built-in task or your own data, live"),
    ("pages/12_Training_replay.py", "Training replay", ":material/history:",
     "scrub through a run's snapshots: attention sharpens, BLEU climbs"),
    ("pages/6_Compare.py", "Compare", ":material/compare:", "two models on one sentence; BLEU by sentence length"),
    ("pages/13_Cost.py", "Cost X-ray", ":material/speed:",
     "time and FLOPs of each part of a decoding step; what fast mode changes"),
    ("pages/7_Data.py", "Data", ":material/dataset:", "browse the corpus, tokenizer pieces, length histograms"),
    ("pages/8_Labs.py", "Labs", ":material/science:",
     "every lecture claim as an experiment: stored results, live runs"),
]


def page(title: str, intro: str | None = None, *, needs_model: bool = True) -> ModelRef | None:
    """Set up a page: config, title, intro, sidebar with the model picker. Stops the page with a message when
    it needs a model and none exists, or when the chosen file is not a usable checkpoint."""
    st.set_page_config(page_title=f"{title} · {APP_NAME}", page_icon="🔤", layout="wide")
    state.carry_choices_over(title)
    st.title(title)
    if intro:
        st.caption(intro)
    ref = _sidebar(models.available_models())
    if ref is None and needs_model:
        st.warning("No trained model yet. Train one on the **Train** page (or put a checkpoint in "
                   f"`{paths.checkpoints_dir().name}/`).")
        st.stop()
    if ref is not None:
        try:
            models.translator(ref)  # a junk, truncated or foreign .pt file is refused here, with its reason
        except CheckpointError as err:
            st.error(f"This model cannot be used here: {escape_md(err)}")
            st.stop()
    return ref


def _sidebar(available: dict[str, ModelRef]) -> ModelRef | None:
    with st.sidebar:
        st.markdown(f"**{APP_NAME}**: recurrent neural machine translation, opened up.")
        for path, label, icon, _ in PAGES:
            st.page_link(path, label=label, icon=icon)
        st.divider()
        ref = _model_picker(available)
        state.control(st.toggle, "Projector mode", "projector", state.projector(),
                      help="Larger charts, labels and numbers for a room: also ?projector=1 in a link.")
        if state.locked():
            st.info("Locked exercise: the controls are fixed by the link.")
        else:
            st.caption("The address bar holds this view: copy it to share it; add `&locked=1` to hide the controls.")
    return ref


def _model_picker(available: dict[str, ModelRef]) -> ModelRef | None:
    if not available:
        return None
    keys = list(available)
    if state.locked():
        ref = available.get(state.keep("model", state.query_value("model", keys[0], keys)), available[keys[0]])
        st.caption(f"Model: {ref.label}")
        return ref
    if st.session_state.get("model") not in available:
        st.session_state.pop("model", None)
    key = st.selectbox("Model", keys, key="model", bind="query-params",
                       help="Shipped checkpoints and the best checkpoint of each of your training runs.")
    return available.get(state.keep("model", key), available[keys[0]])


def open_model(path: Path, page_path: str = "app.py") -> None:
    """Make ``path`` the selected model and go to ``page_path`` (its model card by default)."""
    state.keep("model", models.model_key(path))
    st.switch_page(page_path)
