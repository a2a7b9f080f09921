"""A lesson as one file: every view of one sentence in a self-contained HTML page that opens from disk.

Why one file: a teacher hands 300 students a file through a learning platform, and some of them open it on a
train. So the page carries its own JavaScript (Vega, Vega-Lite and vega-embed, bundled by vl-convert, the
library Altair already uses to export charts), its data and its styles; it loads nothing from the network. The
charts are the studio's own Altair charts; what moves (the beam search step by step, the training replay, the
cell) moves in the browser: the slider parameters of ``viz.beam_tree_animation`` and
``viz.training_replay_chart`` and the cell player's own script, with a Play button for each.

Every embedded chart's Vega view is kept in ``window.lessonViews[name]`` (the browser test drives them there).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass

import altair as alt

from .inspection.attribution import METHODS, AttributionResult, attribution, coverage
from .inspection.cell import CellStep, cell_steps, liveliest_unit
from .inspection.gates import gate_trace
from .inspection.linked import LinkedSentence, linked_sentence
from .inspection.training_replay import TrainingReplay
from .translator import Translator
from .viz import attribution_heatmap, beam_tree_animation, cell_player, coverage_chart, matrix_heatmap
from .viz.cell import player_height
from .viz.linked import linked_views
from .viz.training_replay import training_replay_chart


@dataclass(frozen=True, eq=False)
class Lesson:
    title: str
    sentence: str  # the source sentence as the user typed it
    model: str  # the model's name and a one-line description
    credits: str  # the data's licence and attribution ("" for generated data)
    linked: LinkedSentence
    cell: list[CellStep]  # one unit of one layer, every step (the cell player)
    attribution: AttributionResult | None = None
    replay: TrainingReplay | None = None


LESSON_BEAM_SIZE, LESSON_IG_STEPS = 5, 16  # the search a class sees first; integrated gradients' path steps


def make_lesson(translator: Translator, sentence: str, *, beam_size: int = LESSON_BEAM_SIZE,
                ig_steps: int = LESSON_IG_STEPS, replay: TrainingReplay | None = None) -> Lesson:
    """Every view of ``sentence`` on the beam search's best translation: the linked views, the cell of the encoder
    unit that moves most, integrated gradients beside attention, and ``replay`` when the model has one.
    ``sentence`` is used as the studio and the CLI read it (``Translator.prepare``: normalised, cut)."""
    checked = translator.prepare(sentence)
    source = translator.tokenizers.src.decode(checked.ids) if checked.truncated else checked.text
    linked = linked_sentence(translator, source, beam_size=beam_size)
    ckpt = translator.checkpoint
    gates = gate_trace(ckpt.model, ckpt.tokenizers, source, linked.tgt_text)
    cell = cell_steps(gates, "encoder", liveliest_unit(gates, "encoder"))
    attributed = attribution(ckpt.model, ckpt.tokenizers, source, linked.tgt_text, method=METHODS[1], steps=ig_steps)
    return Lesson(f"Lesson: {source}", source, ckpt.config.name, str(ckpt.extra.get("attribution") or ""), linked,
                  cell, attributed, replay)


def _section(name: str, title: str, text: str, chart: alt.TopLevelMixin | None = None, play: str | None = None,
             body: str = "") -> tuple[str, tuple[str, dict] | None]:
    button = f'<button class="play" data-view="{name}" data-param="{play}">▶ play</button>' if play else ""
    div = f'<div id="{name}"></div>' if chart is not None else ""
    block = (f'<section><h2>{html.escape(title)}</h2><p>{html.escape(text)}</p>{button}{div}{body}</section>')
    return block, ((name, chart.to_dict()) if chart is not None else None)


def lesson_html(lesson: Lesson) -> str:
    """The whole lesson page (a string of HTML, a few MB at most, nothing fetched when opened)."""
    import vl_convert as vlc

    s = lesson.linked
    parts = [_section("linked", "Every view, linked", "Hover a word of the translation (vermillion) or of the "
                      "source (blue): its attention row or column, its salience, the decoder's and encoder's states "
                      "and its node in the beam tree light up together.", linked_views(s)),
             _section("beam", "Beam search, step by step", "Each step keeps the k most probable prefixes and prunes "
                      "the rest (grey); drag the slider or press play.", beam_tree_animation(s.trace),
                      play="beam_step")]
    player = html.escape(cell_player(lesson.cell), quote=True)
    parts.append(_section("cell", "The cell, live", "One unit of one recurrent cell with the model's own numbers at "
                          "every step: the gates, the cell update and the new hidden state.", body=(
                              f'<iframe title="cell player" srcdoc="{player}" '
                              f'style="width:780px;height:{player_height(lesson.cell)}px;border:0"></iframe>')))
    if lesson.attribution is not None and lesson.attribution.attention is not None:
        a = lesson.attribution
        pair = alt.hconcat(matrix_heatmap(a.attention, a.src_pieces, a.tgt_pieces, title="Attention", cell=36),
                           attribution_heatmap(a)).resolve_scale(color="independent")
        parts.append(_section("attribution", "Attention vs attribution", "Where the decoder looked (left) and how "
                              "much each source word changes the probability of each output word (right).", pair))
        parts.append(_section("coverage", "Coverage", "Total attention each source word received: near zero, "
                              "perhaps dropped; far above one, perhaps translated twice.",
                              coverage_chart(coverage(a.attention, a.src_pieces))))
    if lesson.replay is not None:
        parts.append(_section("replay", "Training replay", "The same sentence through the model's snapshots during "
                              "training: watch the attention sharpen and the translation form.",
                              training_replay_chart(lesson.replay), play="snapshot"))
    specs = dict(spec for _, spec in parts if spec is not None)
    return _PAGE.format(
        title=html.escape(lesson.title), model=html.escape(lesson.model), credits=html.escape(lesson.credits),
        sentence=html.escape(lesson.sentence), translation=html.escape(s.tgt_text),
        sections="".join(block for block, _ in parts), bundle=vlc.javascript_bundle(vl_version=_vl_version()),
        specs=json.dumps(specs).replace("</", "<\\/"))


def _vl_version() -> str:
    """The Vega-Lite version Altair writes its specs for, as vl-convert names it (e.g. "v6_4")."""
    major, minor = alt.SCHEMA_VERSION.lstrip("v").split(".")[:2]
    return f"v{major}_{minor}"


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1300px;margin:24px auto;padding:0 16px;color:#222}}
section{{margin:28px 0}} h2{{border-bottom:1px solid #ddd}} .play{{font-size:15px;margin:4px 0}}
.meta{{color:#555}}</style>
<script>{bundle}</script></head><body>
<h1>{title}</h1><p class="meta">Model: {model}. {credits}</p>
<p><b>Source:</b> {sentence}<br><b>Translation:</b> {translation}</p>
{sections}
<p class="meta">Made with NMT Studio. Opens offline: everything it needs is inside this file.</p>
<script>
window.lessonViews = {{}};
const specs = {specs};
window.lessonReady = Promise.all(Object.entries(specs).map(([name, spec]) =>
  vegaEmbed('#' + name, spec, {{actions: false, renderer: 'svg'}})
    .then(r => {{ window.lessonViews[name] = r.view; }})));
document.querySelectorAll('button.play').forEach(button => button.addEventListener('click', async () => {{
  await window.lessonReady;
  const view = window.lessonViews[button.dataset.view], param = button.dataset.param;
  const max = +document.querySelector('#' + button.dataset.view + ' input[type=range]').max;
  for (let k = 0; k <= max; k++) {{
    await view.signal(param, k).runAsync();
    await new Promise(r => setTimeout(r, 700));
  }}
}}));
</script></body></html>"""
