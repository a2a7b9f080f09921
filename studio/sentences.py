"""The source sentence: the box and example chips every inspection page starts from, the checks the core
makes on it (shown as notices, never silently), and the gold alignments of the built-in tasks.

The sentence lives in the URL (``?s=``) and is kept across pages, so Translate, Attention, Gates and
Gradient flow all look at the same sentence until the user changes it.
"""

from __future__ import annotations

import streamlit as st

from nmt_core import inspection, tasks
from nmt_core.corpus import parse_alignment
from nmt_core.inspection.sentence import MAX_PIECES
from nmt_core.notices import CheckedSource, check_source
from nmt_core.tasks.base import TaskInfo
from nmt_core.translator import MAX_INPUT_PIECES
from studio import lesson_export, models, state
from studio.display import escape_md
from studio.models import ModelRef


def task_info(ref: ModelRef) -> TaskInfo | None:
    """The built-in task the model was trained on, or None for user corpora."""
    data = models.checkpoint(ref).config.data
    if not data.task or data.corpus:
        return None
    try:
        return tasks.get_task(data.task).info
    except ValueError:
        return None


def examples(ref: ModelRef) -> list[str]:
    """Example sentences for this model: its built-in task's, or those stored in the checkpoint (shipped
    real-language models carry a few; a run trained in the studio stores its first dev sentences)."""
    info = task_info(ref)
    if info:
        return list(info.examples)
    ckpt = models.checkpoint(ref)
    stored = ckpt.extra.get("examples") or (ckpt.metrics.get("data") or {}).get("examples")
    return [str(s) for s in stored][:8] if isinstance(stored, list) else []


def _use_example() -> None:
    choice = st.session_state.get("example")
    if choice:
        st.session_state["s"] = choice


#: The longest sentence the box accepts (a widget bound; links are cut to it with a notice).
MAX_CHARS = 2000


def sentence_box(ref: ModelRef, label: str = "Sentence to translate") -> str | None:
    """The source sentence (URL key ``s``), with example chips. Returns the normalised sentence, cut to
    the inspection limit, or None (with a hint) when it is empty; every change on the way is shown
    (``source_notices``)."""
    chips = examples(ref)
    default = chips[0] if chips else ""
    if state.locked():
        text, notice = state.within_bounds("s", state.query_value("s", default), default, max_chars=MAX_CHARS)
        st.text(f"Sentence: {state.keep('s', text)}")
        if notice:
            st.warning(f"The link's sentence: {notice}", icon=":material/tune:")
    else:
        if st.session_state.get("example") not in chips:
            st.session_state.pop("example", None)  # a chip of the previous model
        if chips:
            st.pills("Examples", chips, key="example", on_change=_use_example,
                     help="Sentences from the data the model was trained or tested on.")
        text = state.control(st.text_area, label, "s", default, height=68, max_chars=MAX_CHARS)
    sentence = clean_sentence(ref, text)
    if sentence is not None:
        with st.sidebar:
            lesson_export.lesson_button(ref, sentence)
    return sentence


def clean_sentence(ref: ModelRef, text: str | None) -> str | None:
    """The sentence as every view will use it, after ``nmt_core.notices.check_source`` (the decision the
    CLI and the Python API make too), with its notices shown above the results."""
    if not (text or "").strip():
        st.info("Type a sentence (or pick an example) to see what the model does with it.")
        return None
    ckpt = models.checkpoint(ref)
    tok = ckpt.tokenizers.src
    checked = check_source(text, tok, max_pieces=min(MAX_PIECES, MAX_INPUT_PIECES), max_words=ckpt.training_max_words)
    if not checked.text:
        st.info("Nothing is left of this sentence after removing invisible characters: type some words.")
        source_notices(checked)
        return None
    source_notices(checked)
    return tok.decode(checked.ids) if checked.truncated else checked.text


def source_notices(checked: CheckedSource) -> None:
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


def gold_alignment(ref: ModelRef, sentence: str) -> tuple[str, set[tuple[int, int]]] | None:
    """(reference translation, gold (source word, target word) links) when the model's built-in task can
    translate ``sentence`` itself (toy-en-es, numbers-de, recall); None otherwise."""
    info = task_info(ref)
    task = tasks.get_task(info.name) if info else None
    if task is None or task.translate is None:
        return None
    try:
        reference, links = task.translate(sentence)
    except ValueError:
        return None
    return reference, set(parse_alignment(links))


def alignment_scores(result: inspection.AttentionResult,
                     links: set[tuple[int, int]]) -> inspection.AlignmentScores:
    """Precision, recall and AER of the attention's argmax alignment against gold links."""
    return inspection.alignment_scores(result.alignment(), links)
