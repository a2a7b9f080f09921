"""What every studio page shares: the only module (besides the pages) that imports Streamlit.

* ``page()``           page config, title, the sidebar model picker; returns the chosen ``ModelRef``
* ``control()``        a widget whose value lives in the URL (``?k=5``), hidden in locked mode (``?locked=1``)
* ``sentence_box()``   the source sentence with the task's example sentences; empty/too long handled
* ``checkpoint()``     the model, loaded once per (path, mtime) with ``st.cache_resource`` (read-only!)
* ``beam()``, ``attention()``, ``gates()``, ... cached results (``st.cache_data``) of ``nmt_core`` calls
* ``chart_with_downloads()`` an Altair chart plus downloads of its data (CSV/JSON) and figure (SVG/PNG)

Pages call these and render; they never build charts (``nmt_core.viz*``) or touch torch.
"""

from __future__ import annotations

import html
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from nmt_core import jobs
from nmt_core.runs import format_seconds, list_runs, log_tail, read_metrics, run_info

ROOT = Path(__file__).resolve().parent
APP_NAME = "NMT Studio"
MAX_UPLOAD_MB = float(os.environ.get("NMT_STUDIO_MAX_UPLOAD_MB", "50"))


#: The navigation (Streamlit's own file-name list is hidden in .streamlit/config.toml).
PAGES = [
    ("app.py", "Home", ":material/home:"),
    ("pages/1_Translate.py", "Translate & beam search", ":material/translate:"),
    ("pages/2_Attention.py", "Attention", ":material/grid_on:"),
    ("pages/3_Gates.py", "Gates", ":material/memory:"),
    ("pages/4_Gradients.py", "Gradient flow", ":material/trending_down:"),
    ("pages/5_Train.py", "Train", ":material/model_training:"),
    ("pages/6_Compare.py", "Compare", ":material/compare:"),
    ("pages/7_Data.py", "Data", ":material/dataset:"),
]


# --------------------------------------------------------------------------------------- paths and models
def runs_root() -> Path:
    """Where trainings started from the studio live (env NMT_STUDIO_RUNS, default runs/)."""
    root = Path(os.environ.get("NMT_STUDIO_RUNS", "runs"))
    return root if root.is_absolute() else ROOT / root


def checkpoints_dir() -> Path:
    """The shipped models (env NMT_STUDIO_CHECKPOINTS, default checkpoints/)."""
    root = Path(os.environ.get("NMT_STUDIO_CHECKPOINTS", "checkpoints"))
    return root if root.is_absolute() else ROOT / root


@dataclass(frozen=True)
class ModelRef:
    """A checkpoint: its name in the picker and in links (``?model=``, stable), path, modification time
    (the cache key) and a longer description."""

    key: str
    path: str
    mtime: float
    label: str


def model_key(path: Path) -> str:
    """The stable name of a checkpoint: "<file stem> (shipped)" or "<run name> (your run)"."""
    path = Path(path)
    return f"{path.parent.name} (your run)" if path.name == "best.pt" else f"{path.stem} (shipped)"


#: The model the studio opens on: the real English→German model (the toy grammar stays in the picker for
#: the exact-alignment demos). Falls back to the toy model when that file is missing; a server can
#: choose another with the environment variable NMT_STUDIO_DEFAULT_MODEL (a file stem in checkpoints/).
DEFAULT_MODEL = os.environ.get("NMT_STUDIO_DEFAULT_MODEL", "tatoeba-en-de")
FALLBACK_MODEL = "toy-en-es"  # the default when the default model's file is missing


def available_models() -> dict[str, ModelRef]:
    """Shipped checkpoints first (the default model leading), then best.pt of every run."""
    found: dict[str, ModelRef] = {}
    shipped = sorted(checkpoints_dir().glob("*.pt"), key=lambda p: (p.stem != DEFAULT_MODEL, p.stem != FALLBACK_MODEL,
                                                                     p.name))
    for path in shipped:
        key = model_key(path)
        found[key] = ModelRef(key, str(path), path.stat().st_mtime, key)
    for run in list_runs(runs_root()):
        best = run.path / "best.pt"
        if best.exists():
            key = model_key(best)
            found[key] = ModelRef(key, str(best), best.stat().st_mtime, f"{key}, step {run.step}, {run.state}")
    return found


def contrast_model(key: str, keys: list[str]) -> str:
    """The natural second model for Compare: ``<name>-noattn`` of a shipped model when there is one (the
    bottleneck twin), else the next model in the list."""
    twin = key.replace(" (shipped)", "-noattn (shipped)")
    return twin if twin in keys and twin != key else next(k for k in keys if k != key)


def display_path(path: Path) -> str:
    """A path relative to the project when it is inside it (for captions)."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def locked() -> bool:
    """``?locked=1`` hides the controls for a locked-down exercise (sticky for the session)."""
    if st.query_params.get("locked") in ("1", "true", "yes"):
        st.session_state["_locked"] = True
    return bool(st.session_state.get("_locked"))


def page(title: str, intro: str | None = None, *, needs_model: bool = True) -> ModelRef | None:
    """Set up a page: config, title, intro, sidebar with the model picker. Stops the page with a
    message when it needs a model and none exists."""
    st.set_page_config(page_title=f"{title} · {APP_NAME}", page_icon="🔤", layout="wide")
    _carry_choices_over(title)
    st.title(title)
    if intro:
        st.caption(intro)
    models = available_models()
    with st.sidebar:
        st.markdown(f"**{APP_NAME}**: recurrent neural machine translation, opened up.")
        for path, label, icon in PAGES:
            st.page_link(path, label=label, icon=icon)
        st.divider()
        ref = _model_picker(models)
        if locked():
            st.info("Locked exercise: the controls are fixed by the link.")
        else:
            st.caption("The address bar holds this view: copy it to share it; add `&locked=1` to hide the controls.")
    if ref is None and needs_model:
        st.warning("No trained model yet. Train one on the **Train** page (or put a checkpoint in "
                   f"`{checkpoints_dir().name}/`).")
        st.stop()
    if ref is not None:
        from nmt_core.checkpoint import CheckpointError

        try:
            translator(ref)  # a junk, truncated or foreign .pt file is refused here, with its reason
        except CheckpointError as err:
            model_error(err)
            st.stop()
    return ref


def _carry_choices_over(title: str) -> None:
    """Keep the sentence, the model and the other URL-bound choices when the user moves to another page.
    Streamlit drops bound query parameters on a page switch, so every ``control`` also records its value
    here, and a page seen for the first time since the switch starts from those values."""
    if st.session_state.get("_page") == title:
        return
    st.session_state["_page"] = title
    for key, value in st.session_state.get("_kept", {}).items():
        if key not in st.query_params:  # a shared link's own values win
            st.session_state[key] = value


def _keep(key: str, value: Any) -> Any:
    st.session_state.setdefault("_kept", {})[key] = value
    return value


def open_model(path: Path, page_path: str = "app.py") -> None:
    """Make ``path`` the selected model and go to ``page_path`` (its model card by default)."""
    _keep("model", model_key(path))
    st.switch_page(page_path)


def _model_picker(models: dict[str, ModelRef]) -> ModelRef | None:
    if not models:
        return None
    keys = list(models)
    if locked():
        ref = models.get(_keep("model", query_value("model", keys[0], keys)), models[keys[0]])
        st.caption(f"Model: {ref.label}")
        return ref
    if st.session_state.get("model") not in models:
        st.session_state.pop("model", None)
    key = st.selectbox("Model", keys, key="model", bind="query-params",
                       help="Shipped checkpoints and the best checkpoint of each of your training runs.")
    return models.get(_keep("model", key), models[keys[0]])


# --------------------------------------------------------------------------------------- controls in the URL
_DEFAULT_ARG = {"slider": "value", "number_input": "value", "text_input": "value", "text_area": "value",
                "checkbox": "value", "toggle": "value", "selectbox": "index", "radio": "index",
                "segmented_control": "default", "pills": "default", "select_slider": "value",
                "multiselect": "default"}


def control(widget: Any, label: str, key: str, default: Any, **kwargs: Any) -> Any:
    """``widget(label, ...)`` bound to the query parameter ``key``, so the address reproduces the view.
    In locked mode nothing is drawn and the value comes from the URL (or ``default``)."""
    options = kwargs.get("options")
    if locked():
        return _keep(key, query_value(key, default, options, kwargs.get("format_func", str)))
    lo, hi, old = kwargs.get("min_value"), kwargs.get("max_value"), st.session_state.get(key)
    if isinstance(old, int | float) and lo is not None and hi is not None and not lo <= old <= hi:
        st.session_state[key] = min(max(old, lo), hi)  # e.g. n-best after the beam got narrower
    if options is not None and key in st.session_state and not _valid_choice(st.session_state[key], options):
        del st.session_state[key]
    if key not in st.session_state:  # a default next to a Session State value would make Streamlit warn
        arg = _DEFAULT_ARG[widget.__name__]
        kwargs[arg] = list(options).index(default) if arg == "index" else default
    return _keep(key, widget(label, key=key, bind="query-params", **kwargs))


def _valid_choice(value: Any, options: Any) -> bool:
    choices = list(options)
    return all(v in choices for v in value) if isinstance(value, list) else value in choices


def query_value(key: str, default: Any, options: Any = None, format_func: Any = str) -> Any:
    """The URL's value for ``key``, parsed like ``default`` (or the option whose ``str`` or ``format_func``
    form it is: URL-bound widgets write the formatted option); else ``default``."""
    raw = st.query_params.get(key)
    if raw is None:  # e.g. after a page switch in a locked session: the value the link gave
        return st.session_state.get("_kept", {}).get(key, default)
    if isinstance(default, list):
        wanted = st.query_params.get_all(key)
        return [o for o in (options or wanted) if str(o) in wanted or str(format_func(o)) in wanted]
    if options is not None:
        return next((o for o in options if raw in (str(o), str(format_func(o)))), default)
    try:
        if isinstance(default, bool):
            return raw.lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(float(raw))
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        return default
    return raw


# --------------------------------------------------------------------------------------- the sentence
def task_info(ref: ModelRef):
    """The built-in task the model was trained on (``TaskInfo``), or None for user corpora."""
    from nmt_core import tasks

    name = checkpoint(ref).config.data.task
    if not name or checkpoint(ref).config.data.corpus:
        return None
    try:
        return tasks.get_task(name).info
    except ValueError:
        return None


def gold_alignment(ref: ModelRef, sentence: str) -> tuple[str, set[tuple[int, int]]] | None:
    """(reference translation, gold (source word, target word) links) when the model's built-in task can
    translate ``sentence`` itself (toy-en-es, numbers-de, recall); None otherwise."""
    from nmt_core import tasks
    from nmt_core.corpus import parse_alignment

    info = task_info(ref)
    task = tasks.get_task(info.name) if info else None
    if task is None or task.translate is None:
        return None
    try:
        reference, links = task.translate(sentence)
    except ValueError:
        return None
    return reference, set(parse_alignment(links))


def alignment_scores(result: Any, links: set[tuple[int, int]]):
    """Precision, recall and AER of the attention's argmax alignment against gold links."""
    from nmt_core.inspection import alignment_scores as scores

    return scores(result.alignment(), links)


def _use_example() -> None:
    choice = st.session_state.get("example")
    if choice:
        st.session_state["s"] = choice


def examples(ref: ModelRef) -> list[str]:
    """Example sentences for this model: its built-in task's, or those stored in the checkpoint (shipped
    real-language models carry a few; a run trained in the studio stores its first dev sentences)."""
    info = task_info(ref)
    if info:
        return list(info.examples)
    ckpt = checkpoint(ref)
    stored = ckpt.extra.get("examples") or (ckpt.metrics.get("data") or {}).get("examples")
    return [str(s) for s in stored][:8] if isinstance(stored, list) else []


def sentence_box(ref: ModelRef, label: str = "Sentence to translate") -> str | None:
    """The source sentence (URL key ``s``), with example chips. Returns the normalised sentence, cut to
    the inspection limit, or None (with a hint) when it is empty; every change on the way is shown
    (``source_notices``)."""
    chips = examples(ref)
    default = chips[0] if chips else ""
    if locked():
        text = _keep("s", query_value("s", default))
        st.text(f"Sentence: {text}")
    else:
        if st.session_state.get("example") not in chips:
            st.session_state.pop("example", None)  # a chip of the previous model
        if chips:
            st.pills("Examples", chips, key="example", on_change=_use_example,
                     help="Sentences from the data the model was trained or tested on.")
        text = control(st.text_area, label, "s", default, height=68, max_chars=2000)
    return clean_sentence(ref, text)


def clean_sentence(ref: ModelRef, text: str | None) -> str | None:
    """The sentence as every view will use it, after ``nmt_core.notices.check_source`` (the decision the
    CLI and the Python API make too), with its notices shown above the results."""
    from nmt_core.inspection.sentence import MAX_PIECES
    from nmt_core.notices import check_source
    from nmt_core.translator import MAX_INPUT_PIECES

    if not (text or "").strip():
        st.info("Type a sentence (or pick an example) to see what the model does with it.")
        return None
    tok = checkpoint(ref).tokenizers.src
    checked = check_source(text, tok, max_pieces=min(MAX_PIECES, MAX_INPUT_PIECES),
                           max_words=checkpoint(ref).training_max_words)
    if not checked.text:
        st.info("Nothing is left of this sentence after removing invisible characters: type some words.")
        source_notices(checked)
        return None
    source_notices(checked)
    return tok.decode(checked.ids) if checked.truncated else checked.text


def source_notices(checked: Any) -> None:
    """Each notice in one line, then the sentence as the model reads it with the affected pieces marked."""
    if not checked.notices:
        return
    marked = {p for n in checked.notices for p in n.positions}
    with st.container(border=True, key="source-notices"):
        for notice in checked.notices:
            st.warning(escape_md(notice.message), icon=":material/info:")
        if marked:
            shown = " ".join(f":orange-background[**{escape_md(p)}**]" if i in marked else escape_md(p)
                             for i, p in enumerate(checked.pieces))
            st.markdown(f"The model reads: {shown}")


def show_text(label: str, text: str) -> None:
    """User or model text, shown literally (never interpreted as Markdown/HTML)."""
    st.caption(label)
    st.code(text or " ", language=None, wrap_lines=True)


def labels(pieces: Any) -> list[str]:
    """Chart labels from sentencepiece pieces: the word-start mark "▁" dropped (kept when alone)."""
    return [str(p).replace("▁", " ").strip() or "▁" for p in pieces]


def escape_md(text: str) -> str:
    """Text safe to embed in st.markdown: HTML escaped and Markdown punctuation neutralised."""
    out = html.escape(str(text), quote=False)  # &#x27; would be broken by the '#' escape below
    for ch in "\\`*_{}[]()#+-.!|>~$:":  # ":" too: no "javascript:" link, no ":emoji:" shortcode
        out = out.replace(ch, "\\" + ch)
    return out


# --------------------------------------------------------------------------------------- cached model and results
@st.cache_resource(max_entries=6, show_spinner="Loading the model…")
def _load(path: str, mtime: float):
    """A ``Translator`` shared by every session: eval mode, read-only (never call .train() on it)."""
    import torch

    from nmt_core.translator import Translator

    # One thread per request: these models are small, and several sessions (plus a training process) share the
    # cores; more threads only oversubscribe them (env NMT_STUDIO_THREADS to change).
    torch.set_num_threads(max(1, int(os.environ.get("NMT_STUDIO_THREADS", "1"))))
    return Translator.from_path(path, os.environ.get("NMT_STUDIO_DEVICE", "cpu"))


def translator(ref: ModelRef):
    return _load(ref.path, ref.mtime)


def checkpoint(ref: ModelRef):
    """The loaded ``Checkpoint`` (model, tokenizers, config, step, metrics, history)."""
    return translator(ref).checkpoint


def model_error(err: Exception) -> None:
    st.error(f"This model cannot be used here: {escape_md(err)}")


@st.cache_data(max_entries=64, show_spinner=False)
def beam(_ref: ModelRef, key: tuple, sentence: str, k: int, penalty: str, alpha: float, nbest: int,
         prefix: str = "", stopping: str = "exact"):
    """Beam search with its full trace (k=1 is greedy). ``key`` = (path, mtime) is the cache key."""
    return translator(_ref).beam_search(sentence, beam_size=k, nbest=nbest, length_penalty=penalty, alpha=alpha,
                                 prefix=prefix or None, stopping=stopping)


def run_beam(ref: ModelRef, sentence: str, k: int = 5, penalty: str = "none", alpha: float = 0.6,
             nbest: int = 5, prefix: str = "", stopping: str = "exact"):
    return beam(ref, (ref.path, ref.mtime), sentence, k, penalty, alpha, nbest, prefix, stopping)


@st.cache_data(max_entries=64, show_spinner=False)
def _inspect(_ref: ModelRef, key: tuple, what: str, sentence: str, target: str | None, extra: tuple = ()):
    from nmt_core import inspection

    ckpt = checkpoint(_ref)
    model, toks = ckpt.model, ckpt.tokenizers
    if what == "attention":
        return inspection.attention_matrix(model, toks, sentence, target)
    if what == "gates":
        return inspection.gate_trace(model, toks, sentence, target)
    if what == "gradients":
        return inspection.gradient_flow(model, toks, sentence, target)
    if what == "clamp":
        return inspection.intervene(model, toks, sentence, inspection.clamp_gate(*extra))
    if what == "block":
        from nmt_core.model import Intervention

        return inspection.intervene(model, toks, sentence, Intervention(blocked_source=tuple(extra)))
    if what == "diagnose":
        return translator(_ref).diagnose(sentence, target, beam_size=extra[0], length_penalty=extra[1], alpha=extra[2])
    raise ValueError(what)


def _inspect_or_stop(ref: ModelRef, what: str, sentence: str, target: str | None, extra: tuple = ()):
    """``_inspect``, with the core's ValueErrors (a target longer than inspection allows, an empty one...)
    shown as a warning that ends the page instead of a traceback."""
    try:
        return _inspect(ref, (ref.path, ref.mtime), what, sentence, target, extra)
    except ValueError as err:
        st.warning(f"Cannot show this: {escape_md(err)}")
        st.stop()


def attention(ref: ModelRef, sentence: str, target: str):
    return _inspect_or_stop(ref, "attention", sentence, target)


def gates(ref: ModelRef, sentence: str, target: str | None = None):
    return _inspect_or_stop(ref, "gates", sentence, target)


def gradients(ref: ModelRef, sentence: str, target: str | None = None):
    return _inspect_or_stop(ref, "gradients", sentence, target)


def clamp(ref: ModelRef, sentence: str, side: str, layer: int, direction: int, gate: str, unit: int, value: float):
    return _inspect_or_stop(ref, "clamp", sentence, None, (side, layer, direction, gate, unit, value))


def block_source(ref: ModelRef, sentence: str, positions: tuple[int, ...]):
    return _inspect_or_stop(ref, "block", sentence, None, tuple(positions))


def diagnose(ref: ModelRef, sentence: str, translation: str, k: int, penalty: str = "none", alpha: float = 0.6):
    """Score a user's translation token by token and compare it with the search's best (``Diagnosis``)."""
    return _inspect_or_stop(ref, "diagnose", sentence, translation, (k, penalty, alpha))


def translation(ref: ModelRef, sentence: str) -> str:
    """The model's greedy translation (beam of one)."""
    result = run_beam(ref, sentence, 1, "none", 0.6, 1)
    return result.hypotheses[0].text if result.hypotheses else ""


# --------------------------------------------------------------------------------------- charts and downloads
@st.cache_data(max_entries=128, show_spinner=False)
def _figure_bytes(spec: str, fmt: str) -> bytes:
    import vl_convert as vlc

    if fmt == "svg":
        return vlc.vegalite_to_svg(spec).encode("utf-8")
    return vlc.vegalite_to_png(spec, scale=2)


def _data_bytes(data: Any) -> bytes:
    if isinstance(data, pd.DataFrame):
        return data.to_csv(index=False).encode("utf-8")
    if hasattr(data, "to_json"):  # a core result, e.g. BeamTrace: its own documented JSON form
        return data.to_json().encode("utf-8")
    return json.dumps(data, ensure_ascii=False, indent=1, default=str).encode("utf-8")


def chart_with_downloads(fig: Any, data: Any, name: str, *, png: bool = False) -> None:
    """Show an Altair chart (hover tooltips come from the chart) with downloads of its data (CSV for a
    DataFrame; JSON for a core result with ``to_json`` or anything json.dumps takes) and of the figure as
    SVG (and PNG if asked), rendered offline by vl-convert. Files are produced only when a button is
    clicked, so a rerun costs nothing extra."""
    import altair as alt

    # Natural size: without an explicit autosize Streamlit fits the chart to a default box, which squeezes
    # heatmaps and the beam tree until their labels overlap.
    fig = fig.properties(autosize=alt.AutoSizeParams(type="pad", contains="padding"))
    st.altair_chart(fig, width="content")
    ext, mime = ("csv", "text/csv") if isinstance(data, pd.DataFrame) else ("json", "application/json")
    cols = st.columns(3 if png else 2, gap="small", width=420 if png else 300)
    cols[0].download_button(f"{ext.upper()} data", lambda: _data_bytes(data), f"{name}.{ext}", mime,
                            key=f"dl-{name}-data", on_click="ignore", icon=":material/download:")
    cols[1].download_button("SVG figure", lambda: _figure_bytes(fig.to_json(), "svg"), f"{name}.svg",
                            "image/svg+xml", key=f"dl-{name}-svg", on_click="ignore", icon=":material/image:")
    if png:
        cols[2].download_button("PNG figure", lambda: _figure_bytes(fig.to_json(), "png"), f"{name}.png",
                                "image/png", key=f"dl-{name}-png", on_click="ignore", icon=":material/image:")


def frame_download(frame: pd.DataFrame, name: str, label: str = "CSV") -> None:
    st.download_button(label, frame.to_csv(index=False).encode("utf-8"), f"{name}.csv", "text/csv",
                       key=f"dl-{name}", on_click="ignore", icon=":material/download:")


# --------------------------------------------------------------------------------------- uploads and runs
def save_upload(upload: Any, run_dir: Path, name: str) -> Path:
    """Save an uploaded file under ``run_dir/data/<name>`` after checking its size (never the user's file
    name, so nothing can escape the run folder). Raises ValueError when it is too big."""
    limit = int(MAX_UPLOAD_MB * 1024 * 1024)
    if upload.size > limit:
        raise ValueError(f"{upload.name}: {upload.size / 1e6:.1f} MB is over the {MAX_UPLOAD_MB:g} MB limit")
    target = run_dir / "data" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as out:
        upload.seek(0)
        while chunk := upload.read(1 << 20):
            out.write(chunk)
    return target


def csv_columns(data: bytes) -> list[str]:
    """Header names of a CSV upload (first line only), for the column pickers."""
    import csv

    first = data.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    return next(csv.reader(io.StringIO(first)), [])


# --------------------------------------------------------------------------------------- the beam tree player
def _toggle_play(last: int) -> None:
    playing = not st.session_state.get("playing", False)
    st.session_state["playing"] = playing
    if playing and st.session_state.get("step", last) >= last:
        st.session_state["step"] = 0


def beam_tree_player(result: Any, name: str = "beam-tree") -> None:
    """The search tree with a step slider and a play button that reveals it one step at a time.
    Playing reruns only this fragment every 0.8 s; the layout never moves, nodes just appear."""
    from nmt_core.viz import beam_tree_chart

    frame = result.trace.to_frame()
    last = int(frame["step"].max())
    ident = (result.trace.source, last, tuple(sorted(result.trace.settings.items())))
    if st.session_state.get("tree_of") != ident:  # a new search: show it whole
        st.session_state.update(tree_of=ident, step=last, playing=False)

    @st.fragment(run_every=0.8 if st.session_state.get("playing") else None)
    def player() -> None:
        if st.session_state.get("playing"):
            step = min(last, int(st.session_state.get("step", 0)) + 1)
            st.session_state["step"] = step
            if step >= last:
                st.session_state["playing"] = False
                st.rerun()  # a full rerun turns the timer off
        left, right = st.columns([1, 5], vertical_alignment="bottom")
        playing = st.session_state.get("playing", False)
        if left.button("Pause" if playing else "Play", icon=":material/pause:" if playing else ":material/play_arrow:",
                       key="play", on_click=_toggle_play, args=(last,), help="Watch the search expand step by step"):
            st.rerun()
        step = right.slider("Search step", 0, max(last, 1), key="step",
                            help="Step t shows the prefixes of length t the search kept, and what it pruned.")
        chart_with_downloads(beam_tree_chart(result.trace, step), result.trace, name)

    player()


# --------------------------------------------------------------------------------------- equations beside the gates
GATE_LABELS = {"i": "i · input", "f": "f · forget", "g": "g · candidate", "o": "o · output", "c": "c · cell",
               "h": "h · hidden", "r": "r · reset", "z": "z · update", "n": "n · candidate"}
#: (gate, LaTeX, one sentence) per cell type, in the order the cell computes them (replay.GATE_NAMES).
EQUATIONS: dict[str, list[tuple[str, str, str]]] = {
    "lstm": [
        ("f", r"f_t = \sigma(W_f [h_{t-1}; x_t] + b_f)", "Forget gate: how much of the old cell to keep."),
        ("i", r"i_t = \sigma(W_i [h_{t-1}; x_t] + b_i)", "Input gate: how much of the new content to write."),
        ("g", r"g_t = \tanh(W_g [h_{t-1}; x_t] + b_g)", "Candidate: the new content itself, in [-1, 1]."),
        ("o", r"o_t = \sigma(W_o [h_{t-1}; x_t] + b_o)", "Output gate: how much of the cell to show as h_t."),
        ("c", r"c_t = f_t \odot c_{t-1} + i_t \odot g_t", "Cell: an additive update, so gradients flow through "
                                                          "f_t almost untouched (f = 1, i = 0 keeps it like RAM)."),
        ("h", r"h_t = o_t \odot \tanh(c_t)", "Hidden state: what the next layer, attention and the next step read."),
    ],
    "gru": [
        ("r", r"r_t = \sigma(W_r x_t + U_r h_{t-1} + b_r)", "Reset gate: how much of the past feeds the candidate."),
        ("z", r"z_t = \sigma(W_z x_t + U_z h_{t-1} + b_z)", "Update gate: the share of the old state carried over."),
        ("n", r"n_t = \tanh(W_n x_t + r_t \odot (U_n h_{t-1}) + b_n)", "Candidate state, in [-1, 1]."),
        ("h", r"h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}", "New state: a gated mix of old and new."),
    ],
    "rnn": [("h", r"h_t = \tanh(W_{xh} x_t + W_{hh} h_{t-1} + b_h)",
             "A vanilla RNN has no gates: the same matrix multiplies the state at every step.")],
}


# --------------------------------------------------------------------------------------- labs
def labs_dir() -> Path:
    """Where a lab started from the studio writes its tables (inside the runs folder)."""
    return runs_root() / "_labs"


def lab_tables(name: str) -> tuple[Path | None, dict[str, pd.DataFrame]]:
    """The newest stored tables of lab ``name``: a live run's (runs/_labs), else the shipped ones
    (labs/ or docs/labs/). Returns (folder, {table: DataFrame}); ({}) when the lab never ran."""
    stem = name.replace("-", "_")
    folders = [labs_dir(), ROOT / "labs", ROOT / "docs" / "labs", ROOT / "docs"]
    found = [(f, sorted(f.glob(f"{stem}_*.csv"))) for f in folders if f.is_dir()]
    found = [(f, files) for f, files in found if files and not jobs.lab_running(name, f)]
    if not found:
        return None, {}
    folder, files = max(found, key=lambda item: max(p.stat().st_mtime for p in item[1]))
    tables = {}
    for path in files:
        try:
            tables[path.stem[len(stem) + 1:]] = pd.read_csv(path)
        except (OSError, ValueError, pd.errors.ParserError):
            continue
    return folder, tables


def lab_budget() -> str:
    """Budget of a live lab run (env NMT_STUDIO_LAB_BUDGET: tiny | small | full; default small)."""
    return os.environ.get("NMT_STUDIO_LAB_BUDGET", "small")


def lab_runner(name: str, what: str) -> None:
    """A button that runs lab ``name`` in a background process, and its live log while it runs."""
    out = labs_dir()
    if jobs.lab_running(name, out):
        @st.fragment(run_every=2.0)
        def watch() -> None:
            if not jobs.lab_running(name, out):
                st.rerun()  # finished: redraw the page with the new tables
            st.info(f"The {name} lab is running in the background ({lab_budget()} budget); you can leave this page.")
            st.code((out / f"{name}.log").read_text(encoding="utf-8", errors="replace")[-3000:] or "starting…",
                    language=None)

        watch()
        return
    if st.button(f"Run the {name} lab now ({lab_budget()} budget)", key=f"lab-{name}", help=what,
                 icon=":material/science:", disabled=locked()):
        jobs.start_lab(name, out, budget=lab_budget(), cwd=ROOT)
        st.rerun()


# --------------------------------------------------------------------------------------- training runs
def start_run(name: str, raw_config: dict[str, Any], uploads: dict[str, Any] | None = None) -> str | None:
    """Validate a config, save any uploaded corpus files into the run folder, and start training in the
    background. Returns None on success, else a message for the user (nothing is started then)."""
    from nmt_core.config import ConfigError, ExperimentConfig
    from nmt_core.runs import run_path

    try:
        path = run_path(runs_root(), name)
        if (path / "status.json").exists():
            return f"A run named '{name}' already exists: choose another name (or resume it below)."
        corpus = raw_config["data"].get("corpus")
        for key, upload in (uploads or {}).items():  # key: the corpus spec field the file fills
            saved = save_upload(upload, path, {"path": "corpus" + Path(upload.name).suffix.lower(),
                                               "src_path": "source.txt", "tgt_path": "target.txt"}[key])
            corpus[key] = str(saved)
        cfg = ExperimentConfig.from_dict({**raw_config, "name": name})
        jobs.start_training(cfg, runs_root(), name, cwd=ROOT)
    except jobs.JobLimitError as err:
        return str(err)
    except (ConfigError, ValueError, OSError) as err:
        return f"Cannot start: {escape_md(err)}"  # the reason may quote a run or file name the user typed
    return None


def config_from_form(s: Any) -> dict[str, Any]:
    """The experiment config the Train page's widgets (``tr_*`` keys of ``s``, the session state) describe;
    validated by ``ExperimentConfig`` when the run starts."""
    data = {"dev_size": s["tr_dev"], "test_size": s["tr_dev"]}
    if s["tr_source"] != "Built-in task":  # real corpora repeat sentences: keep dev/test ones out of training
        data["held_out"] = "sentences"
    if s["tr_source"] == "Built-in task":
        data |= {"task": s["tr_task"], "size": s["tr_size"]}
    elif s["tr_source"] == "Two files":
        data |= {"task": None, "corpus": {"format": "parallel"}}
    elif s.get("tr_file") is not None and s["tr_file"].name.lower().endswith(".csv"):
        data |= {"task": None,
                 "corpus": {"format": "csv", "src_column": s["tr_src_col"], "tgt_column": s["tr_tgt_col"]}}
    else:
        data |= {"task": None, "corpus": {"format": "tsv"}}
    steps, every = s["tr_steps"], s["tr_eval"]
    raw = {"data": data, "tokenizer": {"type": s["tr_tok"], "vocab_size": s["tr_vocab"]},
           "model": {"cell": s["tr_cell"], "attention": s["tr_att"], "embedding_size": s["tr_emb"],
                     "hidden_size": s["tr_hidden"], "encoder_layers": s["tr_layers"], "bidirectional": s["tr_bidir"],
                     "input_feeding": s["tr_feed"], "dropout": s["tr_dropout"]},
           "train": {"max_steps": steps, "batch_size": s["tr_batch"], "lr": s["tr_lr"],
                     "time_budget_s": s["tr_budget"], "eval_every": every, "lr_schedule": "cosine",
                     "log_every": max(1, min(20, every // 5)), "warmup_steps": min(100, steps // 10),
                     "dev_bleu_sentences": 200}}
    if s.get("tr_quick"):  # the recipe's settings that have no widget of their own
        from nmt_core.recipes import QUICK

        raw["train"] |= {k: QUICK["train"][k] for k in ("batch_tokens", "label_smoothing", "dev_bleu_sentences")}
        raw["model"]["tie_embeddings"] = s["tr_emb"] == s["tr_hidden"]
    return raw


def resume_run(name: str) -> str | None:
    """Continue a run from its last.pt in the background; a message for the user when it cannot."""
    try:
        jobs.resume_training(runs_root(), name, cwd=ROOT)
    except (jobs.JobLimitError, ValueError) as err:
        return str(err)
    return None


def run_monitor(name: str) -> None:
    """Live view of one run: progress, ETA, curves, dev samples, log; polls every 2 s while it runs.
    Reads only the run folder, so it works for runs started by other sessions or from a terminal."""
    path = runs_root() / name
    info = run_info(path)

    @st.fragment(run_every=2.0 if info.active else None)
    def monitor() -> None:
        now = run_info(path)
        if now.state != info.state:
            st.rerun()  # started, running or ended: redraw the run list and buttons, start or stop polling
        eta = f" · about {format_seconds(now.eta_s)} left" if now.eta_s is not None else ""
        st.progress(now.progress, text=f"**{escape_md(name)}**: {now.state} · step {now.step}/{now.max_steps}{eta}")
        if now.message and now.state in ("failed", "died", "stopped", "finished"):
            (st.error if now.state in ("failed", "died") else st.caption)(f"{now.state}: {now.message}"
                                                                          if now.state != "died" else
                                                                          "the training process ended unexpectedly")
        metrics = read_metrics(path / "metrics.jsonl")
        if metrics.empty:
            st.caption("Waiting for the first metrics (generating data and training the tokenizer)…")
        else:
            _run_charts(metrics, name)
        with st.expander("Training log"):
            st.code(log_tail(path, 25) or "(empty)", language=None)

    monitor()


def _run_charts(metrics: pd.DataFrame, name: str) -> None:
    from nmt_core import viz

    table = metrics.drop(columns=["samples"], errors="ignore")
    train = table[table["kind"] == "train"] if "kind" in table else table.iloc[0:0]
    dev = metrics[metrics["kind"] == "dev"] if "kind" in metrics else metrics.iloc[0:0]
    if len(dev):
        cols = st.columns(3, width=560)
        latest = dev.iloc[-1]
        change = f"{latest['bleu'] - dev.iloc[-2]['bleu']:+.1f}" if len(dev) > 1 else None
        cols[0].metric("Dev BLEU", f"{latest['bleu']:.1f}", change,
                       help=f"Greedy translations of the dev sentences at step {int(latest['step'])} (sacrebleu)")
        cols[1].metric("Dev chrF", f"{latest['chrf']:.1f}")
        cols[2].metric("Best dev BLEU", f"{dev['bleu'].max():.1f}")
    if len(train):
        last = train.iloc[-1]
        st.caption(f"Step {int(last['step'])}: training loss {last['loss']:.3f} (perplexity {last['ppl']:.2f}), "
                   f"gradient norm {last['grad_norm']:.2f}, {last['tgt_tokens_per_s']:,.0f} target tokens/s")
    chart_with_downloads(viz.training_curves(table), table, f"{name}-curves")
    if len(dev) and isinstance(dev.iloc[-1].get("samples"), list):
        st.caption(f"Dev translations at step {int(dev.iloc[-1]['step'])} (dev BLEU {dev.iloc[-1]['bleu']:.1f})")
        st.dataframe(pd.DataFrame(dev.iloc[-1]["samples"]), hide_index=True)


# --------------------------------------------------------------------------------------- corpora and evaluation
@st.cache_data(max_entries=8, show_spinner="Preparing the corpus…")
def corpus_splits(data: dict[str, Any]) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """The train/dev/test pairs exactly as training splits them for this data config (generation or
    reading, cleaning, seeded split), as DataFrames, plus the cleaning report."""
    from nmt_core.config import DataConfig
    from nmt_core.data import make_splits

    splits, report = make_splits(DataConfig(**data))
    frames = {name: getattr(splits, name).to_frame() for name in ("train", "dev", "test")}
    return frames, report


def test_pairs(ref: ModelRef, n: int) -> tuple[list[str], list[str], str]:
    """The first ``n`` held-out test pairs of a model and where they come from: the sample a shipped model
    carries (so it can be scored without its corpus), else its data's test split, made as training made it."""
    sample = checkpoint(ref).extra.get("test_sample")
    if isinstance(sample, dict) and sample.get("src"):
        return list(sample["src"][:n]), list(sample["tgt"][:n]), str(sample.get("source", "the model's test sample"))
    test = corpus_splits(model_data(ref))[0]["test"].head(n)
    return test["src"].tolist(), test["tgt"].tolist(), "the test split of the model's data"


def model_data(ref: ModelRef) -> dict[str, Any]:
    """The data section of a model's config, as a plain dict (the cache key of ``corpus_splits``)."""
    from dataclasses import asdict

    return asdict(checkpoint(ref).config.data)


@st.cache_data(max_entries=16, show_spinner="Translating the test set…")
def bleu_by_length(_refs: tuple[ModelRef, ...], keys: tuple, n: int) -> pd.DataFrame:
    """BLEU/chrF per source-length bucket on the first ``n`` test pairs of the first model, one block of rows
    per model."""
    from nmt_core.labs.bottleneck import bleu_by_length as by_length

    src, refs, _ = test_pairs(_refs[0], n)
    frames = []
    for ref in _refs:
        hyps = translator(ref).translate(src)
        frames.append(by_length(src, hyps, refs).assign(model=ref.label))
    return pd.concat(frames, ignore_index=True)
