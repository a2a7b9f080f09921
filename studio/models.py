"""The models the studio offers, loaded once, and one cached function per result a page shows.

Two caches, for two kinds of object (Streamlit's caching guide):

* the ``Translator`` (model, tokenizers, config) is a *resource*: ``st.cache_resource`` shares one copy among
  all sessions, keyed on (path, mtime) so a retrained ``best.pt`` is reloaded. It is in eval mode and
  read-only: never call ``.train()`` on it.
* every result (a beam search, attention, gates, ...) is *data*: ``st.cache_data`` hands each session its own
  copy, keyed on the checkpoint's (path, mtime) and the exact inputs. One explicit function per result, so a
  cache key is a readable argument list and a result type is a return annotation.

The public functions take a ``ModelRef``; those of the inspection pages also turn the core's ``ValueError``
(a target longer than inspection allows, an empty one, ...) into a warning that ends the page.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st
import torch

from nmt_core import inspection
from nmt_core.checkpoint import Checkpoint
from nmt_core.fast_mode import FastMode
from nmt_core.hypotheses import BeamResult, Diagnosis
from nmt_core.inspection.sentence import prepare
from nmt_core.model import Intervention
from nmt_core.runs import list_runs
from nmt_core.translator import Translator
from studio import paths
from studio.display import escape_md
from studio.model_checks import problem

R = TypeVar("R")

#: The model the studio opens on: the real English→German model (the toy grammar stays in the picker for the
#: exact-alignment demos). Falls back to the toy model when that file is missing; a server can choose another
#: with the environment variable NMT_STUDIO_DEFAULT_MODEL (a file stem in checkpoints/).
DEFAULT_MODEL = os.environ.get("NMT_STUDIO_DEFAULT_MODEL", "tatoeba-en-de")
FALLBACK_MODEL = "toy-en-es"  # the default when the default model's file is missing
UPLOADED = "uploaded_models"  # session state: {"<name> (uploaded)": path} of this session's own checkpoints


@dataclass(frozen=True)
class ModelRef:
    """A checkpoint: its name in the picker and in links (``?model=``, stable), path, modification time
    (the cache key) and a longer description."""

    key: str
    path: str
    mtime: float
    label: str
    problem: str | None = None  # why the file cannot be loaded (never a default then)


def model_key(path: Path | str) -> str:
    """The stable name of a checkpoint: "<file stem> (shipped)" or "<run name> (your run)"."""
    path = Path(path)
    return f"{path.parent.name} (your run)" if path.name == "best.pt" else f"{path.stem} (shipped)"


def available_models() -> dict[str, ModelRef]:
    """Shipped checkpoints first (the default model leading), then best.pt of every run, then, last and labelled,
    files that cannot be loaded: they stay visible (picking one says why) but are never a default."""
    found: dict[str, ModelRef] = {}
    shipped = sorted(paths.checkpoints_dir().glob("*.pt"),
                     key=lambda p: (p.stem != DEFAULT_MODEL, p.stem != FALLBACK_MODEL, p.name))
    candidates = [(p, model_key(p), model_key(p)) for p in shipped]
    for run in list_runs(paths.runs_root()):
        best = run.path / "best.pt"
        if best.exists():
            candidates.append((best, model_key(best), f"{model_key(best)}, step {run.step}, {run.state}"))
    for key, path in st.session_state.get(UPLOADED, {}).items():  # this session's own uploads (model_upload.py)
        if Path(path).exists():
            candidates.append((Path(path), key, key))
    broken: dict[str, ModelRef] = {}
    for path, key, label in candidates:
        stat = path.stat()
        reason = problem(str(path), stat.st_mtime, stat.st_size)
        if reason is None:
            found[key] = ModelRef(key, str(path), stat.st_mtime, label)
        else:
            broken[key] = ModelRef(key, str(path), stat.st_mtime, f"{label} (cannot be loaded)", reason)
    return found | broken


def contrast_model(key: str, keys: list[str]) -> str:
    """The natural second model for Compare: ``<name>-noattn`` of a shipped model when there is one (the
    bottleneck twin), else the next model in the list."""
    twin = key.replace(" (shipped)", "-noattn (shipped)")
    if twin in keys and twin != key:
        return twin
    usable = available_models()
    return next((k for k in keys if k != key and k in usable and usable[k].problem is None), keys[0])


# --------------------------------------------------------------------------------------- the model itself
@st.cache_resource(max_entries=6, show_spinner="Loading the model…")
def shared_translator(path: str, mtime: float) -> Translator:
    """A ``Translator`` shared by every session: eval mode, read-only (never call .train() on it)."""
    # One thread per request: these models are small, and several sessions (plus a training process) share the
    # cores; more threads only oversubscribe them (env NMT_STUDIO_THREADS to change).
    torch.set_num_threads(max(1, int(os.environ.get("NMT_STUDIO_THREADS", "1"))))
    return Translator.from_path(path, os.environ.get("NMT_STUDIO_DEVICE", "cpu"))


def translator(ref: ModelRef) -> Translator:
    """The shared ``Translator`` of ``ref``; raises ``CheckpointError`` for a file that is not a checkpoint."""
    return shared_translator(ref.path, ref.mtime)


def checkpoint(ref: ModelRef) -> Checkpoint:
    """The loaded ``Checkpoint`` (model, tokenizers, config, step, metrics, history)."""
    return translator(ref).checkpoint


def or_stop(compute: Callable[..., R], ref: ModelRef, *args: Any) -> R:
    """``compute(ref.path, ref.mtime, *args)``, with the core's ValueErrors shown as a warning that ends the
    page instead of a traceback."""
    try:
        return compute(ref.path, ref.mtime, *args)
    except ValueError as err:
        st.warning(f"Cannot show this: {escape_md(err)}")
        st.stop()


# --------------------------------------------------------------------------------------- search
@st.cache_data(max_entries=64, show_spinner=False)
def _beam_search(path: str, mtime: float, sentence: str, beam_size: int, length_penalty: str, alpha: float,
                 nbest: int, prefix: str, stopping: str, what_if: tuple[int, str, int] | None = None,
                 fast: tuple[bool, bool] = (False, False)) -> BeamResult:
    constraints = None if what_if is None else {what_if[0]: {"force": what_if[2]} if what_if[1] == "force"
                                                             else {"block": [what_if[2]]}}
    return shared_translator(path, mtime).beam_search(sentence, beam_size=beam_size, nbest=nbest,
                                                      length_penalty=length_penalty, alpha=alpha,
                                                      prefix=prefix or None, stopping=stopping,
                                                      constraints=constraints,
                                                      fast=FastMode(int8=fast[0], shortlist=fast[1]))


def beam_search(ref: ModelRef, sentence: str, *, beam_size: int = 5, length_penalty: str = "none",
                alpha: float = 0.6, nbest: int = 5, prefix: str = "", stopping: str = "exact",
                what_if: tuple[int, str, int] | None = None, int8: bool = False,
                shortlist: bool = False) -> BeamResult:
    """Beam search with its full trace (``beam_size=1`` is greedy). ``what_if`` = (step, "force" | "block",
    token id): the token what-if (step 0 = the first target token); the core's ValueErrors end the page with a
    warning. ``int8``, ``shortlist``: fast mode (``nmt_core.fast_mode``)."""
    return or_stop(_beam_search, ref, sentence, beam_size, length_penalty, alpha, nbest, prefix, stopping, what_if,
                   (int8, shortlist))


@st.cache_data(max_entries=64, show_spinner=False)
def _translation(path: str, mtime: float, sentence: str) -> str:
    result = shared_translator(path, mtime).beam_search(sentence, beam_size=1, nbest=1, record=False)
    return result.hypotheses[0].text if result.hypotheses else ""


def translation(ref: ModelRef, sentence: str) -> str:
    """The model's greedy translation (beam of one); "" when the search finds none."""
    return _translation(ref.path, ref.mtime, sentence)


@st.cache_data(max_entries=64, show_spinner=False)
def _diagnosis(path: str, mtime: float, sentence: str, translation: str, beam_size: int, length_penalty: str,
               alpha: float) -> Diagnosis:
    return shared_translator(path, mtime).diagnose(sentence, translation, beam_size=beam_size,
                                                   length_penalty=length_penalty, alpha=alpha)


def diagnosis(ref: ModelRef, sentence: str, translation: str, beam_size: int, length_penalty: str = "none",
              alpha: float = 0.6) -> Diagnosis:
    """Score a user's translation token by token and compare it with the search's best: search error or
    model error?"""
    return or_stop(_diagnosis, ref, sentence, translation, beam_size, length_penalty, alpha)


# --------------------------------------------------------------------------------------- inspection
@st.cache_data(max_entries=32, show_spinner=False)
def _attention(path: str, mtime: float, sentence: str, target: str) -> inspection.AttentionResult:
    ckpt = shared_translator(path, mtime).checkpoint
    return inspection.attention_matrix(ckpt.model, ckpt.tokenizers, sentence, target)


def attention(ref: ModelRef, sentence: str, target: str) -> inspection.AttentionResult:
    """The attention weights while the decoder is teacher-forced on ``target``."""
    return or_stop(_attention, ref, sentence, target)


@st.cache_data(max_entries=64, show_spinner=False)
def _own_translation(path: str, mtime: float, sentence: str) -> str:
    ckpt = shared_translator(path, mtime).checkpoint
    return prepare(ckpt.model, ckpt.tokenizers, sentence).tgt_text


def own_translation(ref: ModelRef, sentence: str) -> str:
    """The greedy translation gates, gradient flow and attribution teacher-force (``prepare``), without their work."""
    return or_stop(_own_translation, ref, sentence)


@st.cache_data(max_entries=32, show_spinner=False)
def _gates(path: str, mtime: float, sentence: str, target: str | None) -> inspection.GateResult:
    ckpt = shared_translator(path, mtime).checkpoint
    return inspection.gate_trace(ckpt.model, ckpt.tokenizers, sentence, target)


def gates(ref: ModelRef, sentence: str, target: str | None = None) -> inspection.GateResult:
    """Every gate of every recurrent layer (replayed); the decoder runs on ``target`` or its own translation."""
    return or_stop(_gates, ref, sentence, target)


@st.cache_data(max_entries=32, show_spinner=False)
def _gradient_flow(path: str, mtime: float, sentence: str, target: str | None) -> inspection.GradientFlowResult:
    ckpt = shared_translator(path, mtime).checkpoint
    return inspection.gradient_flow(ckpt.model, ckpt.tokenizers, sentence, target)


def gradient_flow(ref: ModelRef, sentence: str, target: str | None = None) -> inspection.GradientFlowResult:
    """‖dL/dh_t‖ at every step and the target-by-source salience of the sentence's loss."""
    return or_stop(_gradient_flow, ref, sentence, target)


@st.cache_data(max_entries=32, show_spinner=False)
def _gate_clamp(path: str, mtime: float, sentence: str, side: str, layer: int, direction: int, gate: str, unit: int,
                value: float) -> inspection.InterventionResult:
    ckpt = shared_translator(path, mtime).checkpoint
    clamp = inspection.clamp_gate(side, layer, direction, gate, unit, value)
    return inspection.intervene(ckpt.model, ckpt.tokenizers, sentence, clamp)


def gate_clamp(ref: ModelRef, sentence: str, side: str, layer: int, direction: int, gate: str, unit: int,
               value: float) -> inspection.InterventionResult:
    """Translate again with one gate of one unit held at ``value`` at every step."""
    return or_stop(_gate_clamp, ref, sentence, side, layer, direction, gate, unit, value)


@st.cache_data(max_entries=32, show_spinner=False)
def _source_blocking(path: str, mtime: float, sentence: str,
                     positions: tuple[int, ...]) -> inspection.InterventionResult:
    ckpt = shared_translator(path, mtime).checkpoint
    return inspection.intervene(ckpt.model, ckpt.tokenizers, sentence, Intervention(blocked_source=positions))


def source_blocking(ref: ModelRef, sentence: str, positions: tuple[int, ...]) -> inspection.InterventionResult:
    """Translate again with the source ``positions`` hidden from attention."""
    return or_stop(_source_blocking, ref, sentence, tuple(positions))
