"""The "lesson file" button: every view of the current sentence as one HTML file that opens offline.

It sits in the sidebar of every sentence page (``sentences.sentence_box`` draws it), so a teacher exports
whichever sentence the class is looking at. The file is built only when the button is pressed, by the core's
``nmt_core.lesson`` (the same functions the pages and ``python -m nmt_core lesson`` use).
"""

from __future__ import annotations

import dataclasses
import re

import streamlit as st

from nmt_core.lesson import lesson_html, make_lesson
from studio import explainers, models
from studio.models import ModelRef


def build(ref: ModelRef, sentence: str) -> str:
    """The lesson page for ``sentence`` on ``ref`` (``nmt_core.lesson.make_lesson``, the CLI's ``lesson`` too),
    with the training replay when the model has one for this sentence."""
    lesson = make_lesson(models.translator(ref), sentence, replay=explainers.replay_for(ref, sentence))
    return lesson_html(dataclasses.replace(lesson, model=ref.label))


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
