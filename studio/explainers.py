"""Cached core results for the explainer pages (attribution, linked views, training replay), shared by sessions.

Like ``studio.models``: one ``st.cache_data`` function per result, keyed by the checkpoint's path and mtime and
the page's choices, so a class typing the same example sentence computes it once.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from nmt_core.inspection.attribution import AttributionResult
from nmt_core.inspection.attribution import attribution as compute_attribution
from nmt_core.inspection.linked import linked_sentence
from nmt_core.inspection.training_replay import TrainingReplay, load_json, training_replay
from nmt_core.snapshots import Snapshot, list_snapshots
from nmt_core.viz.linked import LinkedSentence
from studio import models
from studio.models import ModelRef, or_stop, shared_translator


@st.cache_data(max_entries=32, show_spinner="Computing gradients…")
def _attribution(path: str, mtime: float, sentence: str, method: str, steps: int,
                 target: str | None) -> AttributionResult:
    ckpt = shared_translator(path, mtime).checkpoint
    return compute_attribution(ckpt.model, ckpt.tokenizers, sentence, target, method=method, steps=steps)


def attribution(ref: ModelRef, sentence: str, method: str, steps: int, target: str | None = None) -> AttributionResult:
    """Attribution of ``target`` (the model's own greedy translation by default) to the source tokens."""
    return or_stop(_attribution, ref, sentence, method, steps, target)


@st.cache_data(max_entries=32, show_spinner="Searching and inspecting…")
def _linked(path: str, mtime: float, sentence: str, beam_size: int, gate: str, layer: int) -> LinkedSentence:
    return linked_sentence(shared_translator(path, mtime), sentence, beam_size=beam_size, gate=gate, layer=layer)


def linked(ref: ModelRef, sentence: str, beam_size: int, gate: str, layer: int) -> LinkedSentence:
    """Every view of ``sentence`` on the beam search's best translation (see ``inspection.linked``)."""
    return or_stop(_linked, ref, sentence, beam_size, gate, layer)


# --------------------------------------------------------------------------------------- training replay
def snapshots_of(ref: ModelRef) -> list[Snapshot]:
    """The snapshots of the run ``ref`` is the best checkpoint of (none for shipped or uploaded models), before
    its step: the run's best checkpoint itself is the replay's last frame."""
    path = Path(ref.path)
    if path.name != "best.pt":
        return []
    final_step = models.checkpoint(ref).step
    return [s for s in list_snapshots(path.parent) if s.step < final_step]


def stored_replays_path(ref: ModelRef) -> Path:
    """Where a shipped model keeps the replays of its example sentences: ``<checkpoint>.replay.json``."""
    return Path(ref.path).with_suffix(".replay.json")


@st.cache_data(max_entries=16, show_spinner="Replaying the sentence through the run's snapshots…")
def _training_replay(path: str, mtime: float, sentence: str, steps: tuple[int, ...]) -> TrainingReplay:
    final = shared_translator(path, mtime).checkpoint
    snaps = [s.load() for s in list_snapshots(Path(path).parent) if s.step in steps]
    return training_replay(snaps, final, sentence)


def live_replay(ref: ModelRef, sentence: str) -> TrainingReplay | None:
    """The replay of any sentence on a run with snapshots, or None when the model has none."""
    steps = tuple(s.step for s in snapshots_of(ref))
    return or_stop(_training_replay, ref, sentence, steps) if steps else None


@st.cache_data(max_entries=8, show_spinner=False)
def _stored_replays(path: str, mtime: float) -> list[TrainingReplay]:
    return load_json(path)


def stored_replays(ref: ModelRef) -> list[TrainingReplay]:
    """The replays shipped beside a model (its example sentences), or [] when there is no such file."""
    path = stored_replays_path(ref)
    if not path.is_file():
        return []
    try:
        return _stored_replays(str(path), path.stat().st_mtime)
    except ValueError as err:
        st.warning(f"The stored training replay cannot be read: {err}")
        return []


def replay_for(ref: ModelRef, sentence: str) -> TrainingReplay | None:
    """The replay of ``sentence``: live on a run with snapshots, else stored when it is one of the stored ones."""
    live = live_replay(ref, sentence)
    if live is not None:
        return live
    return next((r for r in stored_replays(ref) if r.sentence == sentence), None)
