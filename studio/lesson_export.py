"""The "lesson file" button: every view of the current sentence as one HTML file that opens offline.

It sits in the sidebar of every sentence page (``sentences.sentence_box`` draws it), so a teacher exports
whichever sentence the class is looking at. The file is built only when the button is pressed, from the same
cached results the pages show (``nmt_core.lesson`` writes the page).
"""

from __future__ import annotations

import re

import streamlit as st

from nmt_core.inspection.attribution import METHODS
from nmt_core.inspection.cell import cell_steps, liveliest_unit
from nmt_core.lesson import Lesson, lesson_html
from studio import explainers, models
from studio.models import ModelRef

LESSON_BEAM_SIZE, LESSON_IG_STEPS = 5, 16


def build(ref: ModelRef, sentence: str) -> str:
    """The lesson page for ``sentence`` on ``ref`` (linked views on the beam search's best translation)."""
    linked = explainers.linked(ref, sentence, LESSON_BEAM_SIZE, "h", 0)
    gates = models.gates(ref, sentence, linked.tgt_text)
    cell = cell_steps(gates, "encoder", liveliest_unit(gates, "encoder"))
    attribution = explainers.attribution(ref, sentence, METHODS[1], LESSON_IG_STEPS, linked.tgt_text)
    ckpt = models.checkpoint(ref)
    credits = str(ckpt.extra.get("attribution") or "")
    return lesson_html(Lesson(f"Lesson: {sentence}", sentence, ref.label, credits, linked, cell, attribution,
                              explainers.replay_for(ref, sentence)))


def file_name(sentence: str) -> str:
    """lesson-my-grandmother-likes-jazz.html: the first words, safe on every file system."""
    words = re.sub(r"[^\w]+", "-", sentence.lower(), flags=re.UNICODE).strip("-")[:40].strip("-")
    return f"lesson-{words or 'sentence'}.html"


def lesson_button(ref: ModelRef, sentence: str) -> None:
    """A download button that writes the lesson of ``sentence`` when pressed."""
    st.download_button("Lesson file (HTML, opens offline)", lambda: build(ref, sentence).encode("utf-8"),
                       file_name(sentence), "text/html", key="dl-lesson", on_click="ignore",
                       icon=":material/school:", help="Every view of this sentence in one file: linked views, "
                       "the beam search and the cell playable, attention vs attribution, coverage, and the training "
                       "replay when the model has one. No server, no network: hand it out as it is.")
